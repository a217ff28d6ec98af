"""dark.bfloat16 (through the optional ml_dtypes package) against torch 2.13's bfloat16: ops
computed in float32 and rounded per op, promotion, casts, printing, autograd, save/load."""
from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
from dark import _backend

needs_ml_dtypes = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("ml_dtypes") is None,
    reason="bfloat16 tensors need the optional ml_dtypes package (pip install ml_dtypes)")


# ----------------------------------------------------------------------------- without ml_dtypes

def test_the_name_exists_without_ml_dtypes():
    """The dtype object needs nothing: ml_dtypes is imported when a tensor is made."""
    script = ("import sys; sys.modules['ml_dtypes'] = None; import dark; "
              "b = dark.bfloat16; assert repr(b) == 'dark.bfloat16' and b.is_floating_point; "
              "assert b.itemsize == 2 and not b.is_complex and b.is_signed; "
              "assert dark.finfo(b).eps == 2.0 ** -7 and dark.finfo(b).bits == 16; "
              "assert dark.promote_types(b, dark.float16) is dark.float32; "
              "import pickle; assert pickle.loads(pickle.dumps(b)) is b\n"
              "try:\n    dark.zeros(2, dtype=b)\nexcept RuntimeError as e:\n    print(e)\n"
              "from dark.autograd.function import Op, plain_op_apply\n"
              "assert Op.apply.__func__ is plain_op_apply")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install ml_dtypes" in result.stdout and "dark[bfloat16]" in result.stdout


@requires_torch
def test_finfo_as_torch():
    ours, theirs = dark.finfo(dark.bfloat16), torch.finfo(torch.bfloat16)
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert repr(ours) == repr(theirs)


@needs_ml_dtypes
def test_the_op_dispatch_is_set_only_once_bfloat16_is_used():
    """No hook on the op path of a float32 program: set when the first bfloat16 tensor is
    made."""
    script = ("import dark\nfrom dark.autograd.function import Op, plain_op_apply\n"
              "x = dark.ones(3) * 2\nassert Op.apply.__func__ is plain_op_apply\n"
              "y = x.bfloat16()\nassert Op.apply.__func__ is not plain_op_apply\n"
              "assert (y + 1).dtype is dark.bfloat16")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- ops against torch

_RNG = np.random.default_rng(0)
_A = _RNG.standard_normal((4, 5)).astype(np.float32)
_B = _RNG.standard_normal((4, 5)).astype(np.float32)
_M = _RNG.standard_normal((5, 3)).astype(np.float32)

