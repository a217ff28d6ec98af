"""dark.save / dark.load (being written)."""
