"""The decompositions of ``dark.linalg`` and their relatives: svd, qr, eigh / eigvalsh,
cholesky, slogdet, lstsq, pinv, matrix_rank, solve_triangular, cross; ``torch.cdist``,
``trace``, ``tril_indices`` / ``triu_indices`` and the legacy ``torch.svd`` / ``qr`` /
``cholesky`` / ``logdet`` / ``slogdet`` / ``pinverse``.

Each forward is the LAPACK routine of the array module (numpy.linalg on the CPU,
cupy.linalg on a GPU) on raw arrays; each backward is ATen's formula (FunctionsManual.cpp:
svd_backward, linalg_qr_backward, linalg_eig_backward, cholesky_backward, slogdet_backward,
pinv_backward, linalg_lstsq_backward) written with dark's differentiable ops, so that
``create_graph=True`` records through it. Several outputs come back as named tuples with
torch's field names (``.U``, ``.S``, ``.Vh``, ``.Q``, ``.R``, ...)."""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .. import _backend
from .._backend import array_module, broadcast_shapes, wrap_dim
from .._tensor import Tensor, tensor_method
from ..autograd.function import Op
from .creation import finish, on_device
from .elementwise import _maybe_out, where
from .linalg import (
    Solve,
    _check_tensor,
    _constant,
    _float_input,
    inv,
    matrix_norm,
    multi_dot,
    svdvals,
    vector_norm,
)
from .linalg import solve as _solve_left
from .shape import cat, diag_embed


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a factorization that could not be completed (a matrix
    that is not positive-definite, a singular one)."""


# ----------------------------------------------------------------------------- return types

class SVD(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class QR(NamedTuple):
    Q: Tensor
    R: Tensor


class Eigh(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SlogDet(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class Lstsq(NamedTuple):
    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


class LegacySVD(NamedTuple):
    U: Tensor
    S: Tensor
    V: Tensor


for _cls, _name in ((SVD, "linalg_svd"), (QR, "linalg_qr"), (Eigh, "linalg_eigh"),
                    (SlogDet, "linalg_slogdet"), (Lstsq, "linalg_lstsq"), (LegacySVD, "svd")):
    _cls.__name__ = _cls.__qualname__ = _name
    _cls.__repr__ = (lambda name: lambda self: f"torch.return_types.{name}(\n" + ",\n".join(
        f"{field}={value!r}" for field, value in zip(self._fields, self)) + ")")(_name)


# ----------------------------------------------------------------------------- helpers

def _check_matrix(name: str, A: Tensor, argument: str = "A") -> None:
    _check_tensor(name.replace(".", "_"), A)
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {argument} must have at least 2 "
                           "dimensions.")
    _float_input(name, A)


def _check_square_matrix(name: str, A: Tensor) -> None:
    _check_matrix(name, A)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _unsq(t: Tensor, dim: int) -> Tensor:
    return t.unsqueeze(dim)


def _diag(values: Tensor) -> Tensor:
    return diag_embed(values, 0, -2, -1)


def _solve_triangular(A: Tensor, B: Tensor, upper: bool, left: bool = True,
                      unitriangular: bool = False) -> Tensor:
    """X with tri(A) X = B (left) or X tri(A) = B, tri keeping A's upper or lower triangle;
    differentiable in both (through Solve on the masked matrix)."""
    T = A.triu() if upper else A.tril()
    if unitriangular:
        n = A.shape[-1]
        eye = _constant(array_module(A._data).eye(n, dtype=A._data.dtype))
        T = T - _diag(T.diagonal(0, -2, -1)) + eye
    if left:
        return Solve.apply(T, B)
    return Solve.apply(T, B.mT, adjoint=True).mT


def _host_int(value) -> int:
    return int(value.get()) if hasattr(value, "get") else int(value)


# ----------------------------------------------------------------------------- svd

def _svd_backward(gU, gS, gVh, U, S, Vh):
    """ATen's svd_backward (real matrices), U, S, Vh the reduced factors."""
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        if gS is None:
            return None
        return (U @ (_unsq(gS, -1) * Vh)) if m >= n else ((U * _unsq(gS, -2)) @ Vh)
    UhgU = VhgV = None
    if gU is not None:
        X = U.mH @ gU
        UhgU = X - X.mH
    if gVh is not None:
        X = Vh @ gVh.mH
        VhgV = X - X.mH
    complex_ = U.is_complex()
    if complex_:
        a = UhgU.diagonal(0, -2, -1).imag if gU is not None else S * 0
        b = VhgV.diagonal(0, -2, -1).imag if gVh is not None else S * 0
        if not bool(((a + b).detach().abs() <= 1e-2 + 1e-2 * b.detach().abs())._data.all()):
            raise RuntimeError("svd_backward: The singular vectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this phase term, making it ill-defined.")
        S = S.to(U.dtype)
    S2 = S * S
    E = _unsq(S2, -2) - _unsq(S2, -1) + _diag(S * 0 + 1)
    if gU is not None and gVh is not None:
        gA = (UhgU * _unsq(S, -2) + _unsq(S, -1) * VhgV) / E
    elif gU is not None:
        gA = (UhgU / E) * _unsq(S, -2)
    else:
        gA = _unsq(S, -1) * (VhgV / E)
    if gS is not None:
        gA = gA + _diag(gS.to(gA.dtype))
    if complex_ and gU is not None and gVh is not None:
        gA = gA + _diag(UhgU.diagonal(0, -2, -1) / (S * 2))
    if m > n and gU is not None:
        gA = U @ gA
        gUSinv = gU / _unsq(S, -2)
        gA = gA + gUSinv - U @ (U.mH @ gUSinv)
        return gA @ Vh
    if m < n and gVh is not None:
        gA = gA @ Vh
        SinvgVh = gVh / _unsq(S, -1)
        gA = gA + SinvgVh - (SinvgVh @ Vh.mH) @ Vh
        return U @ gA
    return U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh


