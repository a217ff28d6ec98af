"""dark.backends: torch.backends' flags and queries (cudnn, mps, mkldnn), and the global
switches torch keeps beside them: deterministic algorithms and float32 matmul precision.

dark computes on numpy and CuPy: these flags are recorded and answered as torch does, and
change no computation (dark's ops are deterministic on the CPU already)."""
from __future__ import annotations

import warnings

from . import cudnn, mkldnn, mps

__all__ = ["are_deterministic_algorithms_enabled", "cudnn", "get_float32_matmul_precision",
           "is_deterministic_algorithms_warn_only_enabled", "mkldnn", "mps",
           "set_float32_matmul_precision", "use_deterministic_algorithms"]

_deterministic = {"mode": False, "warn_only": False}
_matmul_precision = ["highest"]


def _check_bool(value, name: str, position: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument '{name}'{position} must be "
                        f"bool, not {type(value).__name__}")


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record whether deterministic algorithms are required (``mode``) and whether a
    nondeterministic one only warns (``warn_only``), as torch.use_deterministic_algorithms.
    dark's CPU ops are deterministic; the flags are kept for the programs that read them."""
    _check_bool(mode, "mode", " (position 1)")
    _check_bool(warn_only, "warn_only", "")
    _deterministic["mode"] = mode
    _deterministic["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    """Record the float32 matmul precision ('highest', 'high' or 'medium'), as torch's.
    It has no effect on numpy (float32 products are always computed in float32); an unknown
    value warns and is ignored, as in torch."""
    if not isinstance(precision, str):
        raise RuntimeError(
            f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    """The float32 matmul precision last set ('highest' by default)."""
    return _matmul_precision[0]
