"""F.conv1d/2d/3d, F.conv_transpose1d/2d, F.unfold/F.fold (op table: forward, gradcheck,
gradgradcheck, torch parity) and nn.Conv*/ConvTranspose*/Unfold/Fold (parity with torch from
copied weights, repr, default init, errors)."""
import math
import re

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.nn as nn
import dark.nn.functional as F


def conv(name, shapes, **options):
    """A case calling F.<name>(x, w[, b], **options) in dark and torch."""
    return Case(f"{name}_{'_'.join(f'{k}{v}' for k, v in options.items())}_{len(shapes)}",
                lambda t, *inputs: getattr(t.nn.functional, name)(*inputs, **options), shapes)


CONV2D = [(2, 4, 5, 6), (6, 4, 3, 2), (6,)]
GROUPED = [(2, 4, 5, 6), (6, 2, 3, 2), (6,)]
CASES = [
    conv("conv2d", CONV2D),
    conv("conv2d", CONV2D[:2]),
    conv("conv2d", [(4, 5, 6), (6, 4, 3, 2), (6,)]),  # unbatched
    conv("conv2d", CONV2D, stride=2),
    conv("conv2d", CONV2D, stride=(2, 1), padding=(1, 2)),
    conv("conv2d", CONV2D, padding=1, dilation=2),
    conv("conv2d", CONV2D[:2], padding="same"),
    conv("conv2d", [(2, 4, 5, 6), (6, 4, 4, 2)], padding="same", dilation=(1, 2)),
    conv("conv2d", [(2, 4, 5, 6), (6, 4, 2, 3), (6,)], padding="same"),
    conv("conv2d", CONV2D, padding="valid"),
    conv("conv2d", GROUPED, groups=2),
    conv("conv2d", GROUPED, groups=2, stride=2, padding=1, dilation=(2, 1)),
    conv("conv2d", [(2, 4, 5, 5), (4, 1, 3, 3)], groups=4, padding="same"),  # depthwise
    conv("conv2d", [(1, 4, 3, 3), (2, 4, 3, 3), (2,)]),  # output 1x1
    conv("conv2d", [(2, 3, 4, 4), (5, 3, 1, 1), (5,)]),  # 1x1 kernel
    conv("conv1d", [(2, 3, 7), (4, 3, 3), (4,)]),
    conv("conv1d", [(3, 7), (4, 3, 3)], stride=2, padding=1),
    conv("conv1d", [(2, 4, 7), (6, 2, 2)], groups=2, padding="same", dilation=3),
    conv("conv3d", [(1, 2, 4, 3, 4), (3, 2, 2, 2, 2), (3,)], padding=(1, 0, 1)),
    conv("conv_transpose2d", [(2, 4, 3, 4), (4, 3, 3, 2), (3,)]),
    conv("conv_transpose2d", [(2, 4, 3, 4), (4, 3, 3, 3)], stride=2, padding=1,
         output_padding=1),
    conv("conv_transpose2d", [(2, 4, 3, 4), (4, 2, 3, 3), (4,)], groups=2, stride=(2, 1),
         dilation=2, output_padding=(1, 0)),
    conv("conv_transpose2d", [(4, 3, 4), (4, 3, 2, 2)], stride=2),  # unbatched
    conv("conv_transpose1d", [(2, 3, 5), (3, 2, 3), (2,)], stride=3, padding=1,
         output_padding=2),
    Case("unfold", lambda t, x: t.nn.functional.unfold(x, (2, 3), padding=1, stride=2,
                                                       dilation=(1, 2)), [(2, 3, 6, 7)]),
    Case("unfold_unbatched", lambda t, x: t.nn.functional.unfold(x, 2), [(3, 4, 4)]),
    Case("fold", lambda t, x: t.nn.functional.fold(x, (5, 6), (2, 3), padding=1, stride=2),
         [(2, 12, 9)]),
    Case("fold_overlap_unbatched", lambda t, x: t.nn.functional.fold(x, 4, 2), [(8, 9)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


@pytest.mark.parametrize("chunk", [1, 2000, 1 << 24])
@pytest.mark.parametrize("options", [
    {"padding": 2}, {"padding": (1, 0), "dilation": (2, 1), "groups": 2}, {}])
@pytest.mark.parametrize("channels, bias", [(4, True), (16, True), (16, False)])
@pytest.mark.parametrize("per_sample", [True, False])
@requires_torch
def test_conv2d_flat_path_chunks(monkeypatch, device, chunk, options, channels, bias,
                                 per_sample):
    """The stride-1 2-D path in chunks of one sample, of a few and of the whole batch gives
    torch's output and gradients (float64); 16 channels of a 3x2 kernel make 96 rows, where
    the CPU forward takes the positions-first product; the weight's gradient as one product
    per chunk or per sample (on the CPU)."""
    import dark._kernels.conv as conv_ops

    monkeypatch.setattr(conv_ops, "_CHUNK_ENTRIES", chunk)
    monkeypatch.setattr(conv_ops, "_PER_SAMPLE_PRODUCT", 1 << 30 if per_sample else 0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, channels, 7, 6))
    w = rng.standard_normal((6, channels // options.get("groups", 1), 3, 2))
    b = rng.standard_normal(6)
    g = None
    results = []
    for lib, dev in ((dark, device), (torch, "cpu")):
        inputs = [lib.tensor(a, requires_grad=True, device=dev)
                  for a in ((x, w, b) if bias else (x, w))]
        out = lib.nn.functional.conv2d(*inputs, **options)
        if g is None:
            g = rng.standard_normal(tuple(out.shape))
        out.backward(lib.tensor(g, device=dev))
        results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in inputs])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("chunk", [1, 2000, 1 << 24])
@pytest.mark.parametrize("options", [{"padding": 2}, {"padding": (1, 0), "dilation": (2, 1)},
                                     {}])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_conv2d_thin_per_sample_path(monkeypatch, chunk, options, bias, layout):
    """A thin stride-1 conv (C_in * kh * kw below _SAMPLE_ROWS: an image model's first
    layer) runs per sample on the CPU: the forward as one batched product into the output,
    and, when the input needs no gradient, the weight's and bias's gradients per sample. Both
    give the values of the channels-first flat path (float64) for every chunking, padding,
    dilation and input layout; the input's gradient, when asked, keeps the flat path."""
    import dark._kernels.conv as conv_ops

    monkeypatch.setattr(conv_ops, "_CHUNK_ENTRIES", chunk)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 9, 8))
    if layout == "strided":  # a transposed input: its planes are not C-contiguous
        x = x.transpose(0, 1, 3, 2)
    w = rng.standard_normal((7, 2, 3, 3))
    b = rng.standard_normal(7)
    assert conv_ops._SAMPLE_ROWS > 2 * 3 * 3  # the first run takes the per-sample path
    g = None
    results = []
    for rows in (conv_ops._SAMPLE_ROWS, 0):  # the per-sample path, then the flat path
        monkeypatch.setattr(conv_ops, "_SAMPLE_ROWS", rows)
        weight = dark.tensor(w, requires_grad=True)
        inputs = [dark.from_numpy(x), weight] + ([dark.tensor(b, requires_grad=True)]
                                                 if bias else [])
        out = F.conv2d(*inputs, **options)
        if g is None:
            g = rng.standard_normal(tuple(out.shape))
        out.backward(dark.tensor(g))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs[1:]])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_grad_fn_names():
    x = dark.randn(2, 3, 5, 5, requires_grad=True)
    w = dark.randn(4, 3, 3, 3)
    assert F.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    assert F.conv_transpose2d(x, dark.randn(3, 4, 3, 3)).grad_fn.name() == "ConvolutionBackward0"
    assert F.unfold(x, 2).grad_fn.name() == "Im2ColBackward0"
    assert F.fold(F.unfold(x, 2), 5, 2).grad_fn.name() == "Col2ImBackward0"


