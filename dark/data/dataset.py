"""dark.data.dataset (being written)."""
__all__: list = []