def _svd_arrays(xp, A, full_matrices: bool):
    m, n = A.shape[-2:]
    if A.size == 0:
        k = min(m, n)
        batch = A.shape[:-2]
        real = A.real.dtype if A.dtype.kind == "c" else A.dtype
        eye = xp.eye
        U = xp.broadcast_to(eye(m, m if full_matrices else k, dtype=A.dtype), batch + (
            m, m if full_matrices else k)).copy()
        Vh = xp.broadcast_to(eye(n if full_matrices else k, n, dtype=A.dtype), batch + (
            n if full_matrices else k, n)).copy()
        return U, xp.zeros(batch + (k,), dtype=real), Vh
    return xp.linalg.svd(A, full_matrices=full_matrices)


class LinalgSvd(Op):
    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, A, full_matrices=True):
        U, S, Vh = _svd_arrays(array_module(A), A, full_matrices)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(U, S, Vh)
        ctx.full_matrices = full_matrices
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        if ctx.full_matrices:
            k = S.shape[-1]
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :, :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        return _svd_backward(gU, gS, gVh, U, S, Vh)


def _check_driver(driver) -> None:
    if driver is not None:
        raise RuntimeError("dark.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")


def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None) -> SVD:
    """A = U diag(S) Vh for the matrices in the last two dims of ``A``: U (*, m, m) or
    (*, m, k), S (*, k) descending (real), Vh (*, n, n) or (*, k, n), k = min(m, n)."""
    _check_matrix("linalg.svd", A)
    _check_driver(driver)
    U, S, Vh = LinalgSvd.apply(A, full_matrices=bool(full_matrices))
    result = SVD(U, S, Vh)
    if out is not None:
        for target, value in zip(out, result):
            _maybe_out(value, target)
        return SVD(*out)
    return result


@tensor_method("svd")
def _svd_legacy(input: Tensor, some: bool = True, compute_uv: bool = True, *,
                out=None) -> LegacySVD:
    """torch.svd: (U, S, V) with V (not V^H); ``some`` gives the reduced factors;
    without ``compute_uv`` U and V are zero matrices (full size, as torch's)."""
    _check_tensor("svd", input)
    if input.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    _float_input("linalg.svd", input)
    if compute_uv:
        U, S, Vh = svd(input, full_matrices=not some)
        return LegacySVD(U, S, Vh.mH)
    from_values = svdvals(input)
    m, n = input.shape[-2:]
    batch = tuple(input.shape[:-2])
    zeros = input.new_zeros
    return LegacySVD(zeros(batch + (m, m)), from_values, zeros(batch + (n, n)))


# ----------------------------------------------------------------------------- qr

_QR_MODES = ("reduced", "complete", "r")


class LinalgQr(Op):
    node_name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, A, mode="reduced"):
        xp = array_module(A)
        m, n = A.shape[-2:]
        if A.size == 0:
            k = m if mode == "complete" else min(m, n)
            batch = A.shape[:-2]
            Q = xp.broadcast_to(xp.eye(m, k, dtype=A.dtype), batch + (m, k)).copy()
            R = xp.zeros(batch + (k, n), dtype=A.dtype)
        elif mode == "r":
            R = xp.linalg.qr(A, mode="r")
            Q = xp.zeros((0,), dtype=A.dtype)
        else:
            Q, R = xp.linalg.qr(A, mode=mode)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(Q, R)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        mode = ctx.mode
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        m, n = Q.shape[-2], R.shape[-1]
        if mode != "reduced" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if gQ is None and gR is None:
            return None
        if gQ is not None:
            gA = gR @ R.mH - Q.mH @ gQ if gR is not None else -(Q.mH @ gQ)
        else:
            gA = gR @ R.mH
        if m >= n:
            sym = gA.triu()
            sym = sym + sym.mH
            half = sym.diagonal(0, -2, -1)
            sym = sym - _diag((half.real if half.is_complex() else half).to(sym.dtype) * 0.5)
            gA = Q @ sym
            if gQ is not None:
                gA = gA + gQ
            return _solve_triangular(R.mH, gA, upper=False, left=False)
        X = -gA
        skew = (X - X.mH).tril()
        if skew.is_complex():
            half = skew.diagonal(0, -2, -1).imag * 0.5
            skew = skew - _diag(half.to(skew.dtype) * 1j)
        gA = Q @ skew
        gA = _solve_triangular(R[..., :, :m].mH, gA, upper=False, left=False)
        gA = cat([gA, gA.new_zeros(tuple(R.shape[:-1]) + (n - m,))], -1)
        if gR is not None:
            gA = gA + Q @ gR
        return gA


def qr(A: Tensor, mode: str = "reduced", *, out=None) -> QR:
    """A = Q R: Q with orthonormal columns, R upper triangular. ``mode`` 'reduced' (Q
    (*, m, k), R (*, k, n)), 'complete' (Q (*, m, m), R (*, m, n)) or 'r' (R only; Q
    empty)."""
    _check_matrix("linalg.qr", A)
    if mode not in _QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    Q, R = LinalgQr.apply(A, mode=mode)
    if out is not None:
        _maybe_out(Q, out[0])
        _maybe_out(R, out[1])
        return QR(*out)
    return QR(Q, R)


@tensor_method("qr")
def _qr_legacy(input: Tensor, some: bool = True, *, out=None) -> QR:
    """torch.qr: the reduced (``some``) or complete factorization."""
    return qr(input, "reduced" if some else "complete", out=out)


# ----------------------------------------------------------------------------- eigh

