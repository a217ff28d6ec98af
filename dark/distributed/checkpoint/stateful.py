"""``torch.distributed.checkpoint.stateful``: objects with ``state_dict`` /
``load_state_dict`` that DCP saves through their state_dict."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Stateful"]


@runtime_checkable
class Stateful(Protocol):
    def state_dict(self) -> dict: ...

    def load_state_dict(self, state_dict: dict) -> None: ...
