"""Linear algebra: matrix products (matmul and its special cases, the add* fused forms),
einsum, tensordot, kron, and the matrix functions of ``dark.linalg`` (norms, det, inv, solve,
svdvals).

Every product goes through one op, ``MatMul``, whose ``transpose_a`` / ``transpose_b`` flags
take the adjoint of an operand on the fly (a strided view, which BLAS reads as is): the
backward formulas are themselves such products, so gradients (and gradients of gradients)
need no transpose op and no copy. Outside a graph (the common backward) a 2-D product's
gradients are raw products, each in its operand's layout: F.linear's ``weight.t()`` gets a
gradient that TBackward0 gives back C-contiguous, as the weight."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._backend import array_module, broadcast_shapes, wrap_dim, wrap_dims
from .._kernels import matmul as matmul_arrays
from .._tensor import Tensor, install_methods, tensor_method
from ..autograd.function import Op
from ..autograd.grad_mode import state as _grad_state
from .elementwise import _maybe_out, where


def _constant(array) -> Tensor:
    """A raw array as a tensor outside the graph (masks, identities used by backward)."""
    if isinstance(array, np.generic):  # numpy gives scalars for 0-d results
        array = np.asarray(array)
    return Tensor._make(array, False, None)


# ----------------------------------------------------------------------------- products

class MatMul(Op):
    """``a @ b`` with numpy/PyTorch matmul semantics (1-D operands, broadcast batch dims).

    ``transpose_a`` / ``transpose_b`` replace a (>= 2-D) operand by its adjoint (the
    transpose of its last two dims, conjugated when complex) first."""

    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, b, transpose_a=False, transpose_b=False):
        ctx.save_for_backward(a, b)
        ctx.transposed = (transpose_a, transpose_b)
        xp = array_module(a)
        if transpose_a:
            a = _adjoint(a)
        if transpose_b:
            b = _adjoint(b)
        if a.ndim > 2 and b.ndim <= 2:
            # A batch against one matrix is one gemm on the folded batch: no per-matrix loop.
            rows = math.prod(a.shape[:-1])
            out = matmul_arrays(a.reshape(rows, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + out.shape[1:])
        return xp.asarray(matmul_arrays(a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        transpose_a, transpose_b = ctx.transposed
        need_a, need_b = ctx.needs_input_grad[-2:]  # the last two: a subclass may take more
        if not _grad_state.enabled and a._data.ndim == 2 and b._data.ndim == 2:
            return _matrix_gradients(a._data, b._data, grad._data, ctx.transposed,
                                     (need_a, need_b))
        # A vector operand is a one-row (a) or one-column (b) matrix whose dim the result
        # dropped: put it back in the gradient, then remove it from the operand's gradient.
        vector_a, vector_b = a.ndim == 1, b.ndim == 1
        if vector_b:
            b = b.reshape(b.shape[0], 1)
            grad = grad.reshape(grad.shape + (1,))
        if vector_a:
            a = a.reshape(1, a.shape[0])
            grad = grad.reshape(grad.shape[:-1] + (1,) + grad.shape[-1:])
        grad_a = grad_b = None
        if need_a:
            if transpose_a:
                grad_a = _product(b, grad, transpose_b, True)
            else:
                grad_a = _product(grad, b, False, not transpose_b)
            if vector_a:
                grad_a = grad_a.reshape(grad_a.shape[:-2] + grad_a.shape[-1:])
        if need_b:
            if b.ndim == 2 and a.ndim > 2 and not transpose_a:
                # Fold the batch: one (k x rows) @ (rows x m) product, not a batch of
                # products that the engine would then sum.
                a = a.reshape(-1, a.shape[-1])
                grad = grad.reshape(-1, grad.shape[-1])
            if transpose_b:
                grad_b = _product(grad, a, True, transpose_a)
            else:
                grad_b = _product(a, grad, not transpose_a, False)
            if vector_b:
                grad_b = grad_b.reshape(grad_b.shape[:-1])
        return grad_a, grad_b


def _adjoint(array):
    """The adjoint of a matrix (or of each of a batch): the transpose of the last two dims
    (a view), conjugated when complex."""
    array = array.swapaxes(-1, -2)
    return array.conj() if array.dtype.kind == "c" else array


def _matrix_gradients(a, b, grad, transposed, needs) -> tuple:
    """MatMul's backward for 2-D operands outside a graph: the same formulas as raw products.
    The gradient of an operand held as the transpose of a C matrix (F.linear's weight.t())
    is computed as the adjoint of the product in the other order, so that it has the
    operand's layout: the weight's gradient then comes back C-contiguous through
    TBackward0, as the weight (optimizers and accumulation run on C arrays)."""
    transpose_a, transpose_b = transposed
    grad_a = grad_b = None
    if needs[0]:
        if transpose_a:
            grad_a = matmul_arrays(_adjoint(b) if transpose_b else b, _adjoint(grad))
        else:
            grad_a = matmul_arrays(grad, b if transpose_b else _adjoint(b))
    if needs[1]:
        if transpose_b:
            grad_b = matmul_arrays(_adjoint(grad), _adjoint(a) if transpose_a else a)
        elif not b.flags.c_contiguous and b.flags.f_contiguous:
            grad_b = _adjoint(matmul_arrays(_adjoint(grad), _adjoint(a) if transpose_a else a))
        else:
            grad_b = matmul_arrays(a if transpose_a else _adjoint(a), grad)
    return (None if grad_a is None else Tensor._make(grad_a),
            None if grad_b is None else Tensor._make(grad_b))


class Mm(MatMul):
    """A product of two matrices (torch.mm, and F.linear's, whose Addmm adds the bias)."""


class Mv(MatMul):
    pass


class Dot(MatMul):
    pass


class Bmm(MatMul):
    pass


class Vdot(MatMul):
    pass


class VecMat(MatMul):
    node_name = "SqueezeBackward4"


_OP_BY_DIMS = {(1, 1): Dot, (2, 2): Mm, (2, 1): Mv, (1, 2): VecMat}


def _product(a: Tensor, b: Tensor, transpose_a=False, transpose_b=False) -> Tensor:
    """The unchecked product used by the public functions and the backward formulas."""
    op = _OP_BY_DIMS.get((a.ndim, b.ndim), MatMul)
    return op.apply(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def _same_dtype_error(kind: str, a: Tensor, b: Tensor) -> str:
    if kind == "dot":
        return (f"dot : expected both vectors to have same dtype, but found {a.dtype.scalar_name} "
                f"and {b.dtype.scalar_name}")
    if kind == "mv":
        return (f"addmv input tensors must have the same dtype, but got {b.dtype.scalar_name}, "
                f"{a.dtype.scalar_name}, and {b.dtype.scalar_name}")
    if kind == "bmm":
        return f"expected scalar type {a.dtype.scalar_name} but found {b.dtype.scalar_name}"
    return (f"expected m1 and m2 to have the same dtype, but got: {a.dtype.cpp_name} != "
            f"{b.dtype.cpp_name}")


_KERNEL_NAMES = {"dot": "dot", "mv": "addmv_impl_cpu", "mm": "addmm_impl_cpu_", "bmm": "bmm"}


def _check_kernel(kind: str, a: Tensor, b: Tensor, shape_a: tuple, shape_b: tuple) -> None:
    """PyTorch's checks of the kernel (dot, mv, mm, bmm) that a product dispatches to, on the
    operand shapes as that kernel sees them (folded or batched)."""
    if kind == "dot":
        if a._data.dtype != b._data.dtype:
            raise RuntimeError(_same_dtype_error(kind, a, b))
        if shape_a[0] != shape_b[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{shape_a[0]}] and "
                               f"src [{shape_b[0]}] to have the same number of elements, but "
                               f"got {shape_a[0]} and {shape_b[0]} elements respectively")
    elif kind == "mv":
        if shape_a[1] != shape_b[0]:
            raise RuntimeError(f"size mismatch, got input ({shape_a[0]}), mat "
                               f"({shape_a[0]}x{shape_a[1]}), vec ({shape_b[0]})")
    elif kind == "mm":
        if shape_a[1] != shape_b[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                               f"({shape_a[0]}x{shape_a[1]} and {shape_b[0]}x{shape_b[1]})")
    elif shape_a[0] != shape_b[0] or shape_a[2] != shape_b[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{shape_a[0]}, {shape_a[2]}] but got: [{shape_b[0]}, "
                           f"{shape_b[1]}].")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(_same_dtype_error(kind, a, b))
    if a._data.dtype == np.bool_:
        raise NotImplementedError(f"\"{_KERNEL_NAMES[kind]}\" not implemented for 'Bool'")


def _check_tensor(name: str, value, position: int = 1, argument: str = "input") -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(value).__name__}")


def _check_matmul(a: Tensor, b: Tensor) -> None:
    """The shape and dtype checks of torch.matmul, with the message of the kernel PyTorch
    would dispatch to (it folds a batch against a matrix into one mm)."""
    dim_a, dim_b = a.ndim, b.ndim
    shape_a, shape_b = tuple(a.shape), tuple(b.shape)
    if dim_a == 0 or dim_b == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{dim_a}D and {dim_b}D")
    if dim_a == 1 and dim_b == 1:
        _check_kernel("dot", a, b, shape_a, shape_b)
    elif dim_a == 2 and dim_b == 1:
        _check_kernel("mv", a, b, shape_a, shape_b)
    elif dim_a <= 2 and dim_b == 2:
        _check_kernel("mm", a, b, (1,) * (2 - dim_a) + shape_a, shape_b)
    elif dim_a >= 3 and dim_b <= 2:
        folded = (math.prod(shape_a[:-1]), shape_a[-1])
        _check_kernel("mm" if dim_b == 2 else "mv", a, b, folded, shape_b)
    elif dim_b >= 3 and a.requires_grad:
        # PyTorch folds b.mT against a.t() when a (a weight) requires grad, so its message
        # names those shapes.
        folded = (math.prod(shape_b[:-2]) * shape_b[-1], shape_b[-2])
        _check_kernel("mm" if dim_a == 2 else "mv", b, a, folded, shape_a[::-1])
    else:
        batch = broadcast_shapes(shape_a[:-2], shape_b[:-2])
        count = math.prod(batch)
        rows = shape_a[-2] if dim_a > 1 else 1
        inner = shape_b[-2] if dim_b > 1 else shape_b[0]
        _check_kernel("bmm", a, b, (count, rows, shape_a[-1]),
                      (count, inner, shape_b[-1] if dim_b > 1 else 1))


@tensor_method("matmul")
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The matrix product of two tensors, as torch.matmul: 1-D @ 1-D is a dot product (0-d),
    a 1-D operand is a row (left) or column (right) vector that is removed from the result,
    and operands of more than 2 dims are batches of matrices with broadcast batch dims."""
    _check_tensor("matmul", input)
    _check_tensor("matmul", other, 2, "other")
    _check_matmul(input, other)
    return _maybe_out(_product(input, other), out)


def _check_fixed_ranks(name: str, input, other, other_name: str, kind: str, ranks: tuple,
                       messages: tuple) -> None:
    """The checks of a product of operands of fixed ranks (mm, bmm, mv, dot, vdot): both
    are tensors (``other`` is argument ``other_name``), each has its rank in ``ranks`` (else
    a RuntimeError of its message in ``messages``, formatted with the two ranks), then the
    checks of kernel ``kind``."""
    _check_tensor(name, input)
    _check_tensor(name, other, 2, other_name)
    for tensor, rank, message in zip((input, other), ranks, messages):
        if tensor.ndim != rank:
            raise RuntimeError(message.format(input.ndim, other.ndim))
    _check_kernel(kind, input, other, tuple(input.shape), tuple(other.shape))


_VECTORS_EXPECTED = "1D tensors expected, but got {}D and {}D tensors"


@tensor_method("mm")
def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """(n, k) @ (k, m) -> (n, m)."""
    _check_fixed_ranks("mm", input, mat2, "mat2", "mm", (2, 2),
                       ("self must be a matrix", "mat2 must be a matrix"))
    return _maybe_out(Mm.apply(input, mat2), out)


@tensor_method("bmm")
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """(b, n, k) @ (b, k, m) -> (b, n, m), without broadcasting."""
    _check_fixed_ranks("bmm", input, mat2, "mat2", "bmm", (3, 3),
                       ("batch1 must be a 3D tensor", "batch2 must be a 3D tensor"))
    return _maybe_out(Bmm.apply(input, mat2), out)


@tensor_method("mv")
def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """(n, k) @ (k,) -> (n,)."""
    _check_fixed_ranks("mv", input, vec, "vec", "mv", (2, 1),
                       ("vector + matrix @ vector expected, got 1, {}, {}",) * 2)
    return _maybe_out(Mv.apply(input, vec), out)


@tensor_method("dot")
def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    """The dot product of two 1-D tensors of the same size (a 0-d tensor)."""
    _check_fixed_ranks("dot", input, tensor, "tensor", "dot", (1, 1), (_VECTORS_EXPECTED,) * 2)
    return _maybe_out(Dot.apply(input, tensor), out)


@tensor_method("vdot")
def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The dot product of two 1-D tensors, conjugating the first (complex inputs)."""
    _check_fixed_ranks("vdot", input, other, "other", "dot", (1, 1), (_VECTORS_EXPECTED,) * 2)
    if not input.is_complex():
        return _maybe_out(Vdot.apply(input, other), out)
    # The conjugate comes with the adjoint of input as a column: (1 x k) @ (k x 1).
    column = (input.shape[0], 1)
    result = MatMul.apply(input.reshape(column), other.reshape(column), transpose_a=True)
    return _maybe_out(result.reshape(()), out)


def _add_scaled(input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product, with input broadcast to the product's shape; with
    beta == 0 the values of input are ignored (nan and inf do not propagate), as PyTorch."""
    if tuple(input.shape) != tuple(product.shape):
        input = input.expand(product.shape)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        if not input.requires_grad:
            return product
        # input still gets its (zero) gradient, without its nan or inf reaching the values.
        never = _constant(array_module(input._data).zeros((), dtype=bool))
        return product + where(never, input, 0.0)
    return (input * beta if beta != 1 else input) + product


@tensor_method("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, m)."""
    return _maybe_out(_add_scaled(input, mm(mat1, mat2), beta, alpha), out)


@tensor_method("addmv")
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat @ vec); input broadcasts to (n,)."""
    return _maybe_out(_add_scaled(input, mv(mat, vec), beta, alpha), out)


@tensor_method("baddbmm")
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
            out=None) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2); input broadcasts to (b, n, m)."""
    return _maybe_out(_add_scaled(input, bmm(batch1, batch2), beta, alpha), out)


@tensor_method("addbmm")
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
           out=None) -> Tensor:
    """beta * input + alpha * (sum over the batch of batch1[i] @ batch2[i]) -> (n, m)."""
    return _maybe_out(_add_scaled(input, bmm(batch1, batch2).sum(0), beta, alpha), out)