def _eigh_backward(gL, gV, L, V):
    """ATen's linalg_eig_backward for a Hermitian (real symmetric) matrix."""
    Vh = V.mH
    if gV is None:
        if gL is None:
            return None
        return (V * _unsq(gL, -2)) @ Vh
    VhgV = Vh @ gV
    VhgV = (VhgV - VhgV.mH) * 0.5
    E = _unsq(L, -2) - _unsq(L, -1) + _diag(L * 0 + 1)
    gA = VhgV / E
    if gL is not None:
        gA = gA - _diag(gA.diagonal(0, -2, -1)) + _diag(gL)
    return V @ (gA @ Vh)


class LinalgEigh(Op):
    node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, A, UPLO="L"):
        xp = array_module(A)
        if A.size == 0:
            real = A.real.dtype if A.dtype.kind == "c" else A.dtype
            L, V = xp.zeros(A.shape[:-1], dtype=real), xp.zeros(A.shape, dtype=A.dtype)
        else:
            L, V = xp.linalg.eigh(A, UPLO=UPLO)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        return _eigh_backward(gL, gV, L, V)


def _check_uplo(UPLO) -> None:
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A: Tensor, UPLO: str = "L", *, out=None) -> Eigh:
    """The eigenvalues (ascending, real) and orthonormal eigenvectors (columns) of the
    symmetric / Hermitian matrices of ``A``, read from the lower (UPLO='L') or upper
    triangle."""
    _check_square_matrix("linalg.eigh", A)
    _check_uplo(UPLO)
    L, V = LinalgEigh.apply(A, UPLO=UPLO.upper())
    if out is not None:
        _maybe_out(L, out[0])
        _maybe_out(V, out[1])
        return Eigh(*out)
    return Eigh(L, V)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """The eigenvalues (ascending) of the symmetric / Hermitian matrices of ``A``."""
    _check_square_matrix("linalg.eigh", A)
    _check_uplo(UPLO)
    if A.requires_grad:
        values = LinalgEigh.apply(A, UPLO=UPLO.upper())[0]
    else:
        xp = array_module(A._data)
        values = _constant(xp.linalg.eigvalsh(A._data, UPLO=UPLO.upper()) if A.numel()
                           else xp.zeros(A.shape[:-1], dtype=A._data.real.dtype))
    return _maybe_out(values, out)


# ----------------------------------------------------------------------------- cholesky

def _not_positive_definite(xp, A, name: str) -> LinAlgError:
    """torch's error for the first matrix of a batch that is not positive-definite: the
    batch element and the order of its first leading minor that is not."""
    host = A if isinstance(A, np.ndarray) else A.get()
    batch = host.shape[:-2]
    flat = host.reshape((-1,) + host.shape[-2:])
    for index, matrix in enumerate(flat):
        for order in range(1, matrix.shape[-1] + 1):
            try:
                np.linalg.cholesky(matrix[:order, :order])
            except np.linalg.LinAlgError:
                where_ = f"(Batch element {index}): " if batch else ""
                return LinAlgError(
                    f"{name}: {where_}The factorization could not be completed because the "
                    f"input is not positive-definite (the leading minor of order {order} is "
                    "not positive-definite).")
    return LinAlgError(f"{name}: The factorization could not be completed because the input "
                       "is not positive-definite.")


def _cholesky_array(xp, A, name):
    if A.size == 0:
        return xp.zeros(A.shape, dtype=A.dtype)
    try:
        L = xp.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise _not_positive_definite(xp, A, name) from None
    if xp is not np and bool(xp.isnan(L).any()):  # cuSOLVER reports by NaNs
        raise _not_positive_definite(xp, A, name)
    return L


class LinalgCholesky(Op):
    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, A, upper=False):
        xp = array_module(A)
        # The factor of the lower triangle (LAPACK's potrf reads only that one).
        lower = xp.tril(A)
        lower = lower + xp.swapaxes(xp.tril(A, -1), -1, -2).conj()
        L = _cholesky_array(xp, lower, "linalg.cholesky")
        out = xp.swapaxes(L, -1, -2).conj() if upper else L
        ctx.save_for_backward(out)
        ctx.upper = upper
        return out

    @staticmethod
    def backward(ctx, gL):
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = L.mH, gL.mH
        gA = (L.mH @ gL).tril()
        gA = (gA + gA.tril(-1).mH) * 0.5
        gA = _solve_triangular(L.mH, gA, upper=True, left=True)
        return _solve_triangular(L, gA, upper=False, left=False)


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The Cholesky factor L (lower triangular, A = L L^H) of the symmetric /
    Hermitian positive-definite matrices of ``A`` (U = L^H with ``upper``). Only the lower
    triangle of ``A`` is read."""
    _check_square_matrix("linalg.cholesky", A)
    return _maybe_out(LinalgCholesky.apply(A, upper=bool(upper)), out)


@tensor_method("cholesky")
def _cholesky_legacy(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """torch.cholesky (deprecated in favour of linalg.cholesky, with torch's warning)."""
    warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be "
                  "removed in a future PyTorch release.\nL = torch.cholesky(A)\nshould be "
                  "replaced with\nL = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, "
                  "upper=True)\nshould be replaced with\nU = torch.linalg.cholesky(A).mH\nThis "
                  "transform will produce equivalent results for all valid (symmetric positive "
                  "definite) inputs.", UserWarning, stacklevel=2)
    return cholesky(input, upper=upper, out=out)


# ----------------------------------------------------------------------------- slogdet

