"""dark.data.sampler (being written)."""
__all__: list = []