def _inplace_method(function):
    def method(self, *args, **kwargs):
        return self._inplace(function, *args, **kwargs)

    method.__name__ = function.__name__ + "_"
    method.__doc__ = f"In-place form of {function.__name__}."
    return method


install_methods({_function.__name__ + "_": _inplace_method(_function)
                 for _function in (addmm, addmv, baddbmm, addbmm)})
install_methods({"__matmul__": lambda self, other: matmul(self, other),
                 "__rmatmul__": lambda self, other: matmul(other, self)})


# ----------------------------------------------------------------------------- einsum

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _parse_einsum(equation: str, shapes: list) -> tuple:
    """Validate an einsum equation against the operand shapes (PyTorch's messages) and
    spell it with one letter per dim: ellipses become letters, and so does the implicit
    output. Returns (input subscripts, output subscripts, size of each letter)."""
    equation = equation.replace(" ", "")
    explicit = "->" in equation
    lhs, output = equation.split("->", 1) if explicit else (equation, None)
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    used = set(equation)
    spare = iter(c for c in _LETTERS if c not in used)
    ellipsis_ndim = 0
    for index, (term, shape) in enumerate(zip(terms, shapes)):
        letters = term.replace("...", "")
        for c in letters:
            if c == ".":
                raise RuntimeError(f"einsum(): found '.' for operand {index} that is not part "
                                   "of any ellipsis")
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{term.index(c)} in the equation string, subscripts must "
                                   "be in [a-zA-Z]")
        if "..." in term:
            ellipsis_ndim = max(ellipsis_ndim, len(shape) - len(letters))
        elif len(letters) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(letters)}) does not match the number of dimensions "
                               f"({len(shape)}) for operand {index} and no ellipsis was given")
    ellipsis = "".join(next(spare) for _ in range(ellipsis_ndim))
    spelled = []
    sizes: dict = {}
    for index, (term, shape) in enumerate(zip(terms, shapes)):
        own = len(shape) - len(term.replace("...", ""))
        start = term.find("...")
        term = term.replace("...", ellipsis[ellipsis_ndim - own:])
        own_sizes: dict = {}
        for position, (c, size) in enumerate(zip(term, shape)):
            if c in own_sizes and own_sizes[c] != size:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {index} "
                                   f"but the sizes don't match, {size} != {own_sizes[c]}")
            own_sizes[c] = size
            seen = sizes.get(c, 1)
            if size != 1 and seen not in (1, size):
                if c in ellipsis:
                    raise RuntimeError(
                        f"einsum(): dimension {position - start} covered by "
                        f"ellipsis in operand {index}has size {size} which does not broadcast "
                        f"with previously seen ellipsis with size {seen} for the respective "
                        "dimension")
                raise RuntimeError(f"einsum(): subscript {c} has size {size} for operand "
                                   f"{index} which does not broadcast with previously seen "
                                   f"size {seen}")
            sizes[c] = max(seen, size)
        spelled.append(term)
    if output is None:
        counts = "".join(spelled)
        output = ellipsis + "".join(sorted(c for c in set(counts) - set(ellipsis)
                                           if counts.count(c) == 1))
    else:
        output = output.replace("...", ellipsis)
        for c in output:
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
    return spelled, output, sizes


