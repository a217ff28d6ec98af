"""The decompositions of dark.linalg (svd, qr, eigh, eigvalsh, cholesky, slogdet, lstsq, pinv,
matrix_rank, solve_triangular, cross) and torch.cdist / trace / tril_indices / triu_indices /
the legacy torch.svd, qr, cholesky, logdet, slogdet, pinverse: values, float64 gradcheck and
gradgradcheck, parity with torch (values and gradients in float64, dtypes and values in
float32), torch's errors.

Singular vectors and eigenvectors are defined up to a sign per vector: the cases return
what does not depend on it (squares of the entries, u_i v_i^T), as a loss that can be
differentiated must (torch's svd_backward / eigh_backward say the same)."""
import math

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.linalg  # noqa: F401


def _square(*shape, shift=3.0):
    def make(rng):
        return [rng.standard_normal(shape) + shift * np.eye(shape[-1])]
    return make


def _spd(t, a):
    """A symmetric positive-definite matrix built from a (so gradients reach all of a)."""
    n = a.shape[-1]
    return a @ a.mT + 3 * t.eye(n, dtype=a.dtype)


def _svd_parts(t, a, full=False):
    U, S, Vh = t.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    U, Vh = U[..., :k], Vh[..., :k, :]
    return S, U * U, Vh * Vh, U[..., :, :1] * Vh[..., :1, :]


def _eigh_parts(t, a, uplo="L"):
    L, V = t.linalg.eigh(a + a.mT, UPLO=uplo)
    return L, V * V