class LinalgSlogdet(Op):
    node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, A):
        xp = array_module(A)
        if A.size == 0:
            batch = A.shape[:-2]
            sign, logabs = xp.ones(batch, dtype=A.dtype), xp.zeros(batch, dtype=A.dtype)
        else:
            with np.errstate(all="ignore"):
                sign, logabs = xp.linalg.slogdet(A)
        sign = xp.asarray(sign, dtype=A.dtype)
        logabs = xp.asarray(logabs, dtype=A.real.dtype if A.dtype.kind == "c" else A.dtype)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, sign)
        return sign, logabs

    @staticmethod
    def backward(ctx, g_sign, g_logabs):
        A, sign = ctx.saved_tensors
        complex_ = A.is_complex()
        if g_logabs is None and (not complex_ or g_sign is None):
            return None
        g = g_logabs
        if complex_:
            # ATen's slogdet_backward: the phase of sign moves by Im tr(A^-1 dA)
            g = g.to(A.dtype) if g is not None else None
            if g_sign is not None:
                phase = -(g_sign.conj() * sign).imag
                g = phase.to(A.dtype) * 1j if g is None else g + phase.to(A.dtype) * 1j
        n = A.shape[-1]
        eye = _constant(array_module(A._data).eye(n, dtype=A._data.dtype))
        return Solve.apply(A.mH, _unsq(_unsq(g, -1), -1) * eye)


def slogdet(A: Tensor, *, out=None) -> SlogDet:
    """(sign, log|det|) of the square matrices of ``A``: det = sign * exp(logabsdet),
    without overflow."""
    _check_square_matrix("linalg.slogdet", A)
    sign, logabs = LinalgSlogdet.apply(A)
    if out is not None:
        _maybe_out(sign, out[0])
        _maybe_out(logabs, out[1])
        return SlogDet(*out)
    return SlogDet(sign, logabs)


@tensor_method("slogdet")
def _slogdet_legacy(input: Tensor) -> SlogDet:
    """torch.slogdet (torch.return_types.slogdet in torch, the same fields)."""
    return slogdet(input)


@tensor_method("logdet")
def logdet(input: Tensor) -> Tensor:
    """log det of the square matrices: nan where det < 0, -inf where det = 0."""
    _check_square_matrix("logdet", input)
    sign, logabs = LinalgSlogdet.apply(input)
    xp = array_module(sign._data)
    return where(_constant(sign._data < 0), _constant(xp.asarray(math.nan, logabs._data.dtype)),
                 logabs)


# ----------------------------------------------------------------------------- pinv

def _pinv_backward(grad, pinvA, A):
    """ATen's pinv_backward."""
    m, n = A.shape[-2], A.shape[-1]
    pinvAh = pinvA.mH
    gradh = grad.mH
    if m <= n:
        K = gradh @ pinvA
        KpinvAh = K @ pinvAh
        return (-(pinvA @ K).mH + KpinvAh - (A @ pinvA) @ KpinvAh
                + (pinvAh @ pinvA) @ (gradh - K @ A))
    K = pinvA @ gradh
    pinvAhK = pinvAh @ K
    return (-(K @ pinvA).mH + ((gradh - A @ K) @ pinvA) @ pinvAh + pinvAhK
            - (pinvAhK @ pinvA) @ A)


def _tolerances(xp, values, atol, rtol, shape, np_dtype):
    """max(atol, rtol * largest) per matrix (values: (*, k) magnitudes, descending or not)."""
    eps = np.finfo(np_dtype).eps
    if rtol is None:
        rtol = 0.0 if atol is not None and _positive(atol) else eps * max(shape[-2:])
    atol = 0.0 if atol is None else atol
    atol = atol._data if isinstance(atol, Tensor) else atol
    rtol = rtol._data if isinstance(rtol, Tensor) else rtol
    largest = values.max(axis=-1) if values.shape[-1] else xp.zeros(values.shape[:-1],
                                                                    values.dtype)
    return xp.maximum(atol, rtol * largest)


def _positive(value) -> bool:
    if isinstance(value, Tensor):
        return bool((value._data > 0).all())
    return value > 0


class LinalgPinv(Op):
    node_name = "LinalgPinvBackward0"

    @staticmethod
    def forward(ctx, A, atol=None, rtol=None, hermitian=False):
        xp = array_module(A)
        m, n = A.shape[-2:]
        if A.size == 0:
            out = xp.zeros(A.shape[:-2] + (n, m), dtype=A.dtype)
        elif hermitian:
            L, V = xp.linalg.eigh(A)
            magnitude = xp.abs(L)
            tol = _tolerances(xp, magnitude, atol, rtol, A.shape, A.dtype)
            keep = magnitude > tol[..., None]
            with np.errstate(divide="ignore"):
                inverse = xp.where(keep, 1 / xp.where(keep, L, 1), 0).astype(A.dtype)
            out = xp.matmul(V * inverse[..., None, :], xp.swapaxes(V, -1, -2).conj())
        else:
            U, S, Vh = xp.linalg.svd(A, full_matrices=False)
            tol = _tolerances(xp, S, atol, rtol, A.shape, A.dtype)
            keep = S > tol[..., None]
            inverse = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(S.dtype)
            out = xp.matmul(xp.swapaxes(Vh, -1, -2).conj() * inverse[..., None, :],
                            xp.swapaxes(U, -1, -2).conj())
        out = xp.ascontiguousarray(out)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        A, pinvA = ctx.saved_tensors
        return _pinv_backward(grad, pinvA, A)


def pinv(A: Tensor, rcond=None, hermitian: bool = False, *, atol=None, rtol=None,
         out=None) -> Tensor:
    """The Moore-Penrose pseudo-inverse of the matrices of ``A`` (*, m, n) -> (*, n, m):
    singular values at or below max(atol, rtol * largest) count as zero (rtol defaults to
    eps * max(m, n) when neither is given; ``rcond`` is the older name of rtol)."""
    if not isinstance(A, Tensor) or A.ndim < 2 or A._data.dtype.kind not in "fc":
        what = (f"{A.dtype.scalar_name}{{{list(A.shape)}}}".replace(" ", "")
                if isinstance(A, Tensor) else type(A).__name__)
        raise RuntimeError(f"linalg.pinv({what}): expected a tensor with 2 or more dimensions "
                           "of float, double, cfloat or cdouble types")
    if rcond is not None:
        rtol = rcond
    return _maybe_out(LinalgPinv.apply(A, atol=atol, rtol=rtol, hermitian=bool(hermitian)),
                      out)