class Einsum(Op):
    """einsum of any number of operands; the gradient of each operand is again an einsum of
    the output gradient with the other operands."""

    @staticmethod
    def forward(ctx, *operands, terms, output, sizes):
        ctx.save_for_backward(*operands)
        ctx.spec = (terms, output, sizes)
        xp = array_module(operands[0])
        equation = ",".join(terms) + "->" + output
        # optimize lets numpy contract pairs with tensordot (BLAS) instead of its C loop.
        return xp.asarray(xp.einsum(equation, *operands, optimize=len(operands) > 2 or (
            len(operands) == 2 and operands[0].size * operands[1].size > 4096)))

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        terms, output, sizes = ctx.spec
        # A dim of size 1 that broadcast against a larger one is a dim of its own (summed
        # over one element), so that the gradient equations below are exact.
        spare = iter(c for c in _LETTERS if c not in sizes)
        own_terms = ["".join(next(spare) if size == 1 and sizes[c] != 1 else c
                             for c, size in zip(term, operand.shape))
                     for term, operand in zip(terms, operands)]
        grads = []
        for index, operand in enumerate(operands):
            if not ctx.needs_input_grad[index]:
                grads.append(None)
                continue
            inputs = [grad] + [o for k, o in enumerate(operands) if k != index]
            input_terms = [output] + [t for k, t in enumerate(own_terms) if k != index]
            target = ""
            for c, size in zip(own_terms[index], operand.shape):
                if c in target:
                    # A repeated subscript (a diagonal): the gradient lives on the diagonal,
                    # spread there by an identity matrix between c and a fresh letter.
                    fresh = next(spare)
                    inputs.append(_eye(grad, size))
                    input_terms.append(c + fresh)
                    c = fresh
                target += c
            present = set("".join(input_terms))
            for c, size in zip(target, operand.shape):
                if c not in present:
                    # Summed over in this operand only: its gradient is constant along c.
                    inputs.append(_constant(array_module(grad._data).ones(size, grad._data.dtype)))
                    input_terms.append(c)
            equation = ",".join(input_terms) + "->" + target
            grads.append(_einsum(equation, inputs))
        return tuple(grads)