CASES = [
    Case("svd_tall", lambda t, a: _svd_parts(t, a), [(5, 3)]),
    Case("svd_wide", lambda t, a: _svd_parts(t, a), [(3, 5)]),
    Case("svd_square_batch", lambda t, a: _svd_parts(t, a), [(2, 3, 3)]),
    Case("svd_full_matrices", lambda t, a: _svd_parts(t, a, True), [(2, 4, 3)]),
    Case("svd_values_only_grad", lambda t, a: t.linalg.svd(a)[1], [(4, 3)]),
    Case("svd_fields", lambda t, a: t.linalg.svd(a, full_matrices=False).S, [(3, 4)]),
    Case("qr_tall", lambda t, a: tuple(t.linalg.qr(a)), [(5, 3)]),
    Case("qr_square_batch", lambda t, a: tuple(t.linalg.qr(a)), [(2, 3, 3)]),
    Case("qr_wide", lambda t, a: tuple(t.linalg.qr(a)), [(3, 5)]),
    Case("qr_complete_wide", lambda t, a: tuple(t.linalg.qr(a, mode="complete")), [(3, 4)]),
    Case("qr_Q_only", lambda t, a: t.linalg.qr(a).Q, [(4, 3)]),
    Case("qr_R_only", lambda t, a: t.linalg.qr(a).R, [(4, 3)]),
    Case("qr_mode_r", lambda t, a: t.linalg.qr(a, mode="r").R, [(4, 3)], grad=False),
    Case("eigh", lambda t, a: _eigh_parts(t, a), [(4, 4)]),
    Case("eigh_upper_batch", lambda t, a: _eigh_parts(t, a, "U"), [(2, 3, 3)]),
    Case("eigh_values_only_grad", lambda t, a: t.linalg.eigh(a + a.mT).eigenvalues, [(3, 3)]),
    Case("eigvalsh", lambda t, a: t.linalg.eigvalsh(a + a.mT), [(2, 4, 4)]),
    Case("eigvalsh_upper", lambda t, a: t.linalg.eigvalsh(a, UPLO="U"), [(3, 3)], grad=False),
    Case("cholesky", lambda t, a: t.linalg.cholesky(_spd(t, a)), [(4, 4)]),
    Case("cholesky_upper_batch", lambda t, a: t.linalg.cholesky(_spd(t, a), upper=True),
         [(2, 3, 3)]),
    Case("cholesky_reads_lower_triangle", lambda t, a: t.linalg.cholesky(
        _spd(t, a).detach().tril() + t.ones(3, 3, dtype=a.dtype).triu(1) * 50), [(3, 3)],
        grad=False),
    Case("slogdet", lambda t, a: tuple(t.linalg.slogdet(a)), make=_square(3, 3)),
    Case("slogdet_negative_batch", lambda t, a: tuple(t.linalg.slogdet(a)),
         make=lambda rng: [rng.standard_normal((2, 3, 3)) + 3 * np.diag([1.0, 1.0, -1.0])]),
    Case("logdet", lambda t, a: t.logdet(a), make=_square(2, 3, 3)),
    Case("logdet_negative_is_nan", lambda t, a: t.logdet(a),
         make=lambda rng: [np.diag([1.0, -2.0])], grad=False),
    Case("slogdet_legacy_method", lambda t, a: a.slogdet()[1], make=_square(3, 3)),
    Case("lstsq_tall", lambda t, a, b: t.linalg.lstsq(a, b).solution, [(5, 3), (5, 2)]),
    Case("lstsq_batch_broadcast", lambda t, a, b: t.linalg.lstsq(a, b).solution,
         [(2, 4, 3), (1, 4, 2)]),
    Case("lstsq_vector", lambda t, a, b: t.linalg.lstsq(a, b).solution, [(4, 3), (4,)]),
    Case("lstsq_wide", lambda t, a, b: t.linalg.lstsq(a, b, driver="gelsd").solution,
         [(3, 5), (3, 2)]),
    Case("lstsq_gelsd_residuals", lambda t, a, b: tuple(t.linalg.lstsq(a, b, driver="gelsd"))[:2],
         [(5, 3), (5, 2)]),
    Case("lstsq_gelsd_rank_values", lambda t, a, b: tuple(
        t.linalg.lstsq(a, b, driver="gelsd"))[2:], [(5, 3), (5, 2)], grad=False),
    Case("lstsq_gelsy_rank", lambda t, a, b: tuple(t.linalg.lstsq(a, b))[2:],
         [(5, 3), (5, 2)], grad=False),
    Case("pinv_tall", lambda t, a: t.linalg.pinv(a), [(5, 3)]),
    Case("pinv_wide_batch", lambda t, a: t.linalg.pinv(a), [(2, 3, 4)]),
    Case("pinv_hermitian", lambda t, a: t.linalg.pinv(_spd(t, a), hermitian=True), [(3, 3)]),
    Case("pinv_rank_deficient", lambda t, a: t.linalg.pinv(a @ a.mT),
         [(4, 2)], grad=False),
    Case("pinv_atol", lambda t, a: t.linalg.pinv(a, atol=0.5), [(4, 4)], grad=False),
    Case("pinverse", lambda t, a: t.pinverse(a), [(3, 4)]),
    Case("matrix_rank", lambda t, a: t.linalg.matrix_rank(a), [(2, 4, 3)], grad=False),
    Case("matrix_rank_deficient", lambda t, a: t.linalg.matrix_rank(a @ a.mT),
         [(2, 4, 2)], grad=False),
    Case("matrix_rank_tol", lambda t, a: t.linalg.matrix_rank(a, atol=1.0, rtol=0.0),
         [(4, 4)], grad=False),
    Case("matrix_rank_hermitian", lambda t, a: t.linalg.matrix_rank(a @ a.mT, hermitian=True),
         [(4, 2)], grad=False),
    Case("solve_triangular_upper", lambda t, a, b: t.linalg.solve_triangular(a, b, upper=True),
         make=lambda rng: [rng.standard_normal((3, 3)) + 3 * np.eye(3),
                           rng.standard_normal((3, 2))]),
    Case("solve_triangular_lower_right", lambda t, a, b: t.linalg.solve_triangular(
        a, b, upper=False, left=False), make=lambda rng: [
            rng.standard_normal((2, 3, 3)) + 3 * np.eye(3), rng.standard_normal((2, 4, 3))]),
    Case("solve_triangular_unit", lambda t, a, b: t.linalg.solve_triangular(
        a, b, upper=False, unitriangular=True), [(3, 3), (3, 2)]),
    Case("cross", lambda t, a, b: t.linalg.cross(a, b), [(4, 3), (4, 3)]),
    Case("cross_broadcast_dim", lambda t, a, b: t.linalg.cross(a, b, dim=1),
         [(2, 3, 1), (1, 3, 4)]),
    Case("cross_legacy_dim", lambda t, a, b: t.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    Case("cross_method", lambda t, a, b: a.cross(b, dim=-1), [(2, 3), (2, 3)]),
    Case("cdist_p2", lambda t, a, b: t.cdist(a, b), [(5, 3), (4, 3)]),
    Case("cdist_p1_batch", lambda t, a, b: t.cdist(a, b, p=1), [(2, 4, 3), (2, 5, 3)]),
    Case("cdist_p3_broadcast", lambda t, a, b: t.cdist(a, b, p=3), [(2, 1, 4, 3), (3, 5, 3)]),
    Case("cdist_inf", lambda t, a, b: t.cdist(a, b, p=math.inf), [(4, 3), (5, 3)]),
    Case("cdist_p0", lambda t, a, b: t.cdist(a, b, p=0), [(4, 3), (5, 3)], grad=False),
    Case("cdist_p2_mm_path", lambda t, a, b: t.cdist(a, b), [(30, 3), (27, 3)],
         gradgrad=False),
    Case("cdist_donot_use_mm", lambda t, a, b: t.cdist(
        a, b, compute_mode="donot_use_mm_for_euclid_dist"), [(30, 2), (3, 2)]),
    Case("trace", lambda t, a: t.trace(a), [(3, 4)]),
    Case("trace_method", lambda t, a: a.trace(), [(4, 4)]),
    Case("trace_int", lambda t, a: t.trace(a),
         make=lambda rng: [rng.integers(-5, 5, (3, 3)).astype(np.int32)]),
    Case("svd_legacy", lambda t, a: _legacy_svd(t, a), [(4, 3)]),
    Case("svd_legacy_not_some", lambda t, a: _legacy_svd(t, a, some=False), [(3, 4)]),
    Case("svd_legacy_values", lambda t, a: t.svd(a, compute_uv=False), [(4, 3)], grad=False),
    Case("qr_legacy", lambda t, a: tuple(t.qr(a)), [(4, 3)]),
    Case("qr_legacy_complete", lambda t, a: tuple(a.qr(some=False)), [(2, 3)]),
    Case("cholesky_legacy", lambda t, a: t.cholesky(_spd(t, a)), [(3, 3)]),
    Case("cholesky_legacy_upper_method", lambda t, a: _spd(t, a).cholesky(upper=True),
         [(3, 3)]),
    Case("kron", lambda t, a, b: t.kron(a, b), [(2, 3), (3, 2)]),
    Case("tensordot", lambda t, a, b: t.tensordot(a, b, dims=([1, 2], [0, 1])),
         [(2, 3, 4), (3, 4, 2)]),
]


def _legacy_svd(t, a, some=True):
    U, S, V = t.svd(a, some=some)
    k = S.shape[-1]
    return S, U[..., :k] * U[..., :k], V[..., :k] * V[..., :k]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def test_named_fields_and_dtypes():
    a = dark.randn(2, 4, 3)
    result = dark.linalg.svd(a, full_matrices=False)
    assert result._fields == ("U", "S", "Vh") and result.S.shape == (2, 3)
    assert result.U.shape == (2, 4, 3) and result.Vh.shape == (2, 3, 3)
    assert dark.linalg.qr(a)._fields == ("Q", "R")
    assert dark.linalg.eigh(a[..., :3, :])._fields == ("eigenvalues", "eigenvectors")
    assert dark.linalg.slogdet(a[..., :3, :])._fields == ("sign", "logabsdet")
    assert dark.linalg.lstsq(a, a)._fields == ("solution", "residuals", "rank",
                                               "singular_values")
    assert dark.svd(a)._fields == ("U", "S", "V")
    assert dark.linalg.matrix_rank(a).dtype == dark.int64
    for name in ("linalg_svd", "linalg_qr"):
        assert repr(getattr(dark.linalg, name[7:])(a[0])).startswith(
            f"torch.return_types.{name}(\nU=" if name == "linalg_svd"
            else f"torch.return_types.{name}(\nQ=")


def test_reconstructions(device):
    rng = np.random.default_rng(0)
    A = dark.tensor(rng.standard_normal((3, 5, 4)), device=device)
    U, S, Vh = dark.linalg.svd(A)
    back = U[..., :4] @ dark.diag_embed(S) @ Vh
    np.testing.assert_allclose(back.cpu().numpy(), A.cpu().numpy(), atol=1e-12)
    Q, R = dark.linalg.qr(A, mode="complete")
    assert Q.shape == (3, 5, 5) and R.shape == (3, 5, 4)
    np.testing.assert_allclose((Q @ R).cpu().numpy(), A.cpu().numpy(), atol=1e-12)
    S2 = A.mT @ A
    L, V = dark.linalg.eigh(S2)
    np.testing.assert_allclose((V @ dark.diag_embed(L) @ V.mT).cpu().numpy(),
                               S2.cpu().numpy(), atol=1e-11)
    C = dark.linalg.cholesky(S2)
    np.testing.assert_allclose((C @ C.mT).cpu().numpy(), S2.cpu().numpy(), atol=1e-11)
    P = dark.linalg.pinv(A)
    np.testing.assert_allclose((A @ P @ A).cpu().numpy(), A.cpu().numpy(), atol=1e-11)
    sign, logabs = dark.linalg.slogdet(S2)
    np.testing.assert_allclose((sign * logabs.exp()).cpu().numpy(),
                               dark.linalg.det(S2).cpu().numpy(), rtol=1e-10)


def test_tril_triu_indices(lib):
    for row, col, offset in ((3, 3, 0), (3, 4, 1), (4, 3, -1), (0, 3, 0), (3, 5, -5),
                             (2, 2, 4)):
        lower = lib.tril_indices(row, col, offset)
        upper = lib.triu_indices(row, col, offset)
        rows, cols = np.tril_indices(row, offset, col)
        assert lower.tolist() == [rows.tolist(), cols.tolist()]
        rows, cols = np.triu_indices(row, offset, col)
        assert upper.tolist() == [rows.tolist(), cols.tolist()]
        assert lower.dtype == lib.int64
    assert lib.tril_indices(3, 3, dtype=lib.int32).dtype == lib.int32


@pytest.fixture(params=LIBS)
def lib(request):
    return request.param


def _mat(t, *shape, dtype="float32"):
    return t.ones(*shape, dtype=getattr(t, dtype))


ERRORS = [
    ("qr_1d", lambda t: t.linalg.qr(_mat(t, 3))),
    ("qr_mode", lambda t: t.linalg.qr(_mat(t, 3, 3), mode="x")),
    ("svd_1d", lambda t: t.linalg.svd(_mat(t, 3))),
    ("svd_driver", lambda t: t.linalg.svd(_mat(t, 3, 3), driver="gesvd")),
    ("eigh_square", lambda t: t.linalg.eigh(_mat(t, 3, 4))),
    ("eigh_uplo", lambda t: t.linalg.eigh(_mat(t, 3, 3), UPLO="X")),
    ("eigvalsh_square", lambda t: t.linalg.eigvalsh(_mat(t, 2, 3))),
    ("cholesky_not_pd", lambda t: t.linalg.cholesky(-t.eye(3))),
    ("cholesky_not_pd_second_minor", lambda t: t.linalg.cholesky(
        t.tensor([[1.0, 2.0], [2.0, 1.0]]))),
    ("cholesky_not_pd_batch", lambda t: t.linalg.cholesky(
        t.stack([t.eye(3), -t.eye(3)]))),
    ("cholesky_square", lambda t: t.linalg.cholesky(_mat(t, 3, 4))),
    ("cholesky_int", lambda t: t.linalg.cholesky(_mat(t, 3, 3, dtype="long"))),
    ("slogdet_square", lambda t: t.linalg.slogdet(_mat(t, 3, 4))),
    ("lstsq_rows", lambda t: t.linalg.lstsq(_mat(t, 3, 4), _mat(t, 2, 2))),
    ("lstsq_driver", lambda t: t.linalg.lstsq(_mat(t, 3, 4), _mat(t, 3, 2), driver="bad")),
    ("cross_length", lambda t: t.linalg.cross(_mat(t, 3, 2), _mat(t, 3, 2))),
    ("cross_ndim", lambda t: t.linalg.cross(_mat(t, 3, 3), _mat(t, 3, 2, 3))),
    ("matrix_rank_1d", lambda t: t.linalg.matrix_rank(_mat(t, 3))),
    ("trace_1d", lambda t: t.trace(_mat(t, 3))),
    ("trace_3d", lambda t: t.trace(_mat(t, 2, 3, 3))),
    ("cdist_1d", lambda t: t.cdist(_mat(t, 3), _mat(t, 3))),
    ("cdist_columns", lambda t: t.cdist(_mat(t, 3, 2), _mat(t, 4, 3))),
    ("cdist_negative_p", lambda t: t.cdist(_mat(t, 3, 2), _mat(t, 4, 2), p=-1)),
    ("cdist_mode", lambda t: t.cdist(_mat(t, 3, 2), _mat(t, 4, 2), compute_mode="x")),
    ("pinv_1d", lambda t: t.linalg.pinv(_mat(t, 3))),
    ("solve_triangular_shapes", lambda t: t.linalg.solve_triangular(
        _mat(t, 3, 3), _mat(t, 4, 2), upper=True)),
]


@requires_torch
@pytest.mark.parametrize("fn", [e[1] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_torch(fn):
    try:
        fn(torch)
    except torch.linalg.LinAlgError as error:  # torch._C._LinAlgError: compare the words
        with pytest.raises(dark.linalg.LinAlgError) as got:
            fn(dark)
        assert str(got.value) == str(error)
        return
    except Exception:  # noqa: BLE001 - raises_like compares it
        pass
    raises_like(lambda: fn(dark), lambda: fn(torch))


def test_errors_without_torch():
    with pytest.raises(dark.linalg.LinAlgError, match=r"\(Batch element 1\): The factorization "
                       r"could not be completed because the input is not positive-definite "
                       r"\(the leading minor of order 1 is not positive-definite\)"):
        dark.linalg.cholesky(dark.stack([dark.eye(3), -dark.eye(3)]))
    assert issubclass(dark.linalg.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x'"):
        dark.linalg.qr(dark.ones(3, 3), mode="x")
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 1"):
        dark.trace(dark.ones(3))


def test_qr_mode_r_and_complete_tall_not_differentiable():
    a = dark.randn(4, 3, dtype=dark.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="The derivative of linalg.qr depends on Q"):
        dark.linalg.qr(a, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows"):
        dark.linalg.qr(a, mode="complete").Q.sum().backward()


def test_grad_fn_names():
    a = dark.randn(3, 3, requires_grad=True)
    assert type(dark.linalg.svd(a).S.grad_fn).__name__ == "LinalgSvdBackward0"
    assert type(dark.linalg.qr(a).R.grad_fn).__name__ == "LinalgQrBackward0"
    assert type(dark.linalg.eigh(a).eigenvectors.grad_fn).__name__ == "LinalgEighBackward0"
    assert type(dark.linalg.slogdet(a).logabsdet.grad_fn).__name__ == "LinalgSlogdetBackward0"
    assert dark.linalg.slogdet(a).sign.requires_grad  # as torch's (its gradient is zero)


@requires_torch
def test_cross_default_dim_warns_like_torch():
    a, b = np.random.default_rng(0).standard_normal((2, 2, 3, 4))
    with pytest.warns(UserWarning, match="Using dark.cross without specifying the dim"):
        got = dark.cross(dark.tensor(a), dark.tensor(b))
    with pytest.warns(UserWarning):
        expected = torch.cross(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-12)


MORE_CASES = [
    Case("solve_left_false", lambda t, a, b: t.linalg.solve(a, b, left=False),
         make=lambda rng: [rng.standard_normal((2, 3, 3)) + 3 * np.eye(3),
                           rng.standard_normal((2, 4, 3))]),
    Case("det_new", lambda t, a: t.linalg.det(a), make=_square(2, 3, 3)),
    Case("det_singular_rank_one", lambda t, a: t.det(a),
         make=lambda rng: [np.outer(rng.standard_normal(3), rng.standard_normal(3))],
         gradgrad=False),
    Case("det_method_1x1_new", lambda t, a: a.det(), make=_square(2, 1, 1)),
    Case("matrix_power_3", lambda t, a: t.linalg.matrix_power(a, 3), [(2, 3, 3)]),
    Case("matrix_power_negative", lambda t, a: t.linalg.matrix_power(a, -2),
         make=_square(3, 3)),
    Case("matrix_power_zero", lambda t, a: t.matrix_power(a, 0), [(2, 2, 2)], grad=False),
    Case("matrix_exp", lambda t, a: t.linalg.matrix_exp(a), [(2, 3, 3)]),
    Case("matrix_exp_large_norm", lambda t, a: t.matrix_exp(a * 4), [(3, 3)], gradgrad=False),
    Case("diagonal", lambda t, a: t.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
    Case("vander", lambda t, a: t.linalg.vander(a, N=4), [(2, 3)]),
    Case("cond", lambda t, a: t.linalg.cond(a), [(2, 4, 3)]),
    # (torch's backward of cond(A, 'fro') fails: "modified by an inplace operation", its
    # inv_ex output; dark's is checked by gradcheck below)
    Case("cond_fro", lambda t, a: t.linalg.cond(a, "fro"), make=_square(3, 3), grad=False),
    Case("cond_minus_two", lambda t, a: t.linalg.cond(a, -2), [(3, 3)]),
    Case("tensorinv", lambda t, a: t.linalg.tensorinv(a, ind=1),
         make=lambda rng: [rng.standard_normal((4, 2, 2)) + 3 * np.eye(4).reshape(4, 2, 2)]),
    Case("tensorsolve", lambda t, a, b: t.linalg.tensorsolve(a, b),
         make=lambda rng: [rng.standard_normal((6, 2, 3)) + 3 * np.eye(6).reshape(6, 2, 3),
                           rng.standard_normal(6)]),
    Case("cholesky_solve", lambda t, b, a: t.cholesky_solve(b, t.linalg.cholesky(_spd(t, a))),
         [(3, 2), (3, 3)]),
    Case("cholesky_solve_upper", lambda t, b, a: t.cholesky_solve(
        b, t.linalg.cholesky(_spd(t, a), upper=True), upper=True), [(2, 3, 2), (2, 3, 3)]),
    Case("cholesky_inverse", lambda t, a: t.cholesky_inverse(t.linalg.cholesky(_spd(t, a))),
         [(3, 3)]),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=ids(MORE_CASES))
def test_more_ops(case, device):
    check_case(case, device)


MORE_ERRORS = [
    ("matrix_power_square", lambda t: t.linalg.matrix_power(_mat(t, 2, 3), 2)),
    ("matrix_exp_square", lambda t: t.linalg.matrix_exp(_mat(t, 2, 3))),
    ("cond_norm", lambda t: t.linalg.cond(_mat(t, 3, 3), "x")),
    ("cond_square", lambda t: t.linalg.cond(_mat(t, 3, 4), 1)),
    ("vander_n", lambda t: t.linalg.vander(_mat(t, 3), N=1)),
    ("solve_left_false_vector", lambda t: t.linalg.solve(t.eye(3), t.ones(3), left=False)),
    ("solve_left_false_shapes", lambda t: t.linalg.solve(t.eye(3), t.ones(3, 2), left=False)),
]


@requires_torch
@pytest.mark.parametrize("fn", [e[1] for e in MORE_ERRORS], ids=[e[0] for e in MORE_ERRORS])
def test_more_errors_match_torch(fn):
    raises_like(lambda: fn(dark), lambda: fn(torch))


def test_chain_matmul_warns():
    a, b = dark.ones(2, 3), dark.ones(3, 4)
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        assert dark.chain_matmul(a, b).tolist() == (a @ b).tolist()


def test_cond_fro_gradcheck():
    a = dark.tensor(np.eye(3) * 3 + np.random.default_rng(1).standard_normal((3, 3)),
                    requires_grad=True)
    assert dark.autograd.gradcheck(lambda x: dark.linalg.cond(x, "fro"), [a])


def test_singular_det_gradient_closed_form():
    # d det / dA is the cofactor matrix, nonzero for a matrix of rank n - 1 (torch's singular
    # branch, through the SVD; torch's LU path gives 0 here when det comes out exactly 0)
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    x = dark.tensor(a, requires_grad=True)
    dark.linalg.det(x).backward()
    cofactors = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j)
                           for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(x.grad.numpy(), cofactors, atol=1e-12)


def _eig_loss(lib, L, V, weights):
    """A loss that does not depend on the eigenvectors' phases: |V|^2 and the eigenvalues."""
    return ((L.real * weights).sum() + (L.imag ** 2).sum()
            + (V.abs() ** 2 * lib.arange(V.shape[-1], dtype=weights.dtype)).sum())


@requires_torch
@pytest.mark.parametrize("complex_input", [False, True])
def test_eig_matches_torch(complex_input):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((2, 4, 4))
    if complex_input:
        A = A + 1j * rng.standard_normal((2, 4, 4))
    W = rng.standard_normal((2, 4))
    results = []
    for lib in (dark, torch):
        a = lib.tensor(A, requires_grad=True)
        L, V = lib.linalg.eig(a)
        _eig_loss(lib, L, V, lib.tensor(W)).backward()
        # (the eigenvectors' phases are LAPACK's choice: compare |V|)
        results.append((L.detach().numpy(), V.abs().detach().numpy(), a.grad.numpy(),
                        lib.linalg.eigvals(lib.tensor(A)).numpy(), str(L.dtype)))
    for got, expected in zip(results[0][:4], results[1][:4]):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    assert results[0][4].split(".")[-1] == results[1][4].split(".")[-1]
    single = dark.linalg.eig(dark.tensor(A, dtype=dark.complex64 if complex_input
                                         else dark.float32))
    assert single.eigenvalues.dtype == dark.complex64 and single._fields == (
        "eigenvalues", "eigenvectors")


def test_eig_gradcheck_and_phase_error():
    a = dark.tensor(np.random.default_rng(4).standard_normal((3, 3)), requires_grad=True)
    weights = dark.tensor([0.3, -1.2, 0.7], dtype=dark.float64)

    def f(x):
        L, V = dark.linalg.eig(x)
        return _eig_loss(dark, L, V, weights)

    assert dark.autograd.gradcheck(f, [a])
    with pytest.raises(RuntimeError, match="The eigenvectors in the complex case are "
                       "specified up to multiplication by e\\^\\{i phi\\}"):
        L, V = dark.linalg.eig(a)
        V.real.sum().backward()


COMPLEX_LOSSES = {
    "svd": lambda lib, a: (lambda U, S, Vh: S.sum() + (U[:, :1] * Vh[:1, :]).abs().sum()
                           + (U.abs() ** 2 * lib.arange(U.shape[-1])).sum())(
        *lib.linalg.svd(a, full_matrices=False)),
    "qr": lambda lib, a: (lambda Q, R: (Q.real ** 2).sum() + (R * R.conj()).real.sum()
                          + R.imag.sum())(*lib.linalg.qr(a)),
    "eigh": lambda lib, a: (lambda L, V: L.sum() * 2 + (V.abs() ** 3).sum())(
        *lib.linalg.eigh(a @ a.mH)),
    "cholesky": lambda lib, a: lib.linalg.cholesky(a @ a.mH + lib.eye(a.shape[0])).abs().sum(),
    "pinv": lambda lib, a: lib.linalg.pinv(a).abs().sum(),
    "slogdet": lambda lib, a: (lambda s, l: (s * lib.tensor(1 + 2j)).real + l)(
        *lib.linalg.slogdet(a[:3, :3])),
    "det": lambda lib, a: (lib.linalg.det(a[:3, :3]) * lib.tensor(0.5 - 1j)).real,
}


@requires_torch
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
@pytest.mark.parametrize("name", sorted(COMPLEX_LOSSES))
def test_complex_decomposition_gradients_match_torch(name, shape):
    rng = np.random.default_rng(5)
    A = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    grads = []
    for lib in (dark, torch):
        a = lib.tensor(A, requires_grad=True)
        COMPLEX_LOSSES[name](lib, a).backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)
