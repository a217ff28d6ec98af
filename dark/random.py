"""Random number generation: manual_seed, Generator, seed, initial_seed (being written)."""
from __future__ import annotations

__all__: list = []