def _eye(like: Tensor, size: int) -> Tensor:
    return _constant(array_module(like._data).eye(size, dtype=like._data.dtype))


def _einsum(equation: str, operands: list) -> Tensor:
    terms, output, sizes = _parse_einsum(equation, [o.shape for o in operands])
    return Einsum.apply(*operands, terms=terms, output=output, sizes=sizes)


def einsum(equation: str, *operands) -> Tensor:
    """Sum of products over the subscripts of ``equation`` (numpy's einsum notation, with
    ``...`` broadcasting and the implicit output of sorted once-used subscripts), e.g.
    ``einsum("bij,bjk->bik", a, b)``. Operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise NotImplementedError("einsum(): the sublist format is not supported; pass an "
                                  "equation string")
    for index, operand in enumerate(operands):
        _check_tensor("einsum", operand, index + 2, "operands")
        if operand._data.dtype != operands[0]._data.dtype:
            raise RuntimeError(f"expected scalar type {operands[0].dtype.scalar_name} but found "
                               f"{operand.dtype.scalar_name}")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    return _einsum(equation, list(operands))


@tensor_method("kron")
def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The Kronecker product: block (i, j, ...) is input[i, j, ...] * other; shapes are
    aligned on the right and the result has size input.size(d) * other.size(d) per dim."""
    _check_tensor("kron", input)
    _check_tensor("kron", other, 2, "other")
    ndim = max(input.ndim, other.ndim)
    shape_a = (1,) * (ndim - input.ndim) + tuple(input.shape)
    shape_b = (1,) * (ndim - other.ndim) + tuple(other.shape)
    spread_a = tuple(s for size in shape_a for s in (size, 1))
    spread_b = tuple(s for size in shape_b for s in (1, size))
    product = input.reshape(spread_a) * other.reshape(spread_b)
    return _maybe_out(product.reshape(tuple(a * b for a, b in zip(shape_a, shape_b))), out)


