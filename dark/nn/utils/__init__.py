"""dark.nn.utils: gradient clipping, parameter/vector conversion, rnn sequence packing;
parametrize, parametrizations and the hook-based weight_norm / spectral_norm (these stand
on nn.modules, whose rnn imports nn.utils.rnn, so dark.nn's __init__ imports them into this
namespace once nn.modules exists)."""
from . import clip_grad, convert_parameters, rnn  # noqa: F401
from .clip_grad import *  # noqa: F403
from .convert_parameters import *  # noqa: F403
