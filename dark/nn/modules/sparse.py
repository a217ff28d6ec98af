"""nn.modules.sparse (being written)."""
from __future__ import annotations

__all__: list = []
