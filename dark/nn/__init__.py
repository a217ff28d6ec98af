"""dark.nn: Module, Parameter, layers, losses, functional, init, utils."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F403
from .parameter import *  # noqa: F403
from . import parallel  # noqa: E402, F401 - nn.parallel (DistributedDataParallel ...)
from .parallel import DataParallel  # noqa: E402
# nn.utils' parametrizations stand on nn.modules (which imports nn.utils.rnn): imported once
# nn.modules exists; the hook-based weight_norm / spectral_norm functions (not their
# modules) are the names nn.utils exports, as torch's
from .utils import parametrizations, parametrize  # noqa: E402, F401
from .utils import spectral_norm as _spectral_norm  # noqa: E402
from .utils import weight_norm as _weight_norm  # noqa: E402

for _name, _value in (("spectral_norm", _spectral_norm.spectral_norm),
                      ("remove_spectral_norm", _spectral_norm.remove_spectral_norm),
                      ("weight_norm", _weight_norm.weight_norm),
                      ("remove_weight_norm", _weight_norm.remove_weight_norm)):
    setattr(utils, _name, _value)
del _name, _value, _spectral_norm, _weight_norm, parametrizations, parametrize
