"""dark.data.collate (being written)."""
__all__: list = []
