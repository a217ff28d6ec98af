"""dark: a deep-learning framework on numpy (CPU) and CuPy (GPU) with PyTorch's API."""
from . import _memory
_memory.tune_malloc()
from . import _backend
from ._backend import bfloat16  # noqa: E402 - ml_dtypes is imported only when it is used
from ._backend import (bool_ as bool, complex64, complex128, device, dtype, float16,
                       float32, float64, get_default_dtype, int8, int16, int32, int64,
                       promote_types, set_default_dtype, uint8)
from ._tensor import Size, Tensor
from . import ops
from .ops.creation import *  # noqa: F403
from .ops.elementwise import *  # noqa: F403
from .ops.indexing import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.linalg_ops import (_cholesky_legacy as cholesky, _cross_legacy as cross,
                             _qr_legacy as qr, _slogdet_legacy as slogdet,
                             _svd_legacy as svd, cdist, chain_matmul, cholesky_inverse,
                             cholesky_solve, det, logdet, matrix_exp, matrix_power, pinverse,
                             trace, tril_indices, triu_indices)
from .ops.special import *  # noqa: F403
from .ops.complex import (angle, complex, conj, imag, polar, real, view_as_complex,
                          view_as_real)
from .ops.random import *  # noqa: F403
from .ops.reduction import *  # noqa: F403
from .ops.shape import *  # noqa: F403
from .random import *  # noqa: F403
from . import autograd, cuda, linalg, version
from .version import __version__  # noqa: E402 - the installed distribution's
from . import fft, special  # noqa: E402
from . import sparse  # noqa: E402 - sparse COO tensors (dark._sparse holds their storage)
from .sparse import layout, sparse_coo, sparse_coo_tensor, spmm, strided  # noqa: E402
from .autograd import functional as _functional  # noqa: E402, F401 - dark.autograd.functional
from ._backend import get_default_device, set_default_device
from ._legacy import *  # noqa: F403 - FloatTensor ..., set_default_tensor_type
from ._tensor_str import set_printoptions
from .autograd.anomaly_mode import is_anomaly_enabled
from . import nn  # noqa: E402 - nn stands on the ops above
from . import optim  # noqa: E402
from . import distributions  # noqa: E402
from . import data, utils  # noqa: E402
from . import multiprocessing  # noqa: E402
from . import distributed  # noqa: E402 - dark.distributed (MPI is loaded only when used)
from .utils import data as _utils_data  # noqa: E402 - sets dark.utils.data
from .utils import dlpack as _utils_dlpack  # noqa: E402 - sets dark.utils.dlpack
from .utils import checkpoint as _checkpoint  # noqa: E402, F401 - dark.utils.checkpoint
from .utils.dlpack import from_dlpack  # noqa: E402
from .serialization import *  # noqa: E402, F403
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from ._parallel import get_num_threads, set_num_threads

del _utils_data

half = float16
float = float32
double = float64
short = int16
int = int32
long = int64
cfloat = complex64
cdouble = complex128


def result_type(tensor1, tensor2) -> dtype:
    """The dtype an op on these two operands gives (PyTorch's promotion rules)."""
    return _backend.result_type(tensor1, tensor2)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()

from . import accelerator, backends, jit, testing  # noqa: E402
from . import hub  # noqa: E402
from . import func  # noqa: E402 - torch.func's transforms (stands on nn)
from . import onnx  # noqa: E402 - torch.onnx export (the onnx package is loaded only when used)
from .utils import model_zoo as _model_zoo  # noqa: E402, F401 - sets dark.utils.model_zoo
from ._compile import compile  # noqa: E402
from ._dtype_info import finfo, iinfo  # noqa: E402
from . import amp, cpu  # noqa: E402
from .amp import (autocast, get_autocast_dtype, is_autocast_available,  # noqa: E402
                  is_autocast_enabled, set_autocast_dtype, set_autocast_enabled)
from .backends import (are_deterministic_algorithms_enabled,  # noqa: E402
                       get_float32_matmul_precision,
                       is_deterministic_algorithms_warn_only_enabled,
                       set_float32_matmul_precision, use_deterministic_algorithms)
