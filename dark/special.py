"""dark.special: the torch.special namespace (kernels and backward in dark.ops.special)."""
from .ops.elementwise import erf, exp2, expm1, log1p, round
from .ops.elementwise import sigmoid as expit
from .ops.reduction import log_softmax as _log_softmax
from .ops.reduction import logsumexp
from .ops.reduction import softmax as _softmax
from .ops.special import (
    digamma,
    entr,
    erfc,
    erfcx,
    erfinv,
    gammainc,
    gammaincc,
    i0,
    i0e,
    i1,
    i1e,
    log_ndtr,
    logit,
    mvlgamma,
    ndtr,
    ndtri,
    polygamma,
    sinc,
    xlog1py,
    zeta,
)
from .ops.special import lgamma as gammaln
from .ops.special import (
    special_xlogy as xlogy,
)

psi = digamma


def multigammaln(input, p: int, *, out=None):
    """The multivariate log-gamma function of dimension ``p`` (torch.mvlgamma)."""
    return mvlgamma(input, p, out=out)


def softmax(input, dim: int, *, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (computed in ``dtype`` when given)."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim: int, *, dtype=None):
    """x - logsumexp(x) along ``dim`` (computed in ``dtype`` when given)."""
    return _log_softmax(input, dim, dtype=dtype)


__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma",
           "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]
