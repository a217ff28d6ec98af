"""sampling ops for dark.nn.functional (being written). `__all__` lists the nn.functional names."""
from __future__ import annotations

__all__: list = []