def test_conv_float32_stays_float32():
    x = dark.randn(2, 3, 5, 5)
    assert F.conv2d(x, dark.randn(4, 3, 3, 3), dark.randn(4)).dtype == dark.float32


@pytest.mark.parametrize("name, shapes, options", [
    ("conv2d", [(2, 3), (8, 3, 3, 3)], {}),
    ("conv2d", [(2, 4, 5, 5), (8, 3, 3, 3)], {}),
    ("conv2d", [(2, 3, 2, 2), (8, 3, 3, 3)], {}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"stride": 2, "padding": "same"}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"padding": "foo"}),
    ("conv2d", [(2, 4, 5, 5), (8, 2, 3, 3)], {"groups": 3}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3), (3,)], {}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"stride": 0}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"padding": -1}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"dilation": 0}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"groups": 0}),
    ("conv2d", [(2, 3, 5, 5), (8, 3, 3, 3)], {"padding": (1, 1, 1)}),
    ("conv2d", [(3, 5, 5), (8, 4, 3, 3)], {}),
    ("conv1d", [(2, 3, 5, 5), (8, 3, 3)], {}),
    ("conv_transpose2d", [(2, 3, 5, 5), (3, 8, 3, 3)], {"output_padding": 1}),
    ("conv_transpose2d", [(2, 4, 5, 5), (3, 8, 3, 3)], {}),
    ("conv_transpose2d", [(2, 3), (3, 8, 3, 3)], {}),
    ("conv_transpose1d", [(2, 3, 5), (3, 8, 3)], {"output_padding": 1}),
])
@requires_torch
def test_conv_errors(name, shapes, options):
    arrays = [np.ones(s, dtype=np.float32) for s in shapes]
    raises_like(lambda: getattr(F, name)(*[dark.tensor(a) for a in arrays], **options),
                 lambda: getattr(torch.nn.functional, name)(*[torch.tensor(a) for a in arrays],
                                                            **options))