def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract dims of ``a`` with dims of ``b``: ``dims`` an int (the last ``dims`` of a
    with the first ``dims`` of b) or a pair of lists of dims. The result has a's free dims,
    then b's."""
    _check_tensor("tensordot", a)
    _check_tensor("tensordot", b, 2, "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got "
                               f"dims={dims}")
        dims_a, dims_b = list(range(-dims, 0)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    letters = iter(_LETTERS)
    term_a = [next(letters) for _ in range(a.ndim)]
    term_b = [next(letters) for _ in range(b.ndim)]
    for dim_a, dim_b in zip(dims_a, dims_b):
        size_a, size_b = a.shape[dim_a], b.shape[dim_b]
        if size_a != size_b:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{size_a} in dim {dim_a} and second has size {size_b} in dim "
                               f"{dim_b}")
        term_b[dim_b] = term_a[dim_a]
    contracted = {term_a[d] for d in dims_a}
    output = [c for c in term_a + term_b if c not in contracted]
    equation = "".join(term_a) + "," + "".join(term_b) + "->" + "".join(output)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {a.dtype.scalar_name} but found "
                           f"{b.dtype.scalar_name}")
    return _maybe_out(_einsum(equation, [a, b]), out)


# ----------------------------------------------------------------------------- norms

class VectorNorm(Op):
    """The ``ord``-norm of the entries over ``dims`` (all dims when None)."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, ord, dims, keepdim):
        xp = array_module(x)
        magnitude = xp.abs(x)
        if ord == 2:
            out = xp.sqrt(xp.sum(magnitude * magnitude, axis=dims, keepdims=keepdim))
        elif ord == math.inf:
            out = xp.max(magnitude, axis=dims, keepdims=keepdim)
        elif ord == -math.inf:
            out = xp.min(magnitude, axis=dims, keepdims=keepdim)
        elif ord == 0:
            out = xp.sum(magnitude != 0, axis=dims, keepdims=keepdim).astype(magnitude.dtype)
        elif ord == 1:
            out = xp.sum(magnitude, axis=dims, keepdims=keepdim)
        else:
            out = xp.sum(magnitude ** ord, axis=dims, keepdims=keepdim) ** (1.0 / ord)
        out = xp.asarray(out, dtype=magnitude.dtype)
        ctx.save_for_backward(x, out)
        ctx.spec = (ord, dims, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved_tensors
        ord, dims, keepdim = ctx.spec
        if not keepdim:
            kept = tuple(1 if dims is None or i in dims else size
                         for i, size in enumerate(x.shape))
            grad, norm = grad.reshape(kept), norm.reshape(kept)
        raw = x._data
        xp = array_module(raw)
        if ord == 0:
            return x * 0
        sign = _constant(xp.sign(raw))
        if ord == 1:
            return grad * sign
        if ord in (math.inf, -math.inf):
            # Ties share the gradient equally, as PyTorch's amax/amin backward.
            mask = xp.abs(raw) == norm._data
            weights = mask / xp.sum(mask, axis=dims, keepdims=True)
            return grad * _constant((weights * xp.sign(raw)).astype(raw.dtype))
        # At a zero norm every entry is zero: any finite scale gives the zero gradient.
        safe_norm = _constant((norm._data == 0).astype(raw.dtype)) + norm
        if ord == 2:
            return x * (grad / safe_norm)
        magnitude = x * sign
        return grad * sign * magnitude ** (ord - 1) / safe_norm ** (ord - 1)


def _float_input(name: str, input: Tensor) -> None:
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{input.dtype.scalar_name}")


def _norm_dtype(input: Tensor, dtype) -> Tensor:
    return input if dtype is None else input.to(dtype)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (an int, a tuple, or None for all dims):
    (sum |x|^ord)^(1/ord); inf / -inf give max / min |x|, 0 the count of nonzeros."""
    _check_tensor("linalg_vector_norm", x)
    if not isinstance(ord, numbers.Number) or isinstance(ord, bool):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, "
                        f"not {type(ord).__name__}")
    _float_input("linalg.vector_norm", x)
    x = _norm_dtype(x, dtype)
    dims = wrap_dims(dim, x.ndim) if dim is not None and x.ndim else None
    if ord < 0 or ord == math.inf:
        reduced = x.shape if dims is None else [x.shape[d] for d in dims]
        if 0 in reduced or (dims is None and x.numel() == 0):
            name = "inf" if ord == math.inf else "-inf" if ord == -math.inf else f"{ord:g}"
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an empty "
                               "tensor because the operation does not have an identity")
    return _maybe_out(VectorNorm.apply(x, ord=float(ord), dims=dims, keepdim=keepdim), out)


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """The matrix norm of the matrices over the two dims ``dim`` of ``A``: 'fro'
    (Frobenius), 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value),
    1 / -1 (max / min column abs sum), inf / -inf (max / min row abs sum)."""
    _check_tensor("linalg_matrix_norm", A)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    _float_input("linalg.matrix_norm", A)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {len(dim)}")
    rows, cols = wrap_dim(dim[0], A.ndim), wrap_dim(dim[1], A.ndim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if ord not in _MATRIX_ORDS or isinstance(ord, bool):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    A = _norm_dtype(A, dtype)
    if ord == "fro":
        result = vector_norm(A, 2, (rows, cols), keepdim)
    elif ord in ("nuc", 2, -2):
        if {rows, cols} != {A.ndim - 2, A.ndim - 1}:
            A = A.movedim((rows, cols), (-2, -1))
        values = svdvals(A)
        result = values.sum(-1) if ord == "nuc" else vector_norm(
            values, math.inf if ord == 2 else -math.inf, -1)
        if keepdim:
            result = result.reshape(tuple(1 if i in (rows, cols) else size
                                          for i, size in enumerate(A.shape)))
    else:
        inner, outer = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = vector_norm(A, 1, inner, keepdim=True)
        result = vector_norm(sums, math.inf if ord > 0 else -math.inf, outer, keepdim=True)
        if not keepdim:
            result = result.reshape(tuple(size for i, size in enumerate(result.shape)
                                          if i not in (rows, cols)))
    return _maybe_out(result, out)


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, out=None,
         dtype=None) -> Tensor:
    """torch.linalg.norm: a vector norm when ``dim`` is an int (or ``A`` is 1-D), a matrix
    norm when ``dim`` is a pair (or ``A`` is 2-D); with neither ord nor dim, the 2-norm of
    all entries."""
    _check_tensor("linalg_norm", A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype,
                               out=out)
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype,
                           out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                           f"be 1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)


