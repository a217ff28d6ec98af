"""detect_anomaly: check every backward output for NaN and name the op that produced it."""
from __future__ import annotations

import warnings

from .function import _anomaly
from .grad_mode import _DecoratorContextManager


class detect_anomaly(_DecoratorContextManager):
    """Inside the block, forward ops record where they were created and backward raises
    ``RuntimeError("Function 'XBackward0' returned nan values in its 0th output.")``."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self.prev = False
        self.prev_check_nan = True
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the "
                      "runtime and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.prev, self.prev_check_nan = _anomaly.enabled, _anomaly.check_nan
        _anomaly.enabled, _anomaly.check_nan = True, self.check_nan

    def __exit__(self, *exc) -> None:
        _anomaly.enabled, _anomaly.check_nan = self.prev, self.prev_check_nan

    def clone(self):
        return type(self)(self.check_nan)


class set_detect_anomaly:
    """Turn anomaly detection on or off (at once, and restored on exit as a context)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = _anomaly.enabled, _anomaly.check_nan
        _anomaly.enabled, _anomaly.check_nan = bool(mode), check_nan

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _anomaly.enabled, _anomaly.check_nan = self.prev, self.prev_check_nan


def is_anomaly_enabled() -> bool:
    return _anomaly.enabled
