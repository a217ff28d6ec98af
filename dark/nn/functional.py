"""dark.nn.functional: the functional form of every layer and loss (thin: the ops live in
dark.ops)."""
from ..ops.activation import *  # noqa: F403
from ..ops.attention import *  # noqa: F403
from ..ops.attention import _canonical_mask  # noqa: F401
from ..ops.conv import *  # noqa: F403
from ..ops.ctc import *  # noqa: F403
from ..ops.embedding_bag import *  # noqa: F403
from ..ops.loss import *  # noqa: F403
from ..ops.nn_ops import *  # noqa: F403
from ..ops.pooling import *  # noqa: F403
from ..ops.sampling import *  # noqa: F403
