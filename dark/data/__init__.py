"""dark.data: datasets, samplers, DataLoader, collate, transforms (also dark.utils.data)."""
from .collate import *  # noqa: F403
from .dataloader import *  # noqa: F403
from .dataset import *  # noqa: F403
from .sampler import *  # noqa: F403
from . import datasets, models, transforms  # noqa: F401
from .utils import *  # noqa: F403

__all__ = [name for name in dir() if not name.startswith("_")]
# torchvision.io's image reading; not in __all__, so that a star import of dark.data (or
# dark.utils.data) does not shadow Python's io module
from . import io  # noqa: E402, F401
