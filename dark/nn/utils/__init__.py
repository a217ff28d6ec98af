"""dark.nn.utils: gradient clipping, parameter/vector conversion, rnn sequence packing."""
from . import clip_grad, convert_parameters, rnn  # noqa: F401
from .clip_grad import *  # noqa: F403
from .convert_parameters import *  # noqa: F403
