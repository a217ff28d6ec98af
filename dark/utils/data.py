"""``dark.utils.data``: the same objects as dark.data."""
from ..data import *  # noqa: F403
from ..data import __all__  # noqa: F401
