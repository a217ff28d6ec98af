"""dark.nn.functional (torch.nn.functional): the functional form of every layer and loss,
one module per family, each holding its ops (Op classes) and PyTorch-facing functions; the
raw-array kernels they call live in dark._kernels."""
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .attention import _canonical_mask  # noqa: F401
from .conv import *  # noqa: F403
from .ctc import *  # noqa: F403
from .distance import *  # noqa: F403
from .dropouts import *  # noqa: F403
from .linear_maps import *  # noqa: F403
from .loss import *  # noqa: F403
from .normalization import *  # noqa: F403
from .padding import *  # noqa: F403
from .pooling import *  # noqa: F403
from .resampling import *  # noqa: F403
from .sparse import *  # noqa: F403
from .vision import *  # noqa: F403