# name -> f(library, x, y, m); every result is compared with torch's (dtype and values)
_OPS = {
    "add": lambda L, x, y, m: x + y, "sub": lambda L, x, y, m: x - y,
    "mul": lambda L, x, y, m: x * y, "div": lambda L, x, y, m: x / y,
    "add_scalar": lambda L, x, y, m: x + 0.3, "mul_scalar": lambda L, x, y, m: x * 0.1,
    "div_scalar": lambda L, x, y, m: x / 0.3, "rsub_scalar": lambda L, x, y, m: 1.7 - x,
    "pow": lambda L, x, y, m: x.abs() ** 1.5, "exp": lambda L, x, y, m: x.exp(),
    "log": lambda L, x, y, m: x.abs().log(), "tanh": lambda L, x, y, m: x.tanh(),
    "sigmoid": lambda L, x, y, m: x.sigmoid(), "relu": lambda L, x, y, m: L.relu(x),
    "sqrt": lambda L, x, y, m: x.abs().sqrt(), "neg": lambda L, x, y, m: -x,
    "sum": lambda L, x, y, m: x.sum(), "sum_dim": lambda L, x, y, m: x.sum(1),
    "mean": lambda L, x, y, m: x.mean(), "mean_dim": lambda L, x, y, m: x.mean(0),
    "var": lambda L, x, y, m: x.var(), "std_dim": lambda L, x, y, m: x.std(1),
    "amax": lambda L, x, y, m: x.amax(1), "argmax": lambda L, x, y, m: x.argmax(1),
    "cumsum": lambda L, x, y, m: x.cumsum(1), "softmax": lambda L, x, y, m: x.softmax(1),
    "matmul": lambda L, x, y, m: x @ m, "mm": lambda L, x, y, m: L.mm(x, m),
    "transpose": lambda L, x, y, m: x.t().contiguous(),
    "reshape": lambda L, x, y, m: x.reshape(5, 4), "slice": lambda L, x, y, m: x[1:3, ::2],
    "cat": lambda L, x, y, m: L.cat([x, y]), "stack": lambda L, x, y, m: L.stack([x, y]),
    "where": lambda L, x, y, m: L.where(x > 0, x, y), "eq": lambda L, x, y, m: x == y,
    "gt_scalar": lambda L, x, y, m: x > 0.3, "clamp": lambda L, x, y, m: x.clamp(-0.5, 0.5),
    "maximum": lambda L, x, y, m: L.maximum(x, y), "abs": lambda L, x, y, m: x.abs(),
    "norm": lambda L, x, y, m: x.norm(), "logsumexp": lambda L, x, y, m: x.logsumexp(1),
    "sort": lambda L, x, y, m: x.sort(1)[0], "topk": lambda L, x, y, m: x.topk(2)[0],
    "gather": lambda L, x, y, m: x.gather(1, L.tensor([[0], [1], [2], [3]])),
    "masked_fill": lambda L, x, y, m: x.masked_fill(x > 0, 0.3),
    "mse_loss": lambda L, x, y, m: L.nn.functional.mse_loss(x, y),
    "gelu": lambda L, x, y, m: L.nn.functional.gelu(x),
    "layer_norm": lambda L, x, y, m: L.nn.functional.layer_norm(x, (5,)),
    "linear": lambda L, x, y, m: L.nn.functional.linear(x, m.t()),
    # promotion with other dtypes
    "with_float32": lambda L, x, y, m: x + y.float(),
    "with_float16": lambda L, x, y, m: x * y.half(),
    "with_float64": lambda L, x, y, m: x - y.double(),
    "with_int64": lambda L, x, y, m: x + L.arange(5),
    "with_0d_float32": lambda L, x, y, m: x * L.tensor(1.1),
    "int_with_0d_bf16": lambda L, x, y, m: L.arange(5) * L.tensor(1.1, dtype=L.bfloat16),
    # casts
    "to_float": lambda L, x, y, m: x.float(), "to_double": lambda L, x, y, m: x.double(),
    "to_half": lambda L, x, y, m: x.half(), "to_long": lambda L, x, y, m: (x * 10).long(),
    "to_uint8": lambda L, x, y, m: (x * 100).to(L.uint8), "to_bool": lambda L, x, y, m: x.bool(),
    "from_float64": lambda L, x, y, m: (x.double() / 3).bfloat16(),
    "full": lambda L, x, y, m: L.full((2,), 0.3, dtype=L.bfloat16),
    "tensor": lambda L, x, y, m: L.tensor([0.1, 1e39, -2.5, 1 / 3], dtype=L.bfloat16),
}
# torch's kernels for these round differently inside (a bfloat16 prod accumulator, log-sum
# in its vectorised log_softmax): within one bfloat16 ulp of the result
_ONE_ULP = {"prod": lambda L, x, y, m: x.prod(1),
            "log_softmax": lambda L, x, y, m: x.log_softmax(1),
            "cross_entropy": lambda L, x, y, m: L.nn.functional.cross_entropy(
                x, L.tensor([0, 1, 2, 3]))}


def _values(t):
    t = t.detach()
    if t.is_floating_point():
        t = t.float()
    return np.asarray(t.cpu().numpy() if hasattr(t, "cpu") else t)


def _run_both(function):
    ours = function(dark, *(dark.tensor(v).bfloat16() for v in (_A, _B, _M)))
    theirs = function(torch, *(torch.tensor(v).bfloat16() for v in (_A, _B, _M)))
    assert str(ours.dtype).replace("dark.", "") == str(theirs.dtype).replace("torch.", "")
    return _values(ours), _values(theirs)


@needs_ml_dtypes
@requires_torch
@pytest.mark.parametrize("name", sorted(_OPS))
def test_op_matches_torch_bit_for_bit(name):
    ours, theirs = _run_both(_OPS[name])
    np.testing.assert_array_equal(ours, theirs)


@needs_ml_dtypes
@requires_torch
@pytest.mark.parametrize("name", sorted(_ONE_ULP))
def test_op_matches_torch_within_one_ulp(name):
    ours, theirs = _run_both(_ONE_ULP[name])
    # a bfloat16 ulp: 2**-7 of the power of two at or below the value (8 significant bits)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(theirs.astype(np.float64)))) - 7)
    assert (np.abs(ours - theirs) <= ulp).all(), (ours, theirs)


