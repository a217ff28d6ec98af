"""Op-table cases and error checks for the linear-algebra family (dark/ops/linalg.py and the
dark.linalg namespace)."""
import math

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, requires_torch, torch

import dark
import dark.linalg  # noqa: F401 - makes dark.linalg available to the lambdas below


def _square(*shape, shift=3.0):
    """Random (batches of) square matrices kept away from singular by a diagonal shift."""
    def make(rng):
        n = shape[-1]
        return [rng.standard_normal(shape) + shift * np.eye(n)]
    return make


PRODUCTS = [
    Case("matmul_dot", lambda t, a, b: t.matmul(a, b), [(3,), (3,)]),
    Case("matmul_mm", lambda t, a, b: a @ b, [(2, 3), (3, 4)]),
    Case("matmul_vec_mat", lambda t, a, b: a @ b, [(3,), (3, 4)]),
    Case("matmul_mat_vec", lambda t, a, b: a @ b, [(2, 3), (3,)]),
    Case("matmul_bmm", lambda t, a, b: a @ b, [(2, 2, 3), (2, 3, 4)]),
    Case("matmul_batch_mat", lambda t, a, b: a @ b, [(2, 2, 3), (3, 4)]),
    Case("matmul_4d_mat", lambda t, a, b: a.matmul(b), [(2, 2, 2, 3), (3, 4)]),
    Case("matmul_mat_batch", lambda t, a, b: a @ b, [(2, 3), (2, 3, 4)]),
    Case("matmul_vec_batch", lambda t, a, b: a @ b, [(3,), (2, 3, 4)]),
    Case("matmul_batch_vec", lambda t, a, b: a @ b, [(2, 2, 3), (3,)]),
    Case("matmul_broadcast_batch", lambda t, a, b: a @ b, [(2, 1, 2, 3), (3, 3, 2)]),
    Case("matmul_empty_inner", lambda t, a, b: a @ b, [(2, 0), (0, 3)], gradgrad=False),
    Case("matmul_empty_rows", lambda t, a, b: a @ b, [(0, 3), (3, 2)], gradgrad=False),
    Case("matmul_int", lambda t, a, b: a @ b,
         make=lambda rng: [rng.integers(-5, 5, (2, 3)), rng.integers(-5, 5, (3, 2))]),
    Case("matmul_chain_same_input", lambda t, a: (a @ a) @ a, [(3, 3)]),
    Case("mm", lambda t, a, b: t.mm(a, b), [(3, 2), (2, 4)]),
    Case("mm_method", lambda t, a, b: a.mm(b), [(1, 2), (2, 1)]),
    Case("bmm", lambda t, a, b: t.bmm(a, b), [(2, 3, 2), (2, 2, 4)]),
    Case("mv", lambda t, a, b: t.mv(a, b), [(3, 2), (2,)]),
    Case("dot", lambda t, a, b: t.dot(a, b), [(4,), (4,)]),
    Case("dot_method", lambda t, a, b: a.dot(b), [(1,), (1,)]),
    Case("vdot", lambda t, a, b: t.vdot(a, b), [(4,), (4,)]),
    Case("addmm", lambda t, c, a, b: t.addmm(c, a, b), [(2, 4), (2, 3), (3, 4)]),
    Case("addmm_beta_alpha_broadcast",
         lambda t, c, a, b: t.addmm(c, a, b, beta=0.5, alpha=-2.0), [(4,), (2, 3), (3, 4)]),
    Case("addmm_beta0", lambda t, c, a, b: c.addmm(a, b, beta=0), [(2, 4), (2, 3), (3, 4)]),
    Case("addmv", lambda t, c, a, b: t.addmv(c, a, b, alpha=2), [(2,), (2, 3), (3,)]),
    Case("baddbmm", lambda t, c, a, b: t.baddbmm(c, a, b, beta=2),
         [(1, 4), (2, 2, 3), (2, 3, 4)]),
    Case("addbmm", lambda t, c, a, b: t.addbmm(c, a, b), [(2, 4), (2, 2, 3), (2, 3, 4)]),
]

