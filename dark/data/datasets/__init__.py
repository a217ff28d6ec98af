"""dark.data.datasets (being written)."""