@needs_ml_dtypes
@requires_torch
def test_promotion_matches_torch():
    kinds = {"bfloat16": dark.bfloat16, "float16": dark.float16, "float32": dark.float32,
             "float64": dark.float64, "int64": dark.int64, "bool": dark.bool,
             "complex64": dark.complex64}
    for name, ours in kinds.items():
        theirs = getattr(torch, name)
        for shape in ((3,), ()):  # a 0-d operand is a lower priority class
            d = dark.ones(3, dtype=dark.bfloat16) + dark.ones(shape, dtype=ours)
            t = torch.ones(3, dtype=torch.bfloat16) + torch.ones(shape, dtype=theirs)
            assert str(d.dtype)[5:] == str(t.dtype)[6:], (name, shape)
        assert str(dark.promote_types(dark.bfloat16, ours))[5:] == str(
            torch.promote_types(torch.bfloat16, theirs))[6:]
    for scalar in (2, 2.5, True, 1j):
        d = dark.ones(2, dtype=dark.bfloat16) * scalar
        t = torch.ones(2, dtype=torch.bfloat16) * scalar
        assert str(d.dtype)[5:] == str(t.dtype)[6:], scalar


@needs_ml_dtypes
@requires_torch
def test_casts_round_to_nearest_even_as_torch():
    values = np.array([1.0, 1.00390625, 1.01171875, 1.0 + 2.0 ** -9, -2.5e-40, 3.4e38, 3.5e38,
                       -1e39, np.inf, -np.inf, np.nan, 0.1, 65504.0, 1 / 3], np.float32)
    ours = dark.tensor(values).bfloat16()
    theirs = torch.tensor(values).bfloat16()
    assert np.array_equal(ours.float().numpy(), theirs.float().numpy(), equal_nan=True)
    for target in ("float16", "float64", "int32", "int8", "uint8", "bool"):
        finite = values[np.isfinite(values) & (np.abs(values) < 100)]
        d = dark.tensor(finite * 37).bfloat16().to(getattr(dark, target))
        t = torch.tensor(finite * 37).bfloat16().to(getattr(torch, target))
        np.testing.assert_array_equal(d.numpy(), t.numpy())
    ints = np.array([0, 1, 255, 257, -7, 2 ** 24 + 1, 2 ** 40 + 3], np.int64)
    np.testing.assert_array_equal(dark.tensor(ints).bfloat16().float().numpy(),
                                  torch.tensor(ints).bfloat16().float().numpy())


@needs_ml_dtypes
@requires_torch
def test_printing_matches_torch():
    samples = [[[0.625, 1.0703, -2.7344], [0.1387, -1.1016, -0.2656]], [1.5, 2.25],
               [1e20, 1.0], [float("inf"), float("nan"), 3.0], [0.0, 0.0], 0.625,
               [1e-5, 3.0, 12345.0]]
    for sample in samples:
        ours = repr(dark.tensor(sample).bfloat16())
        theirs = repr(torch.tensor(sample).bfloat16())
        assert ours == theirs.replace("torch.", "dark."), sample
    grad = dark.tensor([1.0, 2.0], dtype=dark.bfloat16, requires_grad=True) * 2
    assert repr(grad) == "tensor([2., 4.], dtype=dark.bfloat16, grad_fn=<MulBackward0>)"


@needs_ml_dtypes
@requires_torch
def test_backward_matches_torch():
    def loss(L, x, w):
        h = (x @ w + 0.25).tanh() * x.sum(1, keepdim=True).sigmoid()
        return (h.softmax(1) * h).sum()

    ours = [dark.tensor(v).bfloat16().requires_grad_() for v in (_A, _M)]
    theirs = [torch.tensor(v).bfloat16().requires_grad_() for v in (_A, _M)]
    d, t = loss(dark, *ours), loss(torch, *theirs)
    assert d.dtype is dark.bfloat16 and d.grad_fn.name() == t.grad_fn.name()
    d.backward()
    t.backward()
    assert float(d) == float(t)
    for a, b in zip(ours, theirs):
        assert a.grad.dtype is dark.bfloat16
        np.testing.assert_allclose(a.grad.float().numpy(), b.grad.float().numpy(),
                                   rtol=2.0 ** -7, atol=2.0 ** -10)


@needs_ml_dtypes
def test_tensor_basics():
    x = dark.tensor([1.5, -2.25]).bfloat16()
    assert x.dtype is dark.bfloat16 and x.is_floating_point() and x.element_size() == 2
    assert x.type() == "dark.BFloat16Tensor" and x.float().dtype is dark.float32
    assert x.tolist() == [1.5, -2.25] and x[0].item() == 1.5
    assert dark.zeros(2, dtype=dark.bfloat16).dtype is dark.bfloat16
    assert dark.tensor([1.0]).to(dark.bfloat16).dtype is dark.bfloat16
    x.requires_grad_()
    assert x.requires_grad


