"""dark.data.dataloader (being written)."""
__all__: list = []