# ----------------------------------------------------------------------------- matrix functions

class SvdVals(Op):
    """The singular values of (batches of) matrices, in descending order."""

    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, A):
        xp = array_module(A)
        if ctx.needs_input_grad and ctx.needs_input_grad[0]:
            u, values, vh = xp.linalg.svd(A, full_matrices=False)
            ctx.save_for_backward(A, u, vh)
            return values
        return xp.linalg.svd(A, compute_uv=False)

    @staticmethod
    def backward(ctx, grad):
        A, u, vh = ctx.saved_tensors
        return SvdValsBackward.apply(grad, u, vh, A)


class SvdValsBackward(Op):
    """U diag(grad) V^H. A is an input only so that the graph of a create_graph backward
    reaches it: differentiating again raises instead of treating U and V as constants."""

    @staticmethod
    def forward(ctx, grad, u, vh, A):
        return array_module(grad).matmul(u * grad[..., None, :], vh)

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("the second derivative of linalg.svdvals (and of "
                                  "matrix_norm with ord 'nuc', 2 or -2) is not implemented")


def _check_square(name: str, A: Tensor) -> None:
    _check_tensor(name.replace(".", "_"), A)
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    _float_input(name, A)


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """The singular values of the matrices in the last two dims of ``A``, descending:
    (*, m, n) -> (*, min(m, n))."""
    _check_tensor("linalg_svdvals", A)
    if A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    _float_input("linalg.svd", A)
    return _maybe_out(SvdVals.apply(A), out)