@needs_ml_dtypes
def test_save_load_roundtrip(tmp_path):
    bits = np.array([0x3FC0, 0xC010, 0x7F80, 0x0001, 0x7FC0], np.uint16)  # incl. inf, nan
    x = dark.tensor(bits.view(np.int16).astype(np.int64)).to(dark.int16)
    x = dark.from_numpy(x.numpy().view(_backend.bfloat16.np))
    dark.save({"x": x, "dtype": dark.bfloat16}, tmp_path / "x.pt")
    loaded = dark.load(tmp_path / "x.pt")
    assert loaded["dtype"] is dark.bfloat16 and loaded["x"].dtype is dark.bfloat16
    np.testing.assert_array_equal(loaded["x"].numpy().view(np.uint16), bits)


@needs_ml_dtypes
@requires_torch
def test_torch_checkpoints_with_bfloat16():
    values = torch.tensor([0.1, -7.0, 3e38, 1e-38]).bfloat16()
    buffer = io.BytesIO()
    torch.save({"w": values, "p": torch.nn.Parameter(values.clone()),
                "dtype": torch.bfloat16}, buffer)
    buffer.seek(0)
    loaded = dark.load(buffer)
    assert loaded["w"].dtype is dark.bfloat16 and loaded["dtype"] is dark.bfloat16
    assert type(loaded["p"]) is dark.nn.Parameter and loaded["p"].dtype is dark.bfloat16
    np.testing.assert_array_equal(loaded["w"].float().numpy(), values.float().numpy())
    out = io.BytesIO()
    dark.save({"w": loaded["w"]}, out)
    out.seek(0)
    back = torch.load(out)["w"]
    assert back.dtype is torch.bfloat16 and torch.equal(back, values)


@needs_ml_dtypes
@requires_torch
def test_legacy_bfloat16_tensor_type_as_torch():
    for library in (dark, torch):
        x = library.BFloat16Tensor([1.5, 2.0])
        assert str(x.dtype).endswith("bfloat16") and isinstance(x, library.BFloat16Tensor)
        assert not isinstance(library.ones(1), library.BFloat16Tensor)
        assert x.type().endswith(".BFloat16Tensor")
        assert str(library.ones(2).type("torch.BFloat16Tensor").dtype).endswith("bfloat16")


@needs_ml_dtypes
@requires_torch
def test_bfloat16_module_and_in_place_ops_as_torch():
    for library in (dark, torch):
        library.manual_seed(0)
    theirs = torch.nn.Linear(3, 2).bfloat16()
    ours = dark.nn.Linear(3, 2)
    ours.load_state_dict({k: dark.tensor(v.float().numpy()) for k, v in
                          theirs.state_dict().items()})
    ours.bfloat16()
    assert ours.weight.dtype is dark.bfloat16 and type(ours.weight) is dark.nn.Parameter
    x = np.array([[0.3, -1.7, 2.2]], np.float32)
    np.testing.assert_array_equal(ours(dark.tensor(x).bfloat16()).detach().float().numpy(),
                                  theirs(torch.tensor(x).bfloat16()).detach().float().numpy())
    values = np.array([1.0, 2.5, 3.3], np.float32)
    for step in (lambda t, L: t.add_(0.1), lambda t, L: t.mul_(0.1), lambda t, L: t.div_(3),
                 lambda t, L: t.fill_(0.3), lambda t, L: t.copy_(L.tensor([0.1, 0.2, 1 / 3])),
                 lambda t, L: t.__setitem__(0, 0.3)):
        d, t = dark.tensor(values).bfloat16(), torch.tensor(values).bfloat16()
        step(d, dark)
        step(t, torch)
        assert d.dtype is dark.bfloat16
        np.testing.assert_array_equal(d.float().numpy(), t.float().numpy())


@needs_ml_dtypes
def test_an_ml_dtypes_array_is_the_first_bfloat16():
    """dark.from_numpy of a bfloat16 array before any bfloat16 tensor was made."""
    script = ("import numpy as np, ml_dtypes, dark\n"
              "x = dark.from_numpy(np.array([1.5, 2.25], ml_dtypes.bfloat16))\n"
              "assert x.dtype is dark.bfloat16 and (x * 2).dtype is dark.bfloat16\n"
              "assert (x * 2).tolist() == [3.0, 4.5]")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


@needs_ml_dtypes
@requires_torch
def test_python_float_scalars_round_through_float32_as_torch():
    """torch rounds a python float to bfloat16 as c10::BFloat16(double): to float32, then to
    bfloat16 (a direct rounding gives 1.0078125 for the first value, 2**-133 for the second)."""
    ops = [lambda L, t, v: t + v, lambda L, t, v: t - v, lambda L, t, v: t.clamp(min=v),
           lambda L, t, v: (t + 1.0078125 > v).float(),
           lambda L, t, v: t.masked_fill(L.tensor([True, False]), v),
           lambda L, t, v: (t * 1).fill_(v)]  # fill_ recorded (t requires grad)
    for v in (1 + 2.0 ** -8 + 2.0 ** -30, 2.0 ** -134 + 2.0 ** -160):
        for i, op in enumerate(ops):
            ours = op(dark, dark.zeros(2, dtype=dark.bfloat16, requires_grad=True), v)
            theirs = op(torch, torch.zeros(2, dtype=torch.bfloat16, requires_grad=True), v)
            np.testing.assert_array_equal(_values(ours), _values(theirs), err_msg=f"{i} {v}")


