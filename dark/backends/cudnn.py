"""dark.backends.cudnn: torch.backends.cudnn's flags and queries.

``enabled`` (True), ``benchmark`` (False), ``deterministic`` (False) and ``allow_tf32``
(True) are plain module attributes a program may set; dark's convolutions do not use cuDNN,
so they change nothing. is_available() and version() answer from CuPy's cuDNN bindings:
False and None without CuPy, a GPU or cuDNN."""
from __future__ import annotations

from .. import _backend

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def _cudnn():
    if not _backend.cuda_available():
        return None
    try:
        from cupy.cuda import cudnn as module  # optional: present when CuPy has cuDNN
    except (ImportError, OSError):  # no cuDNN in this CuPy, or its library is missing
        return None
    return module


def is_available() -> bool:
    """Whether cuDNN can be used (through CuPy)."""
    return _cudnn() is not None


def version():
    """cuDNN's version as an int (e.g. 90100), or None without cuDNN."""
    module = _cudnn()
    return None if module is None else int(module.getVersion())