class Inverse(Op):
    """The inverse of (batches of) square matrices; ``transpose`` returns it transposed (the
    form the gradients of det and inv use)."""

    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, A, transpose=False):
        xp = array_module(A)
        try:
            out = xp.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.inv: The inversion could not be completed because the "
                               "input matrix is singular.") from None
        if transpose:
            out = xp.swapaxes(out, -1, -2)
        ctx.save_for_backward(out)
        ctx.transpose = transpose
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # d(A^-1) = -A^-1 dA A^-1, so grad_A = -A^-T grad A^-T (with out = A^-T when
        # transposed, and the transposed grad).
        if ctx.transpose:
            return -_product(out, _product(grad, out, True, False))
        return -_product(out, _product(grad, out, False, True), True, False)


def inv(A: Tensor, *, out=None) -> Tensor:
    """The inverse of each square matrix in the last two dims of ``A``."""
    _check_square("linalg.inv", A)
    return _maybe_out(Inverse.apply(A), out)


class Det(Op):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, A):
        out = array_module(A).asarray(array_module(A).linalg.det(A), dtype=A.dtype)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        A, out = ctx.saved_tensors
        # d det(A) = det(A) tr(A^-1 dA): grad_A = grad det(A) A^-T (invertible A only).
        scale = (grad * out).reshape(tuple(out.shape) + (1, 1))
        return scale * Inverse.apply(A, transpose=True)


