"""dark.nn: Module, Parameter, layers, losses, functional, init, utils."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F403
from .parameter import *  # noqa: F403
from . import parallel  # noqa: E402, F401 - nn.parallel (DistributedDataParallel ...)
from .parallel import DataParallel  # noqa: E402
