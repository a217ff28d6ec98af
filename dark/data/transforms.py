"""dark.data.transforms (being written)."""
__all__: list = []
