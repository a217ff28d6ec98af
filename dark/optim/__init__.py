"""dark.optim: optimizers and learning-rate schedulers (being written)."""
