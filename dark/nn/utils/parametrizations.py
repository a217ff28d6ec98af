"""dark.nn.utils.parametrizations: ``orthogonal``, ``spectral_norm`` and ``weight_norm`` as
parametrizations (nn.utils.parametrize), as torch.nn.utils.parametrizations has them.

- ``weight_norm``: ``original0`` (g, the norm of the weight over every dimension but
  ``dim``) and ``original1`` (v); the weight is ``v * (g / ||v||)``. A state_dict of the
  hook-based weight_norm (``weight_g`` / ``weight_v``) loads.
- ``spectral_norm``: ``original`` divided by ``sigma = u . (W v)``, with the buffers ``_u`` /
  ``_v`` of the parametrization updated in place by ``n_power_iterations`` steps of the power
  method at each access in training mode (15 steps at registration), not in eval mode.
- ``orthogonal``: the ``matrix_exp``, ``cayley`` or ``householder`` map of the original
  (a skew-symmetric matrix from its lower triangle, or Householder reflectors), times the
  buffer ``base`` with ``use_trivialization``; assigning a matrix to the weight stores it
  in ``base`` (orthogonalized by QR if it is not orthogonal) as torch does.

The linear-algebra pieces torch takes from LAPACK are here as composites of dark ops:
``householder_product`` (differentiable) and ``geqrf`` (the array module's QR in raw
mode, no gradient)."""
from __future__ import annotations

from enum import Enum, auto

from ... import _backend
from ..._dtype_info import finfo
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ...ops.creation import eye, zeros_like
from ...ops.elementwise import add, allclose
from ...ops.linalg import mv, vdot
from ...ops.linalg_ops import matrix_exp, qr, solve
from ...ops.random import randn
from ...ops.shape import cat
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module
from . import parametrize
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _geqrf(A: Tensor):
    """torch.geqrf: LAPACK's QR in compact form (the reflectors below the diagonal, R on and
    above it) and the reflectors' scales tau. No gradient."""
    data = A._data
    xp = _backend.array_module(data)
    if data.ndim == 2:
        h, tau = xp.linalg.qr(data, mode="raw")
        return Tensor._make(xp.ascontiguousarray(h.T)), Tensor._make(tau)
    flat = data.reshape((-1,) + data.shape[-2:])
    pairs = [xp.linalg.qr(matrix, mode="raw") for matrix in flat]
    h = xp.stack([xp.ascontiguousarray(h.T) for h, _ in pairs])
    tau = xp.stack([t for _, t in pairs])
    return (Tensor._make(h.reshape(data.shape)),
            Tensor._make(tau.reshape(data.shape[:-2] + tau.shape[-1:])))


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """torch.linalg.householder_product: the first n columns of H_1 ... H_k, H_i = I -
    tau_i v_i v_i^H with v_i the i-th column of A below the diagonal and 1 on it."""
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    identity = eye(m, n, dtype=A.dtype, device=A.device)
    reflectors = A.tril(-1) + identity
    Q = identity.expand(*A.shape[:-2], m, n)
    for i in reversed(range(k)):
        v = reflectors[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mH @ Q))
    return Q


def _is_orthogonal(Q, eps=None):
    n, k = Q.size(-2), Q.size(-1)
    Id = eye(k, dtype=Q.dtype, device=Q.device)
    eps = 10.0 * n * finfo(Q.dtype).eps
    return allclose(Q.mH @ Q, Id, atol=eps)


def _sgn(x: Tensor) -> Tensor:
    """torch.sgn: sign for real tensors, x / |x| (0 at 0) for complex ones."""
    if not x.is_complex():
        return x.sign()
    magnitude = x.abs()
    return x / magnitude.masked_fill(magnitude == 0, 1)


def _make_orthogonal(A):
    """The Q of A = QR (A tall) with diag(R) made non-negative."""
    Q, R = qr(A)
    return Q * _sgn(R.diagonal(dim1=-2, dim2=-1)).unsqueeze(-2)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map: _OrthMaps, *, use_trivialization=True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = matrix_exp(A)
            else:
                # the Cayley retraction (I + A/2)(I - A/2)^{-1}
                Id = eye(n, dtype=A.dtype, device=A.device)
                Q = solve(add(Id, A, alpha=-0.5), add(Id, A, alpha=0.5))
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = _householder_product(A, tau)
            # the diagonal of X holds 1s and -1s: no gradient through it
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if hasattr(self, "base"):
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            if Q.shape != self.shape:
                raise ValueError(f"Expected a matrix or batch of matrices of shape "
                                 f"{self.shape}. Got a tensor of shape {Q.shape}.")
            Q_init = Q
            n, k = Q.size(-2), Q.size(-1)
            transpose = n < k
            if transpose:
                Q = Q.mT
                n, k = k, n
            if not hasattr(self, "base"):
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley "
                        "parametrizations when use_trivialization=False.")
                A, tau = _geqrf(Q)
                # diag(R) > 0 makes the decomposition unique; the diagonal of A holds its signs
                A.diagonal(dim1=-2, dim2=-1).sign_()
                A.diagonal(dim1=-2, dim2=-1)[tau == 0.0] *= -1
                return A.mT if transpose else A
            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:
                # completed into an n x n orthogonal matrix
                N = randn(*(Q.size()[:-2] + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(cat([Q, N], dim=-1))
            self.base = Q
            # -Id: householder(zeros) == eye
            neg_Id = zeros_like(Q_init)
            neg_Id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_Id


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Make ``module.<name>`` an orthogonal (unitary) matrix or batch of matrices: orthonormal
    columns when it is tall, rows when it is wide. ``orthogonal_map``: "matrix_exp" (default
    for square or complex), "cayley", or "householder" (default otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. "
                         f"Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = ("matrix_exp" if weight.size(-2) == weight.size(-1)
                          or weight.is_complex() else "householder")
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        weight_g = norm_except_dim(weight, 2, self.dim)
        weight_v = weight
        return weight_g, weight_v


def weight_norm(module: Module, name: str = "weight", dim: int = 0):
    """Weight normalization as a parametrization: ``parametrizations.<name>.original0`` is the
    magnitude g, ``original1`` the direction v (the norm is over every dimension but ``dim``,
    over all for None)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys,
                                 unexpected_keys, error_msgs) -> None:
        g_key = f"{prefix}{name}_g"
        v_key = f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            original0 = state_dict.pop(g_key)
            original1 = state_dict.pop(v_key)
            state_dict[f"{prefix}parametrizations.{name}.original0"] = original0
            state_dict[f"{prefix}parametrizations.{name}.original1"] = original1

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            # a 1-D weight is just normalized (forward)
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            # reasonable starting singular vectors
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if weight.ndim <= 1:
            raise AssertionError(f"Expected weight to have more than 1 dimension, got "
                                 f"{weight.ndim}")
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # in place, so that the buffers follow (module replicas share them); forward uses
        # copies so that the graph of an earlier access keeps the values it used
        with no_grad():
            for _ in range(n_power_iterations):
                self._u = F.normalize(mv(weight_mat, self._v), dim=0, eps=self.eps,
                                      out=self._u)
                self._v = F.normalize(mv(weight_mat.H, self._u), dim=0, eps=self.eps,
                                      out=self._v)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = vdot(u, mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Spectral normalization as a parametrization: ``module.<name>`` is
    ``original / sigma``, sigma estimated by the power method on the buffers ``_u`` and
    ``_v`` of ``parametrizations.<name>[0]`` (``dim``: the output dimension, 0, or 1 for
    ConvTranspose)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d,
                                       ConvTranspose3d)) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