# python numbers into bfloat16: torch's c10::BFloat16 takes a float, so a double (a python
# float or int) is rounded twice, to float32 and then to bfloat16. The first three values
# round differently directly (1.0078125, -1.0078125, 2**-133 + ... : 2**-8 + 2**-7 + ...);
# then bfloat16's largest value, values between it and float32's largest (overflow in some
# paths, inf in others), beyond float32's, infinities and NaN.
_HALFWAY = (1 + 2.0 ** -8 + 2.0 ** -30, -(1 + 2.0 ** -8 + 2.0 ** -30), 3 * 2.0 ** -9 + 2.0 ** -40,
            2.0 ** -134 + 2.0 ** -160, 2 ** 24 + 2 ** 16 + 1, 2 ** 60 + 2 ** 52 + 2 ** 36 + 1)
_LARGE = (3.3895313892515355e38, -3.3895313892515355e38, 3.39e38, 3.4e38, 3.4028235e38, -1e39,
          1e308, float("inf"), float("-inf"), float("nan"))


def _outcome(library, function, value):
    """The values (as float64, NaN-safe) or the error (type and message) of one path."""
    try:
        result = function(library, value)
    except Exception as error:  # noqa: BLE001 - the error is compared with torch's
        return type(error).__name__, str(error).replace("torch.", "dark.")
    assert str(result.dtype)[-8:] == "bfloat16", str(result.dtype)
    # + 0.0 makes -0.0 0.0: the sign of a zero result differs in float32 too (remainder's
    # zero takes the divisor's sign in dark, clamp(-0.0, 0.0) of a negative), not bfloat16's
    return (result.detach().double() + 0.0).numpy().tolist()


def _assert_paths_match_torch(paths, values):
    mismatches = []
    for name, function in paths.items():
        for value in values:
            ours, theirs = _outcome(dark, function, value), _outcome(torch, function, value)
            if repr(ours) != repr(theirs):  # repr: nan == nan
                mismatches.append(f"{name}({value!r}): dark {ours} torch {theirs}")
    assert not mismatches, "\n".join(mismatches)


def _set(index):
    def path(L, v):
        t = L.zeros(3, dtype=L.bfloat16)
        t[index(L)] = v
        return t
    return path


def _set_tensor(index):
    def path(L, v):
        t = L.zeros(3, dtype=L.bfloat16)
        t[index(L)] = L.tensor(v, dtype=L.float64)
        return t
    return path