def test_conv_dtype_mismatch():
    with pytest.raises(RuntimeError, match="Input type .* and weight type .* should be the same"):
        F.conv2d(dark.randn(1, 3, 5, 5), dark.randn(4, 3, 3, 3, dtype=dark.float64))


@pytest.mark.parametrize("call", [
    lambda f, x: f.unfold(x.reshape(1, 2, 3, 4, 4), 2),
    lambda f, x: f.fold(x.reshape(1, 2, 3, 16), 4, 2),
    lambda f, x: f.unfold(x, 5),
    lambda f, x: f.fold(x.reshape(2, 12, 4)[:, :, :3], (4, 4), 2),
    lambda f, x: f.fold(x.reshape(2, 12, 4)[:, :11], (4, 4), 2),
])
@requires_torch
def test_fold_errors(call):
    x = np.ones((2, 3, 4, 4), dtype=np.float32)
    raises_like(lambda: call(F, dark.tensor(x)), lambda: call(torch.nn.functional,
                                                               torch.tensor(x)))


# ----------------------------------------------------------------------------- modules

def copy_module(dark_module, torch_module):
    """Load torch's parameters and buffers into the dark module (same names and shapes)."""
    state = {k: dark.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    dark_module.load_state_dict(state)
    assert list(dark_module.state_dict()) == list(torch_module.state_dict())
    for (name, value), (t_name, t_value) in zip(dark_module.state_dict().items(),
                                                torch_module.state_dict().items()):
        assert name == t_name and tuple(value.shape) == tuple(t_value.shape)


def check_module(dark_module, torch_module, shape, *, float64=True, call=None, atol=1e-5):
    """Same outputs, input gradients and parameter gradients as torch, in float32 and
    float64, from torch's parameters; the repr equal to torch's."""
    assert repr(dark_module) == repr(torch_module)
    copy_module(dark_module, torch_module)
    call = call or (lambda module, x: module(x))
    rng = np.random.default_rng(0)
    for dtype in ((np.float32, np.float64) if float64 else (np.float32,)):
        if dtype == np.float64:
            dark_module.double()
            torch_module.double()
        array = rng.standard_normal(shape).astype(dtype)
        x = dark.tensor(array, requires_grad=True)
        t_x = torch.tensor(array, requires_grad=True)
        out, t_out = call(dark_module, x), call(torch_module, t_x)
        if isinstance(t_out, tuple):
            np.testing.assert_array_equal(out[1].numpy(), t_out[1].numpy())
            out, t_out = out[0], t_out[0]
        assert out.dtype.name == str(t_out.dtype).replace("torch.", "")
        np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), atol=atol,
                                   rtol=1e-5)
        seed = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
        out.backward(dark.tensor(seed))
        t_out.backward(torch.tensor(seed))
        np.testing.assert_allclose(x.grad.numpy(), t_x.grad.numpy(), atol=atol, rtol=1e-5)
        for (name, p), (_, t_p) in zip(dark_module.named_parameters(),
                                       torch_module.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), t_p.grad.numpy(), atol=atol * 10,
                                       rtol=1e-5, err_msg=name)
            p.grad = None
            t_p.grad = None