EINSUM = [
    Case("einsum_mm", lambda t, a, b: t.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    Case("einsum_implicit", lambda t, a, b: t.einsum("ba,ab", a, b), [(2, 3), (3, 2)]),
    Case("einsum_implicit_order", lambda t, a, b: t.einsum("jB,Bi", a, b), [(2, 3), (3, 4)]),
    Case("einsum_list", lambda t, a, b: t.einsum("bij,bjk->bik", [a, b]),
         [(2, 2, 3), (2, 3, 2)]),
    Case("einsum_diagonal", lambda t, a: t.einsum("ii->i", a), [(3, 3)]),
    Case("einsum_trace", lambda t, a: t.einsum("ii", a), [(3, 3)]),
    Case("einsum_batch_trace", lambda t, a: t.einsum("bii->b", a), [(2, 3, 3)]),
    Case("einsum_sum_all", lambda t, a: t.einsum("ij->", a), [(2, 3)]),
    Case("einsum_sum_rows", lambda t, a: t.einsum("ij->j", a), [(2, 3)]),
    Case("einsum_transpose", lambda t, a: t.einsum("ij->ji", a), [(2, 3)]),
    Case("einsum_outer", lambda t, a, b: t.einsum("i,j->ij", a, b), [(2,), (3,)]),
    Case("einsum_diag_times", lambda t, a, b: t.einsum("ii,i->i", a, b), [(3, 3), (3,)]),
    Case("einsum_three", lambda t, a, b, c: t.einsum("ij,jk,kl->il", a, b, c),
         [(2, 3), (3, 2), (2, 2)]),
    Case("einsum_ellipsis_broadcast", lambda t, a, b: t.einsum("...ij,...jk->...ik", a, b),
         [(2, 1, 2, 3), (3, 3, 2)]),
    Case("einsum_ellipsis_implicit", lambda t, a, b: t.einsum("...ij,...jk", a, b),
         [(2, 2, 3), (3, 2)]),
    Case("einsum_label_broadcast", lambda t, a, b: t.einsum("ij,ij->ij", a, b),
         [(3, 1), (3, 4)]),
    Case("einsum_repeated_apart", lambda t, a: t.einsum("iji->j", a), [(2, 3, 2)]),
    Case("einsum_two_diagonals", lambda t, a: t.einsum("iijj->ij", a), [(2, 2, 3, 3)]),
    Case("einsum_three_broadcast", lambda t, a, b, c: t.einsum("ij,ij,ij->", a, b, c),
         [(2, 3), (1, 3), (2, 1)]),
    Case("einsum_ellipsis_middle", lambda t, a, b: t.einsum("a...,...b->...ab", a, b),
         [(2, 3), (3, 1)]),
    Case("einsum_0d_operand", lambda t, a, b: t.einsum(",ij->ij", a, b), [(), (2, 3)]),
    Case("tensordot_2", lambda t, a, b: t.tensordot(a, b), [(2, 3, 4), (3, 4, 2)]),
    Case("tensordot_1", lambda t, a, b: t.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    Case("tensordot_0", lambda t, a, b: t.tensordot(a, b, dims=0), [(2,), (3,)]),
    Case("tensordot_lists", lambda t, a, b: t.tensordot(a, b, dims=([1, 0], [0, 2])),
         [(2, 3, 4), (3, 4, 2)]),
    Case("kron", lambda t, a, b: t.kron(a, b), [(2, 3), (2, 2)]),
    Case("kron_ndim", lambda t, a, b: a.kron(b), [(2, 3), (3,)]),
]

NORMS = [
    Case("vector_norm", lambda t, a: t.linalg.vector_norm(a), [(3, 4)]),
    Case("vector_norm_dim", lambda t, a: t.linalg.vector_norm(a, dim=-1), [(2, 3, 4)]),
    Case("vector_norm_dims_keepdim",
         lambda t, a: t.linalg.vector_norm(a, 2, dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    Case("vector_norm_1", lambda t, a: t.linalg.vector_norm(a, 1, dim=0), [(3, 4)]),
    Case("vector_norm_3", lambda t, a: t.linalg.vector_norm(a, 3, dim=1), [(3, 4)]),
    Case("vector_norm_half", lambda t, a: t.linalg.vector_norm(a, 0.5), [(5,)],
         domain="nonzero"),
    Case("vector_norm_neg", lambda t, a: t.linalg.vector_norm(a, -1.5, 1), [(2, 4)],
         domain="nonzero"),
    Case("vector_norm_inf", lambda t, a: t.linalg.vector_norm(a, math.inf, 1), [(3, 4)]),
    Case("vector_norm_ninf", lambda t, a: t.linalg.vector_norm(a, -math.inf), [(3, 4)]),
    Case("vector_norm_0", lambda t, a: t.linalg.vector_norm(a, 0, 1), [(3, 4)]),
    Case("vector_norm_0d", lambda t, a: t.linalg.vector_norm(a), [()]),
    Case("vector_norm_zero_input", lambda t, a: t.linalg.vector_norm(a * 0, dim=1),
         [(2, 3)], gradgrad=False),
    Case("vector_norm_dtype", lambda t, a: t.linalg.vector_norm(a, dtype=t.float64),
         [(3,)], float32=False),
    Case("matrix_norm_fro", lambda t, a: t.linalg.matrix_norm(a), [(2, 3, 4)]),
    Case("matrix_norm_1", lambda t, a: t.linalg.matrix_norm(a, 1), [(3, 4)]),
    Case("matrix_norm_neg1", lambda t, a: t.linalg.matrix_norm(a, -1, keepdim=True),
         [(2, 3, 4)]),
    Case("matrix_norm_inf", lambda t, a: t.linalg.matrix_norm(a, math.inf, dim=(0, 2)),
         [(3, 2, 4)]),
    Case("matrix_norm_ninf", lambda t, a: t.linalg.matrix_norm(a, -math.inf), [(3, 4)]),
    Case("matrix_norm_nuc", lambda t, a: t.linalg.matrix_norm(a, "nuc"), [(2, 3, 4)],
         gradgrad=False),
    Case("matrix_norm_2", lambda t, a: t.linalg.matrix_norm(a, 2, dim=(-1, -2)), [(3, 4)],
         gradgrad=False),
    Case("matrix_norm_neg2_keepdim", lambda t, a: t.linalg.matrix_norm(a, -2, keepdim=True),
         [(2, 4, 3)], gradgrad=False),
    Case("norm_default", lambda t, a: t.linalg.norm(a), [(2, 3, 4)]),
    Case("norm_vector_ord", lambda t, a: t.linalg.norm(a, 3), [(5,)]),
    Case("norm_matrix_ord", lambda t, a: t.linalg.norm(a, "fro"), [(3, 4)]),
    Case("norm_dim_int", lambda t, a: t.linalg.norm(a, dim=1, keepdim=True), [(3, 4)]),
    Case("norm_dim_pair", lambda t, a: t.linalg.norm(a, 1, dim=(2, 0)), [(3, 2, 4)]),
    Case("svdvals", lambda t, a: t.linalg.svdvals(a), [(2, 4, 3)], gradgrad=False),
]

MATRIX_FUNCTIONS = [
    Case("det", lambda t, a: t.linalg.det(a), make=_square(3, 3)),
    Case("det_batch", lambda t, a: t.det(a), make=_square(2, 3, 3)),
    Case("det_method_1x1", lambda t, a: a.det(), make=_square(1, 1)),
    Case("inv", lambda t, a: t.linalg.inv(a), make=_square(3, 3)),
    Case("inverse_batch", lambda t, a: t.inverse(a), make=_square(2, 3, 3)),
    Case("inverse_method", lambda t, a: a.inverse() @ a, make=_square(2, 2)),
    Case("solve_matrix", lambda t, a, b: t.linalg.solve(a, b),
         make=lambda rng: _square(3, 3)(rng) + [rng.standard_normal((3, 2))]),
    Case("solve_vector", lambda t, a, b: t.linalg.solve(a, b),
         make=lambda rng: _square(3, 3)(rng) + [rng.standard_normal(3)]),
    Case("solve_batch_vectors", lambda t, a, b: t.linalg.solve(a, b),
         make=lambda rng: _square(2, 3, 3)(rng) + [rng.standard_normal((2, 3))]),
    Case("solve_broadcast", lambda t, a, b: t.linalg.solve(a, b),
         make=lambda rng: _square(3, 3)(rng) + [rng.standard_normal((2, 3, 2))]),
    Case("multi_dot", lambda t, a, b, c: t.linalg.multi_dot([a, b, c]),
         [(3,), (3, 2), (2, 4)]),
    Case("linalg_matmul", lambda t, a, b: t.linalg.matmul(a, b), [(2, 3), (3,)]),
    Case("vecdot", lambda t, a, b: t.linalg.vecdot(a, b), [(2, 3), (3,)]),
]

CASES = PRODUCTS + EINSUM + NORMS + MATRIX_FUNCTIONS


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


# ----------------------------------------------------------------------------- errors

def _ones(lib, shape, dtype="float32", requires_grad=False):
    return lib.ones(shape, dtype=getattr(lib, dtype), requires_grad=requires_grad)


F64 = "float64"
ERRORS = [
    ("mm_shapes", lambda t: _ones(t, (64, 784)) @ _ones(t, (512, 10)),
     "mat1 and mat2 shapes cannot be multiplied (64x784 and 512x10)"),
    ("matmul_0d", lambda t: t.matmul(_ones(t, ()), _ones(t, (3,))),
     "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ("dot_sizes", lambda t: _ones(t, (3,)) @ _ones(t, (4,)),
     "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of "
     "elements, but got 3 and 4 elements respectively"),
    ("mv_sizes", lambda t: _ones(t, (3, 4)) @ _ones(t, (5,)),
     "size mismatch, got input (3), mat (3x4), vec (5)"),
    ("vec_mat_sizes", lambda t: _ones(t, (4,)) @ _ones(t, (5, 4)),
     "mat1 and mat2 shapes cannot be multiplied (1x4 and 5x4)"),
    ("batch_mat_sizes", lambda t: _ones(t, (2, 3, 4)) @ _ones(t, (5, 6)),
     "mat1 and mat2 shapes cannot be multiplied (6x4 and 5x6)"),
    ("batch_vec_sizes", lambda t: _ones(t, (2, 3, 4)) @ _ones(t, (5,)),
     "size mismatch, got input (6), mat (6x4), vec (5)"),
    ("mat_batch_grad_sizes",
     lambda t: _ones(t, (5, 6), requires_grad=True) @ _ones(t, (2, 3, 4)),
     "mat1 and mat2 shapes cannot be multiplied (8x3 and 6x5)"),
    ("vec_grad_batch_sizes", lambda t: _ones(t, (5,), requires_grad=True) @ _ones(t, (2, 3, 4)),
     "size mismatch, got input (8), mat (8x3), vec (5)"),
    ("vec_batch_sizes", lambda t: _ones(t, (6,)) @ _ones(t, (2, 3, 4)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 6] but got: [2, 3]."),
    ("batch_batch_sizes", lambda t: _ones(t, (2, 2, 3, 4)) @ _ones(t, (2, 5, 6)),
     "Expected size for first two dimensions of batch2 tensor to be: [4, 4] but got: [4, 5]."),
    ("batch_broadcast", lambda t: _ones(t, (2, 3, 4)) @ _ones(t, (3, 4, 5)),
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
     "dimension 0"),
    ("mm_dtype", lambda t: _ones(t, (2, 3)) @ _ones(t, (3, 4), F64),
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    ("dot_dtype", lambda t: _ones(t, (3,)) @ _ones(t, (3,), F64),
     "dot : expected both vectors to have same dtype, but found Float and Double"),
    ("mv_dtype", lambda t: _ones(t, (3, 4), F64) @ _ones(t, (4,)),
     "addmv input tensors must have the same dtype, but got Float, Double, and Float"),
    ("bmm_dtype", lambda t: _ones(t, (2, 3, 4), F64) @ _ones(t, (2, 4, 5)),
     "expected scalar type Double but found Float"),
    ("int_mm_dtype", lambda t: _ones(t, (2, 2), "int64") @ _ones(t, (2, 2), "int32"),
     "expected m1 and m2 to have the same dtype, but got: long int != int"),
    ("mm_not_matrix", lambda t: t.mm(_ones(t, (3,)), _ones(t, (3, 4))), "self must be a matrix"),
    ("mm_mat2", lambda t: t.mm(_ones(t, (2, 3)), _ones(t, (2, 3, 4))), "mat2 must be a matrix"),
    ("bmm_3d", lambda t: t.bmm(_ones(t, (2, 3)), _ones(t, (2, 3, 4))),
     "batch1 must be a 3D tensor"),
    ("bmm_batches", lambda t: t.bmm(_ones(t, (2, 3, 4)), _ones(t, (3, 4, 5))),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [3, 4]."),
    ("mv_dims", lambda t: t.mv(_ones(t, (2, 3)), _ones(t, (2, 3))),
     "vector + matrix @ vector expected, got 1, 2, 2"),
    ("dot_dims", lambda t: t.dot(_ones(t, (2, 3)), _ones(t, (3,))),
     "1D tensors expected, but got 2D and 1D tensors"),
    ("addmm_input", lambda t: t.addmm(_ones(t, (3,)), _ones(t, (2, 3)), _ones(t, (3, 4))),
     "The expanded size of the tensor (4) must match the existing size (3) at non-singleton "
     "dimension 1.  Target sizes: [2, 4].  Tensor sizes: [3]"),
    ("einsum_sizes", lambda t: t.einsum("ij,jk->ik", _ones(t, (2, 3)), _ones(t, (4, 5))),
     "einsum(): subscript j has size 4 for operand 1 which does not broadcast with "
     "previously seen size 3"),
    ("einsum_output", lambda t: t.einsum("ij->ijk", _ones(t, (2, 3))),
     "einsum(): output subscript k does not appear in the equation for any input operand"),
    ("einsum_operands", lambda t: t.einsum("ij,jk", _ones(t, (2, 3))),
     "einsum(): fewer operands were provided than specified in the equation"),
    ("einsum_ndim", lambda t: t.einsum("ijk", _ones(t, (2, 3))),
     "einsum(): the number of subscripts in the equation (3) does not match the number of "
     "dimensions (2) for operand 0 and no ellipsis was given"),
    ("einsum_repeated", lambda t: t.einsum("ii->i", _ones(t, (2, 3))),
     "einsum(): subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
    ("einsum_repeated_output", lambda t: t.einsum("i->ii", _ones(t, (2,))),
     "einsum(): output subscript i appears more than once in the output"),
    ("einsum_dtype", lambda t: t.einsum("ij,jk", _ones(t, (2, 3)), _ones(t, (3, 4), F64)),
     "expected scalar type Float but found Double"),
    ("tensordot_sizes", lambda t: t.tensordot(_ones(t, (2, 3)), _ones(t, (4, 5)), dims=1),
     "contracted dimensions need to match, but first has size 3 in dim -1 and second has "
     "size 4 in dim 0"),
    ("tensordot_negative", lambda t: t.tensordot(_ones(t, (2, 3)), _ones(t, (3,)), dims=-1),
     "tensordot expects dims >= 0, but got dims=-1"),
    ("tensordot_lists", lambda t: t.tensordot(_ones(t, (2, 3)), _ones(t, (3,)),
                                              dims=([1, 0], [0])),
     "both dimension lists should have same length"),
    ("vector_norm_int", lambda t: t.linalg.vector_norm(_ones(t, (3,), "int64")),
     "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"),
    ("vector_norm_empty_inf", lambda t: t.linalg.vector_norm(_ones(t, (0, 3)), math.inf),
     "linalg.vector_norm cannot compute the inf norm on an empty tensor because the "
     "operation does not have an identity"),
    ("matrix_norm_1d", lambda t: t.linalg.matrix_norm(_ones(t, (3,))),
     "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."),
    ("matrix_norm_ord", lambda t: t.linalg.matrix_norm(_ones(t, (3, 3)), 3),
     "linalg.matrix_norm: Order 3 not supported."),
    ("matrix_norm_dims", lambda t: t.linalg.matrix_norm(_ones(t, (3, 3)), dim=(0, 0)),
     "linalg.matrix_norm: dims must be different. Got (0, 0)"),
    ("norm_3d_ord", lambda t: t.linalg.norm(_ones(t, (2, 3, 4)), 2),
     "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."),
    ("inv_square", lambda t: t.linalg.inv(_ones(t, (2, 3))),
     "linalg.inv: A must be batches of square matrices, but they are 2 by 3 matrices"),
    ("inv_int", lambda t: t.linalg.inv(_ones(t, (3, 3), "int64")),
     "linalg.inv: Expected a floating point or complex tensor as input. Got Long"),
    ("det_1d", lambda t: t.linalg.det(_ones(t, (3,))),
     "linalg.det: The input tensor A must have at least 2 dimensions."),
    ("solve_shapes", lambda t: t.linalg.solve(_ones(t, (3, 3)), _ones(t, (4, 2))),
     "linalg.solve: Incompatible shapes of A and B for the equation AX = B (3x3 and 4x2)"),
    ("solve_vector_shape", lambda t: t.linalg.solve(_ones(t, (3, 3)), _ones(t, (4,))),
     "linalg.solve: Incompatible shapes of A and B for the equation AX = B (3x3 and 4x1)"),
    ("solve_dtype", lambda t: t.linalg.solve(_ones(t, (3, 3)), _ones(t, (3,), F64)),
     "linalg.solve: Expected A and B to have the same dtype, but found A of type Float and "
     "B of type Double instead"),
]


@pytest.mark.parametrize("fn,message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
@pytest.mark.parametrize("lib", LIBS)
def test_error(lib, fn, message):
    with pytest.raises(RuntimeError) as info:
        fn(lib)
    assert str(info.value) == message


@pytest.mark.parametrize("lib", LIBS)
def test_bool_matmul_not_implemented(lib):
    a = lib.ones((2, 2), dtype=lib.bool)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        a @ a


def test_singular_matrices():
    with pytest.raises(RuntimeError, match="singular"):
        dark.linalg.inv(dark.zeros(3, 3))
    with pytest.raises(RuntimeError, match="singular"):
        dark.linalg.solve(dark.zeros(3, 3), dark.ones(3))


def test_svdvals_second_derivative_raises():
    a = dark.tensor(np.arange(6.0).reshape(2, 3) ** 2, requires_grad=True)
    (grad,) = dark.autograd.grad(dark.linalg.svdvals(a).sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivative of linalg.svdvals"):
        grad.sum().backward()


# ----------------------------------------------------------------------------- behaviour

def test_grad_fn_names():
    a = dark.ones(3, 3, requires_grad=True)
    v = dark.ones(3, requires_grad=True)
    b = dark.ones(2, 3, 3, requires_grad=True)
    assert (a @ a).grad_fn.name() == "MmBackward0"
    assert (v @ v).grad_fn.name() == "DotBackward0"
    assert (a @ v).grad_fn.name() == "MvBackward0"
    assert dark.bmm(b, b).grad_fn.name() == "BmmBackward0"
    assert dark.vdot(v, v).grad_fn.name() == "VdotBackward0"
    assert (b @ b).grad_fn.name() == "UnsafeViewBackward0"
    assert dark.linalg.vector_norm(a).grad_fn.name() == "LinalgVectorNormBackward0"
    assert dark.linalg.det(a).grad_fn.name() == "LinalgDetBackward0"


def test_float32_stays_float32_and_out():
    a = dark.ones(2, 3)
    b = dark.ones(3, 4)
    out = dark.empty(2, 4)
    result = dark.matmul(a, b, out=out)
    assert result is out and out.dtype == dark.float32
    np.testing.assert_array_equal(out.numpy(), np.full((2, 4), 3.0, np.float32))
    assert dark.einsum("ij,jk", a, b).dtype == dark.float32
    assert dark.linalg.vector_norm(a).dtype == dark.float32
    assert dark.linalg.det(dark.ones(2, 2)).dtype == dark.float32


def test_inplace_addmm():
    c = dark.zeros(2, 2)
    assert c.addmm_(dark.ones(2, 3), dark.ones(3, 2), alpha=2) is c
    np.testing.assert_array_equal(c.numpy(), np.full((2, 2), 6.0, np.float32))


def test_batch_against_matrix_gradient_is_folded():
    # The Linear-layer case: a batch of rows against one weight gives a weight-shaped
    # gradient computed by one product (checked against the explicit sum).
    rng = np.random.default_rng(0)
    x = dark.tensor(rng.standard_normal((4, 5, 3)))
    w = dark.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    (x @ w).sum().backward()
    expected = x.numpy().reshape(-1, 3).sum(0)[:, None].repeat(2, 1)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
                                    ((2, 2, 3), (3, 2)), ((2, 2, 3), (2, 3, 4))])
def test_complex_matmul_gradients_match_torch(shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in shapes]
    results = []
    for lib in (dark, torch):
        a, b = (lib.tensor(x, requires_grad=True) for x in arrays)
        product = a @ b
        seed = np.ones(tuple(product.shape)) * (0.5 - 2j)
        product.backward(lib.tensor(seed))
        results.append([product.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-10)


@requires_torch
def test_complex_vdot_matches_torch():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(3) + 1j * rng.standard_normal(3) for _ in range(2)]
    results = []
    for lib in (dark, torch):
        a, b = (lib.tensor(x, requires_grad=True) for x in arrays)
        product = lib.vdot(a, b)
        product.backward(lib.tensor(1.5 + 0.5j, dtype=lib.complex128))
        results.append([product.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-10)