@tensor_method("pinverse")
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: pinv with ``rcond`` the relative tolerance."""
    return pinv(input, rtol=rcond)


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None,
                out=None) -> Tensor:
    """The number of singular values (|eigenvalues| when ``hermitian``) above
    max(atol, rtol * largest) per matrix, as int64 (``tol`` is the older name of atol)."""
    _check_tensor("linalg_matrix_rank", A)
    if A.ndim < 2:
        raise RuntimeError("dark.linalg.matrix_rank: The input tensor input must have at "
                           "least 2 dimensions.")
    _float_input("dark.linalg.matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, (0.0 if rtol is None else rtol)
    data = A._data
    xp = array_module(data)
    if data.size == 0:
        rank = xp.zeros(data.shape[:-2], dtype=np.int64)
    else:
        values = (xp.abs(xp.linalg.eigvalsh(data)) if hermitian
                  else xp.linalg.svd(data, compute_uv=False))
        tol_ = _tolerances(xp, values, atol, rtol, data.shape, data.real.dtype)
        rank = (values > tol_[..., None]).sum(axis=-1).astype(np.int64)
    return _maybe_out(_constant(xp.asarray(rank)), out)


# ----------------------------------------------------------------------------- solve_triangular

def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False, out=None) -> Tensor:
    """X with A X = B (``left``) or X A = B for triangular A (the other triangle of A is
    not read; its diagonal is taken as ones with ``unitriangular``)."""
    _check_tensor("linalg_solve_triangular", A)
    _check_tensor("linalg_solve_triangular", B, 2, "B")
    if A.ndim < 2 or B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor "
                           f"{'A' if A.ndim < 2 else 'B'} must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.solve_triangular: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    inner = B.shape[-2] if left else B.shape[-1]
    if inner != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {'AX = B' if left else 'XA = B'} ({A.shape[-2]}x"
                           f"{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    return _maybe_out(_solve_triangular(A, B, upper, left, unitriangular), out)


# ----------------------------------------------------------------------------- lstsq

_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


class LinalgLstsq(Op):
    node_name = "LinalgLstsqBackward0"

    @staticmethod
    def forward(ctx, A, B, rcond=None, residuals=False):
        xp = array_module(A)
        batch = broadcast_shapes(A.shape[:-2], B.shape[:-2])
        A_b = xp.broadcast_to(A, batch + A.shape[-2:]).reshape((-1,) + A.shape[-2:])
        B_b = xp.broadcast_to(B, batch + B.shape[-2:]).reshape((-1,) + B.shape[-2:])
        n, k = A.shape[-1], B.shape[-1]
        X = xp.empty((A_b.shape[0], n, k), dtype=A.dtype)
        for i in range(A_b.shape[0]):
            X[i] = xp.linalg.lstsq(A_b[i], B_b[i], rcond=rcond)[0]
        X = X.reshape(batch + (n, k))
        if residuals:
            r = xp.matmul(A, X) - B
            res = (xp.abs(r) ** 2).sum(axis=-2).astype(A.real.dtype if A.dtype.kind == "c"
                                                       else A.dtype)
        else:
            res = xp.zeros((0,), dtype=A.dtype)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, B, X)
        return X, res

    @staticmethod
    def backward(ctx, gX, gRes):
        A, B, X = ctx.saved_tensors
        needs_A, needs_B = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_A = grad_B = None
        if gX is not None:
            pinvA = LinalgPinv.apply(A)
            if needs_A:
                grad_A = _pinv_backward(gX @ B.mH, pinvA, A)
            if needs_B:
                grad_B = pinvA.mH @ gX
        if gRes is not None and gRes.numel() > 0:
            r = A @ X - B
            gL = _unsq(gRes, -2)
            if needs_A:
                term = ((gL * r) @ X.mH) * 2
                grad_A = term if grad_A is None else grad_A + term
            if needs_B:
                term = gL * r * (-2)
                grad_B = term if grad_B is None else grad_B + term
        return grad_A, grad_B


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None) -> Lstsq:
    """The least-squares solution X of A X = B (min |A X - B|) for the matrices of ``A``
    (*, m, n) and ``B`` (*, m, k); batch dims broadcast. Like torch on the CPU (default
    driver 'gelsy'): ``residuals`` (squared, per column) only for m > n, full-rank A and the
    drivers 'gelsd' / 'gelss' / 'gels', ``rank`` for all but 'gels', ``singular_values``
    for 'gelsd' / 'gelss'; other results are empty."""
    _check_tensor("linalg_lstsq", A)
    _check_tensor("linalg_lstsq", B, 2, "b")
    if A.ndim < 2:
        raise RuntimeError("dark.linalg.lstsq: input must have at least 2 dimensions.")
    _float_input("dark.linalg.lstsq", A)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"dark.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {A.dtype} and other's dtype "
                           f"{B.dtype}")
    if driver is None:
        driver = "gelsy" if A.device.type == "cpu" else "gels"
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError("dark.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    vector = B.ndim == A.ndim - 1
    if vector:
        B = B.unsqueeze(-1)
    if B.ndim < 2 or B.shape[-2] != A.shape[-2]:
        raise RuntimeError("dark.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2:]
    data = A._data
    xp = array_module(data)
    values = (xp.linalg.svd(data, compute_uv=False) if data.size
              else xp.zeros(data.shape[:-2] + (min(m, n),), data.real.dtype))
    eps = np.finfo(data.dtype).eps
    cutoff = (eps * max(m, n) if rcond is None else rcond)
    largest = values[..., :1] if values.shape[-1] else values
    rank = (values > cutoff * largest).sum(axis=-1).astype(np.int64)
    full_rank = bool((rank == min(m, n)).all())
    with_residuals = m > n and full_rank and driver != "gelsy"
    X, residuals = LinalgLstsq.apply(A, B, rcond=cutoff, residuals=with_residuals)
    if vector:
        X = X.squeeze(-1)
        if with_residuals:
            residuals = residuals.squeeze(-1)
    empty = _constant(xp.zeros((0,), dtype=data.real.dtype))
    rank_t = _constant(xp.asarray(rank)) if driver != "gels" else _constant(
        xp.zeros((0,), dtype=np.int64))
    singular = _constant(values) if driver in ("gelsd", "gelss") else empty
    return Lstsq(X, residuals, rank_t, singular)


# ----------------------------------------------------------------------------- cross

class Cross(Op):
    node_name = "LinalgCrossBackward0"

    @staticmethod
    def forward(ctx, a, b, dim=-1):
        ctx.save_for_backward(a, b)
        ctx.dim = dim
        return array_module(a).cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        dim = ctx.dim
        grad_a = Cross.apply(b, grad, dim=dim) if ctx.needs_input_grad[0] else None
        grad_b = Cross.apply(grad, a, dim=dim) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """The cross product of the 3-vectors along ``dim``; the other dims broadcast."""
    _check_tensor("linalg_cross", input)
    _check_tensor("linalg_cross", other, 2, "other")
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    try:
        broadcast_shapes(tuple(input.shape), tuple(other.shape))
    except (ValueError, RuntimeError):
        raise RuntimeError(f"The size of tensor a ({input.shape[d]}) must match the size of "
                           f"tensor b ({other.shape[d]}) at non-singleton dimension") from None
    if input._data.dtype != other._data.dtype:
        promoted = _backend.promote_types(input.dtype, other.dtype)
        input, other = input.to(promoted), other.to(promoted)
    return _maybe_out(Cross.apply(input, other, dim=d), out)


@tensor_method("cross")
def _cross_legacy(input: Tensor, other: Tensor, dim=None, *, out=None) -> Tensor:
    """torch.cross: ``dim`` defaults (deprecated) to the first dim of size 3."""
    if dim is None:
        warnings.warn("Using dark.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use "
                      "torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning,
                      stacklevel=2)
        shape = broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, size in enumerate(shape) if size == 3), -1)
        if dim == -1:
            raise RuntimeError("no dimension of size 3 in input")
    return cross(input, other, dim=dim, out=out)


# ----------------------------------------------------------------------------- cdist, trace

_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` (*, P, M) and each row of ``x2``
    (*, R, M): (*, P, R); batch dims broadcast. The differences are formed explicitly
    (torch's 'donot_use_mm' path) for every ``compute_mode``: the matrix-product form of
    the euclidean distance that torch picks for P or R > 25 agrees to rounding."""
    _check_tensor("cdist", x1)
    _check_tensor("cdist", x2, 2, "x2")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1._data.dtype.kind not in "fc":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: "
                           f"{x1.dtype.scalar_name}")
    if x2._data.dtype.kind not in "fc":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X2 got: "
                           f"{x2.dtype.scalar_name}")
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if diff.numel() == 0 and diff.shape[-1] == 0:
        return diff.sum(-1) * 0
    return vector_norm(diff, p, -1)