_SCALAR_PATHS = {
    "fill_": lambda L, v: L.zeros(2, dtype=L.bfloat16).fill_(v),
    "full": lambda L, v: L.full((2,), v, dtype=L.bfloat16),
    "full_like": lambda L, v: L.full_like(L.zeros(2, dtype=L.bfloat16), v),
    "new_full": lambda L, v: L.zeros(1, dtype=L.bfloat16).new_full((2,), v),
    "setitem_int": _set(lambda L: 1), "setitem_slice": _set(lambda L: slice(1, None)),
    "setitem_mask": _set(lambda L: L.tensor([True, False, True])),
    "setitem_index": _set(lambda L: L.tensor([0, 2])),
    "scalar_tensor": lambda L, v: L.scalar_tensor(v, dtype=L.bfloat16),
    "tensor": lambda L, v: L.tensor([v, 0.5], dtype=L.bfloat16),
    "tensor_0d": lambda L, v: L.tensor(v, dtype=L.bfloat16),
    "as_tensor": lambda L, v: L.as_tensor([v], dtype=L.bfloat16),
    "to_from_float64": lambda L, v: L.tensor([v, 0.25], dtype=L.float64).to(L.bfloat16),
    "bfloat16_from_float64": lambda L, v: L.tensor([v], dtype=L.float64).bfloat16(),
    "masked_fill": lambda L, v: L.zeros(2, dtype=L.bfloat16).masked_fill(
        L.tensor([True, False]), v),
    "masked_fill_": lambda L, v: L.zeros(2, dtype=L.bfloat16).masked_fill_(
        L.tensor([False, True]), v),
    "clamp_min": lambda L, v: L.zeros(2, dtype=L.bfloat16).clamp(min=v),
    "clamp_max": lambda L, v: L.zeros(2, dtype=L.bfloat16).clamp(max=v),
    "clamp_": lambda L, v: L.zeros(2, dtype=L.bfloat16).clamp_(v, v),
    "index_fill_": lambda L, v: L.zeros(3, dtype=L.bfloat16).index_fill_(0, L.tensor([0, 2]), v),
    "index_fill": lambda L, v: L.zeros(3, dtype=L.bfloat16).index_fill(0, L.tensor([1]), v),
    "where_other": lambda L, v: L.where(L.tensor([True, False]), L.zeros(2, dtype=L.bfloat16),
                                        v),
    "where_input": lambda L, v: L.where(L.tensor([True, False]), v,
                                        L.zeros(2, dtype=L.bfloat16)),
    # a float64 tensor's values go in as torch casts tensors (through float32 too)
    "setitem_float64": _set_tensor(lambda L: 1), "setitem_float64_slice": _set_tensor(
        lambda L: slice(None)),
    "fill_float64": lambda L, v: L.zeros(2, dtype=L.bfloat16).fill_(L.tensor(v, dtype=L.float64)),
    "copy_float64": lambda L, v: L.zeros(2, dtype=L.bfloat16).copy_(
        L.tensor([v, -v], dtype=L.float64)),
    "masked_fill_float64": lambda L, v: L.zeros(2, dtype=L.bfloat16).masked_fill(
        L.tensor([True, False]), L.tensor(v, dtype=L.float64)),
    "linspace_1": lambda L, v: L.linspace(v, v, 1, dtype=L.bfloat16),
    "linspace_3": lambda L, v: L.linspace(v, 2.5, 3, dtype=L.bfloat16),
}


@needs_ml_dtypes
@requires_torch
def test_python_numbers_into_bfloat16_round_through_float32_as_torch():
    """Every path a python number takes into a bfloat16 tensor without an op's arithmetic."""
    _assert_paths_match_torch(_SCALAR_PATHS, _HALFWAY)


@needs_ml_dtypes
@requires_torch
def test_python_numbers_beyond_bfloat16_range_as_torch():
    """torch's overflow rule: an op's Scalar (full, fill_, masked_fill, clamp, index_fill) is
    checked against bfloat16's largest value as a double (an error beyond it, inf and NaN
    pass); a number made a 0-d tensor first (x[i] = v, where, scalar_tensor, torch.tensor, a
    one-step linspace) is checked as a double only, so it rounds to the largest value or to
    inf; arange counts in float, so its start and step must fit a float32."""
    _assert_paths_match_torch(_SCALAR_PATHS, _LARGE)
    arange = {"arange_start": lambda L, v: L.arange(v, v, 1.0, dtype=L.bfloat16),
              "arange_step": lambda L, v: L.arange(0, 1, v, dtype=L.bfloat16),
              "arange_end": lambda L, v: L.arange(0, v, 1e38, dtype=L.bfloat16)}
    _assert_paths_match_torch(arange, [3.4028235e38, -1e39, 1e39, 1e308, 3e38])


@needs_ml_dtypes
@requires_torch
def test_in_place_arithmetic_with_python_numbers_as_torch():
    """add_/sub_/mul_/div_ without a graph as their out-of-place forms: mul_ and div_ keep a
    python float as a float32 (torch's opmath), add_ and sub_ round it to bfloat16 first."""
    values = np.array([3.0, 1.5, -2.25, 0.7, 5.3, 1000.0, -0.1], np.float32)
    paths = {"add_": lambda L, v: L.tensor(values).bfloat16().add_(v),
             "sub_": lambda L, v: L.tensor(values).bfloat16().sub_(v),
             "mul_": lambda L, v: L.tensor(values).bfloat16().mul_(v),
             "div_": lambda L, v: L.tensor(values).bfloat16().div_(v),
             "add_alpha": lambda L, v: L.tensor(values).bfloat16().add_(
                 L.ones(7, dtype=L.bfloat16), alpha=v),
             "imul": lambda L, v: L.tensor(values).bfloat16().__imul__(v),
             "itruediv": lambda L, v: L.tensor(values).bfloat16().__itruediv__(v)}
    _assert_paths_match_torch(paths, _HALFWAY + (0.1, 1 / 3, 7.3, float("inf"), float("nan")))