@pytest.mark.parametrize("build, shape", [
    (lambda m: m.Conv2d(3, 4, 3), (2, 3, 6, 5)),
    (lambda m: m.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2,
                        bias=False), (2, 4, 7, 6)),
    (lambda m: m.Conv2d(3, 4, 4, padding="same"), (3, 6, 5)),
    (lambda m: m.Conv2d(3, 4, 3, padding="valid"), (1, 3, 6, 5)),
    (lambda m: m.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="reflect"), (2, 3, 6, 5)),
    (lambda m: m.Conv2d(3, 4, 3, padding=1, padding_mode="replicate"), (2, 3, 6, 5)),
    (lambda m: m.Conv2d(3, 4, 3, padding=2, padding_mode="circular"), (2, 3, 6, 5)),
    (lambda m: m.Conv2d(3, 4, 3, padding="same", padding_mode="reflect"), (2, 3, 6, 5)),
    (lambda m: m.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    (lambda m: m.Conv1d(4, 4, 2, padding="same", groups=4), (4, 9)),
    (lambda m: m.Conv3d(2, 3, 2, padding=1), (1, 2, 3, 4, 3)),
    (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 3, 4)),
    (lambda m: m.ConvTranspose2d(3, 2, (2, 3), dilation=2, bias=False), (3, 3, 4)),
    (lambda m: m.ConvTranspose1d(3, 2, 3, stride=2), (2, 3, 5)),
    (lambda m: m.Unfold((2, 3), padding=1, stride=2), (2, 3, 5, 6)),
    (lambda m: m.Fold((4, 5), 2, stride=(1, 2)), (2, 12, 6)),
])
@requires_torch
def test_module_parity(build, shape):
    check_module(build(nn), build(torch.nn), shape)


@requires_torch
def test_conv_transpose_output_size_matches_torch():
    kwargs = {"stride": 2, "padding": 1}
    module, t_module = nn.ConvTranspose2d(3, 2, 3, **kwargs), torch.nn.ConvTranspose2d(
        3, 2, 3, **kwargs)
    check_module(module, t_module, (2, 3, 4, 4), call=lambda m, x: m(x, output_size=[8, 8]))


def test_conv_transpose_output_size():
    module = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=dark.float64)
    x = dark.randn(2, 3, 4, 4, dtype=dark.float64)
    assert module(x, output_size=[8, 8]).shape == (2, 2, 8, 8)
    assert module(dark.randn(2, 3, 4, 4, dtype=dark.float64),
                  output_size=(2, 2, 7, 8)).shape == (2, 2, 7, 8)
    with pytest.raises(ValueError, match="requested an output size of"):
        module(dark.randn(2, 3, 4, 4, dtype=dark.float64), output_size=(10, 10))