@tensor_method("trace")
def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix (integers sum to int64)."""
    _check_tensor("trace", input)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return input.diagonal().sum()


def _indices(name: str, row: int, col: int, offset: int, dtype, device, lower: bool):
    backend = _backend
    dtype = backend.int64 if dtype is None else backend.to_dtype(dtype)
    if dtype not in (backend.int64, backend.int32):
        raise RuntimeError("\"" + name + "_indices\" not implemented for '"
                           + dtype.scalar_name + "'")
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")

    def make(xp):
        rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
        return xp.asarray(np.stack([rows, cols]).astype(dtype.np))

    return finish(on_device(backend.to_device(device), make), None, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None, pin_memory: bool = False) -> Tensor:
    """The (2, N) coordinates of the lower triangle (with ``offset``) of a row x col
    matrix, row by row."""
    return _indices("tril", row, col, offset, dtype, device, True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None, pin_memory: bool = False) -> Tensor:
    """The (2, N) coordinates of the upper triangle (with ``offset``) of a row x col
    matrix, row by row."""
    return _indices("triu", row, col, offset, dtype, device, False)


__all__ = ["LinAlgError", "cdist", "cholesky", "cross", "eigh", "eigvalsh", "logdet", "lstsq",
           "matrix_rank", "pinv", "pinverse", "qr", "slogdet", "solve_triangular", "svd",
           "trace", "tril_indices", "triu_indices"]


# ----------------------------------------------------------------------------- solve, det

def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with A X = B (``left``) or X A = B for square A; B a matrix (*, n, k) or a batch of
    vectors (*, n). Batch dims broadcast."""
    if left:
        return _solve_left(A, B, out=out)
    _check_square_matrix("linalg.solve", A)
    _check_tensor("linalg_solve", B, 2, "B")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rows, cols = (B.shape[-1], 1) if vector else (B.shape[-2], B.shape[-1])
    if vector or cols != A.shape[-2]:
        # as torch's: a vector right-hand side is a column, which X A = B cannot have
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"XA = B ({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})")
    return _maybe_out(_solve_left(A.mT, B.mT).mT, out)


def _prod_safe_zeros_backward(grad: Tensor, inp: Tensor) -> Tensor:
    """ATen's prod_safe_zeros_backward over the last dim: d prod / d inp_i without dividing
    by inp_i (exclusive cumulative products from both ends)."""
    size = inp.shape[-1]
    if size == 1:
        return grad.expand(tuple(inp.shape))
    ones = inp.narrow(-1, 0, 1) * 0 + 1
    normal = cat([ones, inp.narrow(-1, 0, size - 1)], -1).cumprod(-1)
    reverse = cat([ones, inp.narrow(-1, 1, size - 1).flip(-1)], -1).cumprod(-1).flip(-1)
    return grad * (normal * reverse)


