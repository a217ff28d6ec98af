"""The deprecated spellings ``dark.cuda.amp`` and ``dark.cpu.amp`` (``autocast``,
``GradScaler``), with torch's FutureWarnings: ``cuda_amp`` and ``cpu_amp`` are the modules
``dark.cuda.amp`` and ``dark.cpu.amp``."""
from __future__ import annotations

import types
import warnings

from .. import _backend
from . import autocast_mode, grad_scaler


def _warn(name: str, device: str) -> None:
    """torch's FutureWarning for ``dark.<device>.amp.<name>(args...)``."""
    warnings.warn(f"`dark.{device}.amp.{name}(args...)` is deprecated. Please use "
                  f"`dark.amp.{name}('{device}', args...)` instead.", FutureWarning,
                  stacklevel=3)


class _CudaAutocast(autocast_mode.autocast):
    """See dark.autocast. ``dark.cuda.amp.autocast(args...)`` is deprecated: use
    ``dark.amp.autocast("cuda", args...)``."""

    def __init__(self, enabled: bool = True, dtype=_backend.float16,
                 cache_enabled: bool = True):
        _warn("autocast", "cuda")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class _CpuAutocast(autocast_mode.autocast):
    """See dark.autocast. ``dark.cpu.amp.autocast(args...)`` is deprecated: use
    ``dark.amp.autocast("cpu", args...)``."""

    def __init__(self, enabled: bool = True, dtype=_backend.bfloat16,
                 cache_enabled: bool = True):
        _warn("autocast", "cpu")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class _CudaGradScaler(grad_scaler.GradScaler):
    """See dark.amp.GradScaler. ``dark.cuda.amp.GradScaler(args...)`` is deprecated."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        _warn("GradScaler", "cuda")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)


class _CpuGradScaler(grad_scaler.GradScaler):
    """See dark.amp.GradScaler. ``dark.cpu.amp.GradScaler(args...)`` is deprecated."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        _warn("GradScaler", "cpu")
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)


for _cls, _module in ((_CudaAutocast, "cuda"), (_CpuAutocast, "cpu"),
                      (_CudaGradScaler, "cuda"), (_CpuGradScaler, "cpu")):
    _cls.__name__ = _cls.__qualname__ = _cls.__name__.replace("_Cuda", "").replace(
        "_Cpu", "").replace("Autocast", "autocast")
    _cls.__module__ = f"dark.{_module}.amp"

cuda_amp = types.ModuleType("dark.cuda.amp", "Deprecated: dark.amp with device 'cuda'.")
cuda_amp.autocast, cuda_amp.GradScaler = _CudaAutocast, _CudaGradScaler
cpu_amp = types.ModuleType("dark.cpu.amp", "Deprecated: dark.amp with device 'cpu'.")
cpu_amp.autocast, cpu_amp.GradScaler = _CpuAutocast, _CpuGradScaler