@pytest.mark.parametrize("build, weight_shape, bias_shape", [
    (lambda m: m.Conv2d(16, 8, 3), (8, 16, 3, 3), (8,)),
    (lambda m: m.Conv1d(6, 12, 5, groups=3), (12, 2, 5), (12,)),
    (lambda m: m.ConvTranspose2d(8, 16, 3, groups=2), (8, 8, 3, 3), (16,)),
])
@pytest.mark.parametrize("lib", LIBS)
def test_default_init(lib, build, weight_shape, bias_shape):
    """kaiming_uniform(a=sqrt(5)): weight and bias uniform on +-1/sqrt(fan_in), fan_in
    from weight.shape[1] * prod(kernel) as torch."""
    module = build(lib.nn)
    fan_in = weight_shape[1] * math.prod(weight_shape[2:])
    bound = 1 / math.sqrt(fan_in)
    for name, shape in (("weight", weight_shape), ("bias", bias_shape)):
        values = getattr(module, name).detach().numpy()
        assert values.shape == shape
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound + 1e-7
        assert np.abs(values).max() > 0.5 * bound
    assert isinstance(module.weight, lib.nn.Parameter) and module.weight.requires_grad


def _sorted_sets(message: str) -> str:
    """The message with each printed set's items sorted (a set's order depends on the hash
    seed and on how it was built)."""
    return re.sub(r"\{([^}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", ")))
                  + "}", message)


@pytest.mark.parametrize("kwargs", [
    {"groups": 0}, {"groups": 2, "in_channels": 3}, {"groups": 2, "out_channels": 3},
    {"padding": "full"}, {"padding": "same", "stride": 2}, {"padding_mode": "mirror"},
])
@requires_torch
def test_conv_module_errors(kwargs):
    options = {"in_channels": 4, "out_channels": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError) as expected:
        torch.nn.Conv2d(**options)
    with pytest.raises(ValueError) as got:
        nn.Conv2d(**options)
    assert _sorted_sets(str(got.value)) == _sorted_sets(str(expected.value))


@pytest.mark.parametrize("lib", LIBS)
def test_conv_transpose_padding_mode_error(lib):
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        lib.nn.ConvTranspose2d(3, 3, 3, padding_mode="reflect")


def test_conv_module_on_dtype():
    module = nn.Conv2d(3, 4, 3, dtype=dark.float64)
    assert module.weight.dtype == dark.float64 and module.bias.dtype == dark.float64
    assert module(dark.randn(1, 3, 5, 5, dtype=dark.float64)).dtype == dark.float64


@pytest.mark.parametrize("x_shape, weight_shape, options, out_shape", [
    ((0, 16, 14, 14), (32, 16, 5, 5), {"padding": 2}, (0, 32, 14, 14)),
    ((0, 3, 8, 8), (4, 3, 3, 3), {}, (0, 4, 6, 6)),
    ((0, 4, 8, 8), (6, 2, 3, 3), {"stride": 2, "groups": 2}, (0, 6, 3, 3)),
    ((0, 3, 8), (4, 3, 3), {"padding": 1}, (0, 4, 8)),
])
@pytest.mark.parametrize("lib", LIBS)
def test_conv_of_an_empty_batch(lib, x_shape, weight_shape, options, out_shape):
    """A batch of no samples: an empty output, an empty input gradient and a zero weight
    gradient, as torch gives."""
    x = lib.zeros(x_shape, requires_grad=True)
    w = lib.ones(weight_shape, requires_grad=True)
    b = lib.ones(weight_shape[0], requires_grad=True)
    call = lib.nn.functional.conv2d if len(x_shape) == 4 else lib.nn.functional.conv1d
    out = call(x, w, b, **options)
    out.sum().backward()
    assert tuple(out.shape) == out_shape
    for t in (x, w, b):
        np.testing.assert_array_equal(t.grad.numpy(), np.zeros(tuple(t.shape), np.float32))
