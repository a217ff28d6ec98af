"""dark.amp: automatic mixed precision as torch.amp: ``autocast`` regions (torch's per-op cast
lists, applied in the op dispatch) and ``GradScaler`` (dynamic loss scaling). bfloat16
tensors themselves are ``dark.bfloat16`` (needs the optional ml_dtypes package)."""
from . import _dispatch  # noqa: F401 - installs the bfloat16 hook of the op dispatch
from .autocast_mode import (autocast, clear_autocast_cache, custom_bwd, custom_fwd,
                            get_autocast_dtype, is_autocast_available,
                            is_autocast_cache_enabled, is_autocast_enabled,
                            set_autocast_cache_enabled, set_autocast_dtype,
                            set_autocast_enabled)
from .grad_scaler import GradScaler, OptState

__all__ = ["GradScaler", "OptState", "autocast", "clear_autocast_cache", "custom_bwd",
           "custom_fwd", "get_autocast_dtype", "is_autocast_available",
           "is_autocast_cache_enabled", "is_autocast_enabled", "set_autocast_cache_enabled",
           "set_autocast_dtype", "set_autocast_enabled"]