class LinalgDet(Op):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, A):
        xp = array_module(A)
        out = xp.asarray(xp.linalg.det(A) if A.size else xp.ones(A.shape[:-2]), dtype=A.dtype)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        A, det_ = ctx.saved_tensors
        return _det_backward(grad, det_, A)


def _det_backward(grad: Tensor, det_: Tensor, A: Tensor) -> Tensor:
    """ATen's linalg_det_backward: grad det A^-T for invertible matrices; through the
    singular values (det = det U det Vh prod S, with prod's zero-safe derivative) for the
    (nearly) singular ones, so that a singular matrix gets its finite gradient."""
    if A.numel() == 0:
        return A * 0
    n = A.shape[-1]
    if n == 1:
        return grad.unsqueeze(-1).unsqueeze(-1).expand(tuple(A.shape))
    eye = _constant(array_module(A._data).eye(n, dtype=A._data.dtype))
    d = (grad * det_.conj()).unsqueeze(-1).unsqueeze(-1) * eye

    def nonsingular(M):
        return Solve.apply(M.mH, d)

    def singular(M):
        U, S, Vh = LinalgSvd.apply(M, full_matrices=True)
        alpha = (LinalgDet.apply(U) * LinalgDet.apply(Vh)).conj() * grad
        if alpha.is_complex():
            S = S.to(alpha.dtype)
        D = _prod_safe_zeros_backward(alpha.unsqueeze(-1), S)
        return (U * D.unsqueeze(-2)) @ Vh

    eps = float(np.finfo(A._data.dtype).eps)
    is_singular = det_.detach().abs() < 100.0 * eps
    flags = is_singular._data
    if not bool(flags.any()):
        return nonsingular(A)
    if bool(flags.all()):
        return singular(A)
    mask = is_singular.unsqueeze(-1).unsqueeze(-1)
    identity = eye.expand(tuple(A.shape))
    distinct = _constant(array_module(A._data).diag(
        np.arange(1, n + 1, dtype=A._data.dtype) if array_module(A._data) is np
        else array_module(A._data).arange(1, n + 1, dtype=A._data.dtype)))
    return where(mask, singular(where(mask, A, distinct.expand(tuple(A.shape)))),
                 nonsingular(where(mask, identity, A)))


def det(A: Tensor, *, out=None) -> Tensor:
    """The determinant of each square matrix in the last two dims of ``A``: (*, n, n) -> (*);
    differentiable at singular matrices too (torch's formula)."""
    _check_square_matrix("linalg.det", A)
    return _maybe_out(LinalgDet.apply(A), out)


@tensor_method("det")
def _det_legacy(input: Tensor) -> Tensor:
    return det(input)


# ----------------------------------------------------------------------------- matrix functions

def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """A^n for square matrices by repeated squaring (n < 0: of the inverse; n = 0: I)."""
    _check_tensor("linalg_matrix_power", A)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    n = int(n)
    if n == 0:
        eye = array_module(A._data).eye(A.shape[-1], dtype=A._data.dtype)
        return _maybe_out(_constant(eye).expand(tuple(A.shape)) + A * 0, out)
    if n < 0:
        A = inv(A)
        n = -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return _maybe_out(result, out)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of the matrices of ``A`` (torch.diagonal with matrix defaults)."""
    return A.diagonal(offset, dim1, dim2)


def vander(x: Tensor, *, N=None) -> Tensor:
    """The Vandermonde matrices of the vectors of ``x`` (*, n): (*, n, N) with powers
    0 .. N-1 (N defaults to n)."""
    _check_tensor("linalg_vander", x)
    if x.ndim == 0:
        raise RuntimeError("N must be greater than 1.")
    N = x.shape[-1] if N is None else int(N)
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (N - 1,))
    return cat([x.unsqueeze(-1) * 0 + 1, powers], -1).cumprod(-1)


_COND_NORMS = (None, "fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """The condition number of the matrices of ``A`` in the norm ``p`` (None or 2: the
    ratio of the extreme singular values; -2 its inverse; others |A| |A^-1|)."""
    _check_tensor("linalg_cond", A)
    if p not in _COND_NORMS or isinstance(p, bool):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if A.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor A must have at least 2 dimensions.")
    if p in (None, 2, -2):
        values = LinalgSvd.apply(A, full_matrices=False)[1]  # twice differentiable
        largest, smallest = values[..., 0], values[..., -1]
        result = largest / smallest if p in (None, 2) else smallest / largest
        return _maybe_out(result, out)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    return _maybe_out(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """The tensor inverse of A with respect to tensordot over ``ind`` dims: the shape
    A.shape[ind:] + A.shape[:ind]."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    outer, inner = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows, cols = math.prod(outer), math.prod(inner)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return _maybe_out(inv(A.reshape(rows, cols)).reshape(inner + outer), out)


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        order = [d % A.ndim for d in dims]
        A = A.permute(*([d for d in range(A.ndim) if d not in order] + order))
    rest = tuple(A.shape[B.ndim:])
    rows = math.prod(tuple(A.shape[:B.ndim]))
    result = _solve_left(A.reshape(rows, math.prod(rest)), B.reshape(rows))
    return _maybe_out(result.reshape(rest), out)


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """X with (L L^H) X = B given the Cholesky factor L (U^H U with ``upper``)."""
    if upper:
        L = L.mH
    Y = _solve_triangular(L, B, upper=False)
    return _maybe_out(_solve_triangular(L.mH, Y, upper=True), out)


