"""nn.Parameter (being written)."""
