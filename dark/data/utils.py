"""dark.data.utils (being written)."""
__all__: list = []