def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """(L L^H)^-1 given the Cholesky factor L (U^H U with ``upper``)."""
    n = L.shape[-1]
    eye = _constant(array_module(L._data).eye(n, dtype=L._data.dtype))
    return cholesky_solve(eye.expand(tuple(L.shape)), L, upper, out=out)


def chain_matmul(*matrices, out=None) -> Tensor:
    """torch.chain_matmul (deprecated for linalg.multi_dot, with torch's warning)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return _maybe_out(matrices[0].clone(), out)
    return multi_dot(list(matrices), out=out)


_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
           1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
           33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_arrays(xp, A):
    """exp of (batches of) matrices: Higham's scaling and squaring with the [13/13] Pade
    approximant (in float64, rounded to A's dtype)."""
    dtype = A.dtype
    A = A.astype(np.complex128 if dtype.kind == "c" else np.float64)
    n = A.shape[-1]
    norms = xp.abs(A).sum(axis=-2).max(axis=-1) if A.size else xp.zeros(A.shape[:-2])
    with np.errstate(divide="ignore"):
        s = xp.maximum(0, xp.ceil(xp.log2(xp.maximum(norms, 1e-300) / _THETA13)))
    s = xp.where(xp.isfinite(s), s, 0).astype(np.int64)
    A = A / (2.0 ** s)[..., None, None]
    eye = xp.eye(n, dtype=A.dtype)
    b = _PADE13
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2
             + b[1] * eye)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * eye
    R = xp.linalg.solve(V - U, V + U) if A.size else A
    steps = int(s.max()) if s.size else 0
    for step in range(steps):
        squared = R @ R
        R = xp.where((s > step)[..., None, None], squared, R)
    return R.astype(dtype, copy=False)


class LinalgMatrixExp(Op):
    node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        xp = array_module(A)
        with np.errstate(all="ignore"):
            return _expm_arrays(xp, A)

    @staticmethod
    def backward(ctx, grad):
        (A,) = ctx.saved_tensors
        # ATen's differential: the top-right block of exp([[A^H, G], [0, A^H]])
        n = A.shape[-1]
        top = cat([A.mH, grad], -1)
        bottom = cat([A.mH * 0, A.mH], -1)
        return LinalgMatrixExp.apply(cat([top, bottom], -2))[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of the square matrices of ``A``."""
    _check_tensor("linalg_matrix_exp", A)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_exp: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_exp: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    _float_input("linalg.matrix_exp", A)
    return LinalgMatrixExp.apply(A)


@tensor_method("matrix_exp")
def _matrix_exp_method(input: Tensor) -> Tensor:
    return matrix_exp(input)


@tensor_method("matrix_power")
def _matrix_power_method(input: Tensor, n: int) -> Tensor:
    return matrix_power(input, n)


# ----------------------------------------------------------------------------- eig

class Eig(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


Eig.__name__ = Eig.__qualname__ = "linalg_eig"
Eig.__repr__ = lambda self: ("torch.return_types.linalg_eig(\n" + ",\n".join(
    f"{field}={value!r}" for field, value in zip(self._fields, self)) + ")")


def _complex_dtype(np_dtype):
    return np.dtype(np.complex128) if np_dtype in (np.float64, np.complex128) \
        else np.dtype(np.complex64)


class LinalgEig(Op):
    node_name = "LinalgEigBackward0"

    @staticmethod
    def forward(ctx, A):
        xp = array_module(A)
        target = _complex_dtype(A.dtype)
        if A.size == 0:
            L, V = xp.zeros(A.shape[:-1], dtype=target), xp.zeros(A.shape, dtype=target)
        else:
            L, V = xp.linalg.eig(A)
            L, V = L.astype(target, copy=False), V.astype(target, copy=False)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, V)
        ctx.real_input = A.dtype.kind != "c"
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        gA = _eig_backward(gL, gV, L, V)
        if gA is not None and ctx.real_input:
            gA = gA.real
        return gA


def _eig_backward(gL, gV, L, V):
    """ATen's linalg_eig_backward for a general matrix (eigenvectors of unit norm)."""
    Vh = V.mH
    if gV is None:
        if gL is None:
            return None
        return _solve_left(Vh, gL.unsqueeze(-1) * Vh)
    VhgV = Vh @ gV
    diag = VhgV.diagonal(0, -2, -1)
    if bool((diag.imag.detach().abs() > 1e-2 * (1 + diag.real.detach().abs()))._data.any()):
        raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are "
                           "specified up to multiplication by e^{i phi}. The specified loss "
                           "function depends on this quantity, so it is ill-defined.")
    VhgV = VhgV - Vh @ (V * diag.real.to(V.dtype).unsqueeze(-2))
    Lconj = L.conj()
    E = Lconj.unsqueeze(-2) - Lconj.unsqueeze(-1) + _diag(Lconj * 0 + 1)
    gA = VhgV / E
    if gL is not None:
        gA = gA - _diag(gA.diagonal(0, -2, -1)) + _diag(gL.to(gA.dtype))
    return _solve_left(Vh, gA @ Vh)


def eig(A: Tensor, *, out=None) -> Eig:
    """The eigenvalues and eigenvectors (unit columns) of general square matrices, complex
    (complex64 for float32, complex128 for float64)."""
    _check_square_matrix("linalg.eig", A)
    L, V = LinalgEig.apply(A)
    return Eig(L, V)


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """The eigenvalues of general square matrices, complex."""
    _check_square_matrix("linalg.eigvals", A)
    if A.requires_grad:
        return _maybe_out(LinalgEig.apply(A)[0], out)
    xp = array_module(A._data)
    target = _complex_dtype(A._data.dtype)
    values = (xp.linalg.eigvals(A._data) if A.numel()
              else xp.zeros(A.shape[:-1], dtype=target)).astype(target, copy=False)
    return _maybe_out(_constant(values), out)
