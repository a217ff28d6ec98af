"""dark.backends.mkldnn: oneDNN (MKL-DNN), which dark does not use. ``enabled`` is a plain
flag a program may set; it changes nothing."""
from __future__ import annotations

enabled = True


def is_available() -> bool:
    """Always False: dark's CPU ops run on numpy, not oneDNN."""
    return False