def det(A: Tensor, *, out=None) -> Tensor:
    """The determinant of each square matrix in the last two dims of ``A``: (*, n, n) -> (*)."""
    _check_square("linalg.det", A)
    return _maybe_out(Det.apply(A), out)


class Solve(Op):
    """X with op(A) X = B for (batches of) square A and matrices B, op = transpose when
    ``adjoint``; batch dims broadcast."""

    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, A, B, adjoint=False):
        xp = array_module(A)
        batch = broadcast_shapes(A.shape[:-2], B.shape[:-2])
        A_batch = xp.broadcast_to(A, batch + A.shape[-2:])
        if adjoint:
            A_batch = xp.swapaxes(A_batch, -1, -2)
        try:
            out = xp.linalg.solve(A_batch, xp.broadcast_to(B, batch + B.shape[-2:]))
        except np.linalg.LinAlgError:
            raise RuntimeError("torch.linalg.solve: The solver failed because the input "
                               "matrix is singular.") from None
        ctx.save_for_backward(A, out)
        ctx.adjoint = adjoint
        return out

    @staticmethod
    def backward(ctx, grad):
        A, out = ctx.saved_tensors
        grad_B = Solve.apply(A, grad, adjoint=not ctx.adjoint)
        grad_A = None
        if ctx.needs_input_grad[0]:
            # op(A) X = B: grad_op(A) = -grad_B X^T, transposed back when op is a transpose.
            grad_A = (-_product(out, grad_B, False, True) if ctx.adjoint
                      else -_product(grad_B, out, False, True))
        return grad_A, grad_B if ctx.needs_input_grad[1] else None


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with A X = B for square A (*, n, n) and B (*, n, k), or B a batch of vectors (*, n)
    (when B is 1-D or has A's shape without the last dim). Batch dims broadcast."""
    _check_square("linalg.solve", A)
    _check_tensor("linalg_solve", B, 2, "B")
    if not left:
        raise NotImplementedError("linalg.solve: left=False is not implemented; solve "
                                  "A^T X^T = B^T instead")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype.scalar_name} and B of type {B.dtype.scalar_name} "
                           "instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        B = B.reshape(tuple(B.shape) + (1,))
    if B.ndim < 2 or B.shape[-2] != A.shape[-1]:
        rows, cols = (B.shape[-2], B.shape[-1]) if B.ndim >= 2 else (B.shape[0], 1)
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})")
    result = Solve.apply(A, B)
    if vector:
        result = result.reshape(tuple(result.shape[:-1]))
    return _maybe_out(result, out)


def multi_dot(tensors, *, out=None) -> Tensor:
    """The product of a chain of matrices (the first may be 1-D, as may the last)."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for tensor in tensors[1:]:
        result = matmul(result, tensor)
    return _maybe_out(result, out)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """The dot product of the vectors along ``dim`` (conjugating x), broadcasting the rest."""
    if x.is_complex():
        x = x.conj()
    return _maybe_out((x * y).sum(dim), out)


@tensor_method("det")
def _det_method(input: Tensor) -> Tensor:
    return det(input)


@tensor_method("inverse")
def inverse(input: Tensor, *, out=None) -> Tensor:
    """The inverse of each square matrix in the last two dims (torch.inverse)."""
    return inv(input, out=out)


__all__ = ["addbmm", "addmm", "addmv", "baddbmm", "bmm", "det", "dot", "einsum", "inverse",
           "kron", "matmul", "mm", "mv", "tensordot", "vdot"]