@needs_ml_dtypes
@requires_torch
def test_arithmetic_operands_rounded_as_torch():
    """Which operands torch makes bfloat16 before computing in float32: python numbers of
    add/sub/rsub/remainder/fmod/pow/comparisons/where/masked_fill/clamp (the common dtype),
    not mul's or div's (their CPU kernels read the original scalar as a float32); int and
    float tensors of another dtype (an int64 257 is 256), but a 0-d one of mul or div keeps
    its value."""
    values = np.array([3.0, 1.5, -2.25, 0.7, 5.3, 1000.0, -0.1], np.float32)
    ints = np.array([257, 1001, 2 ** 20 + 1, 3, 7, 2 ** 24 + 2 ** 16 + 1, -513])

    def x(L):
        return L.tensor(values).bfloat16()

    scalars = {"add": lambda L, v: x(L) + v, "radd": lambda L, v: v + x(L),
               "sub": lambda L, v: x(L) - v, "rsub": lambda L, v: v - x(L),
               "mul": lambda L, v: x(L) * v, "div": lambda L, v: x(L) / v,
               "rdiv": lambda L, v: v / x(L), "remainder": lambda L, v: x(L).remainder(v),
               "fmod": lambda L, v: x(L).fmod(v), "pow": lambda L, v: x(L).abs().pow(v),
               "rpow": lambda L, v: L.pow(abs(v), x(L)),
               "gt": lambda L, v: (x(L) > v).bfloat16(),
               "eq": lambda L, v: (x(L) * 0 + 1.0078125 == v).bfloat16(),
               "clamp": lambda L, v: x(L).clamp(-abs(v), abs(v)),
               "where": lambda L, v: L.where(x(L) > 1, x(L), v),
               "masked_fill": lambda L, v: x(L).masked_fill(x(L) > 1, v),
               "lerp": lambda L, v: x(L).lerp(x(L) * 3, v)}
    _assert_paths_match_torch(scalars, _HALFWAY + (0.1, 1 / 3, 7.3, 257, -513))
    tensors = {"add": lambda L, t: x(L) + t, "sub": lambda L, t: t - x(L),
               "mul": lambda L, t: x(L) * t, "div": lambda L, t: x(L) / t,
               "remainder": lambda L, t: x(L).remainder(t), "atan2": lambda L, t: L.atan2(x(L), t),
               "where": lambda L, t: L.where(x(L) > 1, x(L), t),
               "lt": lambda L, t: (x(L) * 1000 < t).bfloat16()}
    others = {"int64": lambda L: L.tensor(ints), "int64_0d": lambda L: L.tensor(ints[5]),
              "int32": lambda L: L.tensor(ints, dtype=L.int32),
              "float64_0d": lambda L: L.tensor(1 / 3, dtype=L.float64),
              "float32_0d": lambda L: L.tensor(1 + 2.0 ** -8 + 2.0 ** -20),
              "float16_0d": lambda L: L.tensor(1 / 3, dtype=L.float16)}
    _assert_paths_match_torch(
        {f"{name}_{kind}": (lambda f, o: lambda L, _: f(L, o(L)))(function, other)
         for name, function in tensors.items() for kind, other in others.items()}, [None])


@needs_ml_dtypes
@requires_torch
def test_pow_exponent_beyond_bfloat16_range_is_an_error_as_torch():
    """pow's exponent is a bfloat16 Scalar in torch's kernel: checked against bfloat16's
    largest value (3.39e38), so 3.4e38 is an error, not inf."""
    x = np.array([1.5, 2.0, 0.5], np.float32)
    paths = {"pow": lambda L, v: L.pow(L.tensor(x).bfloat16(), v),
             "method": lambda L, v: L.tensor(x).bfloat16().pow(v),
             "operator": lambda L, v: L.tensor(x).bfloat16() ** v,
             "in_place": lambda L, v: L.tensor(x).bfloat16().pow_(v),
             "rpow": lambda L, v: L.pow(v, L.tensor(x).bfloat16())}
    _assert_paths_match_torch(paths, [3.4e38, -3.4e38, 1e39, 1e300, 3.38e38, float("inf"),
                                      2.5, 1 + 2.0 ** -8 + 2.0 ** -30])
    with pytest.raises(RuntimeError, match="c10::BFloat16 without overflow"):
        dark.tensor([2.0], dtype=dark.bfloat16).pow(3.4e38)


@needs_ml_dtypes
@requires_torch
def test_nan_to_num_as_torch():
    """nan/posinf/neginf beyond bfloat16's range are inf silently (no numpy overflow
    warning); the default replacements are bfloat16's largest and lowest values, not inf."""
    x = [float("nan"), float("inf"), -float("inf"), 1.0]
    keywords = [{}, {"posinf": 1e39}, {"neginf": -1e39}, {"nan": 1e39}, {"posinf": 3.3895e38},
                {"nan": 1 + 2.0 ** -8 + 2.0 ** -30, "posinf": 65519.999999, "neginf": 3.39e38}]
    def out_of_place(options):
        return lambda L, _: L.nan_to_num(L.tensor(x, dtype=L.bfloat16), **options)

    def in_place(options):
        return lambda L, _: L.tensor(x, dtype=L.bfloat16).nan_to_num_(**options)

    paths = {f"nan_to_num{i}": out_of_place(k) for i, k in enumerate(keywords)}
    paths.update({f"nan_to_num_{i}": in_place(k) for i, k in enumerate(keywords)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_paths_match_torch(paths, [None])
    largest = float.fromhex("0x1.fep127")
    assert dark.nan_to_num(dark.tensor(x, dtype=dark.bfloat16)).tolist() == [
        0.0, largest, -largest, 1.0]


def _addc_operands(library, dtype, shapes=((5, 7), (5, 7), (7,))):
    generator = np.random.default_rng(7)
    return [library.tensor(generator.standard_normal(shape).astype(np.float32) * scale).to(dtype)
            for shape, scale in zip(shapes, (1.0, 3.0, 0.7), strict=True)]


@needs_ml_dtypes
@requires_torch
def test_addcmul_addcdiv_round_once_as_torch():
    """torch computes addcmul / addcdiv of bfloat16 in float32 (the value a float32, the
    product and the sum fused), rounded once to bfloat16; not mul, div, add each rounded."""
    def path(name, in_place=False, out=False):
        def run(L, v):
            a, t1, t2 = _addc_operands(L, L.bfloat16)
            if in_place:
                return getattr(a, name + "_")(t1, t2, value=v)
            if out:
                result = L.empty(5, 7, dtype=L.bfloat16)
                getattr(L, name)(a, t1, t2, value=v, out=result)
                return result
            return getattr(L, name)(a, t1, t2, value=v)
        return run

    paths = {f"{n}{suffix}": path(n, **kw) for n in ("addcmul", "addcdiv")
             for suffix, kw in (("", {}), ("_", {"in_place": True}), ("_out", {"out": True}))}
    _assert_paths_match_torch(paths, [1, 0.1, -2.5, 1 + 2.0 ** -8 + 2.0 ** -30, 3])
    one, t1 = dark.tensor([1.0], dtype=dark.bfloat16), dark.tensor([1.0078125], dtype=dark.bfloat16)
    # the product 2**-8 * (1 + 2**-7) * (1 - 2**-8) rounds to 2**-8 in bfloat16 (then 1 + 2**-8
    # is a tie: 1.0); fused, 1 + 2**-8 + 2**-17 - ... rounds up
    assert dark.addcmul(one, t1, dark.tensor([2.0 ** -8 - 2.0 ** -16], dtype=dark.bfloat16)
                        ).item() == 1.0078125
    assert dark.addcdiv(one, one, dark.tensor([256.0], dtype=dark.bfloat16),
                        value=1 + 2.0 ** -9).item() == 1.0078125


@needs_ml_dtypes
@requires_torch
def test_addcmul_addcdiv_autograd_as_torch():
    """The node is torch's (AddcmulBackward0, AddcdivBackward0), its gradients those of
    torch's formulas (up to the rounding of float32 gradients), broadcast operands reduced."""
    for name in ("addcmul", "addcdiv"):
        grads, names = {}, {}
        for library in (dark, torch):
            operands = [t.requires_grad_() for t in _addc_operands(library, library.bfloat16)]
            result = getattr(library, name)(*operands, value=0.3)
            names[library] = type(result.grad_fn).__name__
            result.float().square().sum().backward()
            grads[library] = [t.grad.double().numpy() for t in operands]
        assert names[dark] == names[torch] == name.capitalize() + "Backward0"
        for ours, theirs in zip(grads[dark], grads[torch], strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=2 ** -6, atol=1e-3)


@needs_ml_dtypes
@requires_torch
def test_one_element_fill_unchecked_as_torch():
    """torch's CPU fill of one bfloat16 element does not check the value (1e39 is inf),
    of two elements it does (an error)."""
    paths = {"full1": lambda L, v: L.full((1,), v, dtype=L.bfloat16),
             "full0d": lambda L, v: L.full((), v, dtype=L.bfloat16),
             "fill1": lambda L, v: L.zeros(1, dtype=L.bfloat16).fill_(v),
             "full2": lambda L, v: L.full((2,), v, dtype=L.bfloat16),
             "fill2": lambda L, v: L.zeros(2, dtype=L.bfloat16).fill_(v)}
    _assert_paths_match_torch(paths, [1e39, -3.4e38, 1e300, 3.38e38, 1 + 2.0 ** -8 + 2.0 ** -30])
    assert dark.full((1,), 1e39, dtype=dark.bfloat16).item() == float("inf")
