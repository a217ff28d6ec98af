"""dark.autocast and dark.amp.GradScaler against torch 2.13: the per-op cast lists (output
dtypes and values), an MLP and a CNN forward/backward under autocast('cpu', bfloat16), the
GradScaler's scale sequence and parameters with injected inf gradients, its errors and state,
and the AMP training of an MLP on MNIST against float32."""
from __future__ import annotations

import gzip
import importlib.util
import pathlib
import pickle
import warnings

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

needs_ml_dtypes = pytest.mark.skipif(
    importlib.util.find_spec("ml_dtypes") is None,
    reason="bfloat16 needs the optional ml_dtypes package (pip install ml_dtypes)")

_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
_W = _RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
_BIAS = _RNG.standard_normal(4).astype(np.float32)
_A = _RNG.standard_normal((4, 5)).astype(np.float32)
_M = _RNG.standard_normal((5, 3)).astype(np.float32)
_B3 = _RNG.standard_normal((2, 4, 5)).astype(np.float32)
_C3 = _RNG.standard_normal((2, 5, 3)).astype(np.float32)
_P = _RNG.uniform(0.1, 0.9, (4, 5)).astype(np.float32)


# ----------------------------------------------------------------------------- the state

def test_autocast_state_nesting_and_decorator():
    assert not dark.is_autocast_enabled("cpu")
    assert dark.get_autocast_dtype("cpu") is dark.bfloat16
    assert dark.get_autocast_dtype("cuda") is dark.float16
    with dark.autocast("cpu"):
        assert dark.is_autocast_enabled("cpu") and not dark.is_autocast_enabled("cuda")
        with dark.autocast("cpu", enabled=False):
            assert not dark.is_autocast_enabled("cpu")
        assert dark.is_autocast_enabled("cpu")
        with dark.amp.autocast("cpu", dtype=dark.float16):
            assert dark.get_autocast_dtype("cpu") is dark.float16
        assert dark.get_autocast_dtype("cpu") is dark.bfloat16
    assert not dark.is_autocast_enabled("cpu")

    @dark.autocast("cpu")
    def inside():
        return dark.is_autocast_enabled("cpu")

    assert inside() and not dark.is_autocast_enabled("cpu")
    assert dark.is_autocast_available("cpu") and not dark.is_autocast_available("xpu")


@requires_torch
def test_autocast_errors_and_warnings_as_torch():
    with pytest.raises(RuntimeError, match="User specified an unsupported autocast "
                                           "device_type 'xpu'"):
        dark.autocast("xpu")  # dark has cpu and cuda only
    for library in (dark, torch):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`, got"):
            library.autocast(0)
        with pytest.raises(TypeError, match=r"autocast\(\)\(func\) requires a callable"):
            library.autocast("cpu")(3)
        with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not "
                                             "supported. Disabling autocast."):
            region = library.autocast("cpu", dtype=library.float32)
        with region:
            assert not library.is_autocast_enabled("cpu")
    for make in (lambda L: L.cpu.amp.autocast(), lambda L: L.cpu.amp.GradScaler()):
        for library in (dark, torch):
            with pytest.warns(FutureWarning, match=r"`\w+\.cpu\.amp\.\w+\(args...\)` is "
                                                  r"deprecated. Please use `\w+\.amp\.\w+\('cpu'"):
                made = make(library)
        assert type(made).__name__ in ("autocast", "GradScaler")
    if not torch.cuda.is_available() and not dark.cuda.is_available():
        for library in (dark, torch):
            with pytest.warns(UserWarning, match="CUDA is not available"):
                region = library.autocast("cuda")
            with region:
                assert not library.is_autocast_enabled("cuda")
            with pytest.warns(UserWarning, match="GradScaler is enabled, but CUDA is not "
                                                 "available.  Disabling."):
                assert not library.amp.GradScaler("cuda").is_enabled()


# ----------------------------------------------------------------------------- the cast lists

# name -> f(library, tensor); run under autocast('cpu', bfloat16) on float32 inputs
_OPS = {
    "mm": lambda L, t: L.mm(t(_A), t(_M)), "matmul": lambda L, t: t(_A) @ t(_M),
    "bmm": lambda L, t: L.bmm(t(_B3), t(_C3)), "matmul_3d": lambda L, t: t(_B3) @ t(_C3),
    "einsum": lambda L, t: L.einsum("ij,jk->ik", t(_A), t(_M)),
    "linear": lambda L, t: L.nn.functional.linear(t(_A), t(_M).t(), t(_M)[0]),
    "linear_3d": lambda L, t: L.nn.functional.linear(t(_B3), t(_M).t()),
    "conv2d": lambda L, t: L.nn.functional.conv2d(t(_X), t(_W), t(_BIAS), padding=1),
    "conv_transpose2d": lambda L, t: L.nn.functional.conv_transpose2d(
        t(_X), t(_W).transpose(0, 1).contiguous()),
    "linear_of_bf16": lambda L, t: L.nn.functional.linear(t(_A).bfloat16(), t(_M).t()),
    # not listed on CPU: the dtype of the inputs
    "dot": lambda L, t: L.dot(t(_M)[:, 0], t(_M)[:, 1]),
    "mv": lambda L, t: L.mv(t(_A), t(_M)[:, 0]),
    "relu": lambda L, t: L.relu(t(_A)), "relu_of_bf16": lambda L, t: L.relu(t(_A).bfloat16()),
    "softmax_of_bf16": lambda L, t: t(_A).bfloat16().softmax(1),
    "add_bf16_float32": lambda L, t: t(_A).bfloat16() + t(_P),
    "sum_of_bf16": lambda L, t: t(_A).bfloat16().sum(),
    # float32 list
    "prod": lambda L, t: t(_A).bfloat16().prod(1),
    "mse_loss": lambda L, t: L.nn.functional.mse_loss(t(_A).bfloat16(), t(_P)),
    "l1_loss": lambda L, t: L.nn.functional.l1_loss(t(_A).bfloat16(), t(_P)),
    "nll_loss": lambda L, t: L.nn.functional.nll_loss(t(_A).bfloat16(), L.tensor([0, 1, 2, 3])),
    "cross_entropy": lambda L, t: L.nn.functional.cross_entropy(t(_A).bfloat16(),
                                                                L.tensor([0, 1, 2, 3])),
    "binary_cross_entropy": lambda L, t: L.nn.functional.binary_cross_entropy(
        t(_P).bfloat16(), t(_P)),
    "bce_with_logits": lambda L, t: L.nn.functional.binary_cross_entropy_with_logits(
        t(_A).bfloat16(), t(_P)),
    # promote list: the widest floating type
    "cat": lambda L, t: L.cat([t(_A).bfloat16(), t(_P)]),
    "cat_bf16": lambda L, t: L.cat([t(_A).bfloat16(), t(_P).bfloat16()]),
    "stack": lambda L, t: L.stack([t(_A).bfloat16(), t(_P)]),
    "scaled_dot_product_attention": lambda L, t: L.nn.functional.scaled_dot_product_attention(
        t(_B3), t(_B3), t(_B3)),
}


def _max_ulps(ours, theirs):
    """The largest difference in bfloat16 ulps of ``theirs`` (1 ulp: 2**-7 of its binade)."""
    ulp = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(theirs.astype(np.float64)), 1e-30))) - 7)
    return float(np.max(np.abs(ours - theirs) / ulp)) if ours.size else 0.0


@needs_ml_dtypes
@requires_torch
@pytest.mark.parametrize("name", sorted(_OPS))
def test_op_under_cpu_autocast_as_torch(name):
    results = []
    for library in (dark, torch):
        with library.autocast("cpu", dtype=library.bfloat16):
            out = _OPS[name](library, library.tensor)
        results.append(out)
    ours, theirs = results
    assert str(ours.dtype)[5:] == str(theirs.dtype)[6:]
    ours, theirs = ours.detach().float().numpy(), theirs.detach().float().numpy()
    if theirs.dtype == np.float32 and str(results[1].dtype) == "torch.float32":
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    elif name == "scaled_dot_product_attention":
        # torch's CPU flash kernel rounds once, at the end; dark's attention is its ops
        # (matmul, softmax, matmul), each rounding to bfloat16: a few ulps of the largest
        np.testing.assert_allclose(ours, theirs, atol=2.0 ** -6 * np.abs(theirs).max())
    else:  # bfloat16: equal, or one ulp where torch's kernel rounds inside (prod)
        assert _max_ulps(ours, theirs) <= 1.0


@needs_ml_dtypes
@requires_torch
def test_weight_casts_are_cached_within_a_region():
    ours = [dark.tensor(v, requires_grad=True) for v in (_A, _M)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (_A, _M)]
    for library, (a, w) in ((dark, ours), (torch, theirs)):
        with library.autocast("cpu"):
            first, second = library.mm(a, w), library.mm(a * 2, w)
        cast_w = [out.grad_fn.next_functions[1][0] for out in (first, second)]
        assert cast_w[0] is cast_w[1] and cast_w[0].name() == "ToCopyBackward0"
        with library.autocast("cpu", cache_enabled=False):
            first, second = library.mm(a, w), library.mm(a * 2, w)
        assert first.grad_fn.next_functions[1][0] is not second.grad_fn.next_functions[1][0]


# ----------------------------------------------------------------------------- models

def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16),
                         nn.Tanh(), nn.Linear(16, 10))


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


@needs_ml_dtypes
@requires_torch
@pytest.mark.parametrize("build", [_mlp, _cnn], ids=["mlp", "cnn"])
def test_model_forward_backward_under_autocast_as_torch(build):
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(dark)
    ours.load_state_dict({k: dark.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = _RNG.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = np.arange(6) % 10
    results = {}
    for library, model in ((dark, ours), (torch, theirs)):
        dtypes = []
        for layer in model:
            layer.register_forward_hook(lambda m, i, o, d=dtypes: d.append(str(o.dtype)[-8:]))
        with library.autocast("cpu", dtype=library.bfloat16):
            out = model(library.tensor(x))
            loss = library.nn.functional.cross_entropy(out, library.tensor(y))
        loss.backward()
        grads = [p.grad.numpy() for p in model.parameters()]
        results[library.__name__] = (dtypes, str(loss.dtype)[-7:], float(loss), grads,
                                     out.detach().float().numpy())
    d_types, d_loss_type, d_loss, d_grads, d_out = results["dark"]
    t_types, t_loss_type, t_loss, t_grads, t_out = results["torch"]
    assert d_types == t_types and "bfloat16" in t_types[-1]
    assert d_loss_type == t_loss_type == "float32"
    assert _max_ulps(d_out, t_out) <= 1.0
    assert d_loss == pytest.approx(t_loss, rel=1e-5)
    for ours, theirs in zip(d_grads, t_grads):
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=2.0 ** -6,
                                   atol=2.0 ** -7 * np.abs(theirs).max())


# ----------------------------------------------------------------------------- GradScaler

def _scaler_run(lib, steps, injected):
    """A linear model trained with SGD and a GradScaler(growth_interval=3); at the steps in
    ``injected`` one gradient is made inf (or NaN) before scaler.step. Returns the scale
    before each update and the parameters after each step."""
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]]))
        model.bias.copy_(lib.tensor([0.1, -0.2]))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    x = lib.tensor([[1.0, 2.0, -1.0], [0.5, -0.5, 3.0]])
    scales, params, returned = [], [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = (model(x) ** 2).mean()
        scaler.scale(loss).backward()
        if step in injected:
            model.weight.grad[0, 1] = injected[step]
        scales.append(scaler.get_scale())
        returned.append(scaler.step(optimizer))
        scaler.update()
        params.append([p.detach().numpy().copy() for p in model.parameters()])
    return scales + [scaler.get_scale()], params, scaler.state_dict(), returned


@requires_torch
def test_grad_scaler_scale_sequence_and_parameters_as_torch():
    injected = {1: float("inf"), 2: float("nan"), 7: float("-inf")}
    ours = _scaler_run(dark, 12, injected)
    theirs = _scaler_run(torch, 12, injected)
    assert ours[0] == theirs[0]
    assert ours[0][1] == 2.0 ** 10 and ours[0][2] == 2.0 ** 9 and ours[0][3] == 2.0 ** 8
    for mine, other in zip(ours[1], theirs[1]):
        for a, b in zip(mine, other):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # float32 op order
    assert ours[2] == theirs[2] and ours[3] == theirs[3]


@requires_torch
def test_grad_scaler_errors_as_torch():
    for lib in (dark, torch):
        model = lib.nn.Linear(2, 1)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        assert scaler.get_scale() == 2.0 ** 16 and scaler.is_enabled()
        with pytest.raises(AssertionError, match="Attempted step but _scale is None.  This may "
                                                 "indicate your script did not use "
                                                 r"scaler.scale\(loss or outputs\)"):
            scaler.step(optimizer)
        scaler.scale(model(lib.ones(1, 2)).sum()).backward()
        scaler.unscale_(optimizer)
        with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this "
                                               r"optimizer since the last update\(\)."):
            scaler.unscale_(optimizer)
        scaler.step(optimizer)
        with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the "
                                               r"last update\(\)."):
            scaler.step(optimizer)
        with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)."):
            scaler.unscale_(optimizer)
        with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
            scaler.step(optimizer, closure=lambda: 0)
        with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
            lib.amp.GradScaler("cpu", growth_factor=1.0)
        with pytest.raises(AssertionError, match="The backoff factor must be < 1.0."):
            lib.amp.GradScaler("cpu", backoff_factor=1.0)
        with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable"):
            scaler.scale([lib.ones(1), 3])
        scaled = scaler.scale((lib.ones(1), [lib.ones(2)]))
        assert isinstance(scaled, tuple) and float(scaled[1][0][0]) == 2.0 ** 16


@requires_torch
def test_grad_scaler_state_dict_and_disabled():
    ours, theirs = dark.amp.GradScaler("cpu", init_scale=8.0), torch.amp.GradScaler("cpu",
                                                                                     init_scale=8.0)
    assert ours.state_dict() == theirs.state_dict()
    state = {"scale": 32.0, "growth_factor": 3.0, "backoff_factor": 0.25,
             "growth_interval": 7, "_growth_tracker": 2}
    ours.load_state_dict(state)
    theirs.load_state_dict(state)
    assert ours.state_dict() == theirs.state_dict() == state
    assert ours.get_scale() == 32.0 and ours.get_growth_interval() == 7
    restored = pickle.loads(pickle.dumps(ours))
    assert restored.state_dict() == state
    off = dark.amp.GradScaler("cpu", enabled=False)
    loss = dark.ones(1)
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        dark.amp.GradScaler("cpu").load_state_dict({})


def test_grad_scaler_skips_the_step_on_inf():
    model = dark.nn.Linear(2, 1)
    optimizer = dark.optim.SGD(model.parameters(), lr=0.1)
    scaler = dark.amp.GradScaler("cpu", init_scale=4.0)
    before = [p.detach().clone() for p in model.parameters()]
    scaler.scale(model(dark.ones(1, 2)).sum()).backward()
    model.bias.grad.fill_(float("inf"))
    assert scaler.step(optimizer) is None
    scaler.update()
    assert all(dark.equal(a, b) for a, b in zip(before, model.parameters()))
    assert scaler.get_scale() == 2.0
    optimizer.zero_grad()
    scaler.scale(model(dark.ones(1, 2)).sum()).backward()
    scaler.step(optimizer)
    assert not dark.equal(before[1], model.bias)


# ----------------------------------------------------------------------------- MNIST

def _mnist(root, split, count):
    raw = pathlib.Path(root, "MNIST", "raw")
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(raw / f"{prefix}-images-idx3-ubyte.gz") as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 784)[:count]
    with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8).astype(np.int64)[:count]
    return (images.astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081), labels


def _train_mnist(train, test, amp: bool) -> float:
    """An MLP trained 2 epochs with SGD (momentum) on ``train``; the test accuracy."""
    dark.manual_seed(0)
    nn = dark.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = dark.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = dark.amp.GradScaler("cpu", enabled=amp)
    images, labels = train
    order_rng = np.random.default_rng(0)
    for _ in range(2):
        order = order_rng.permutation(len(labels))
        for start in range(0, len(order), 100):
            batch = order[start:start + 100]
            optimizer.zero_grad()
            with dark.autocast("cpu", dtype=dark.bfloat16, enabled=amp):
                out = model(dark.tensor(images[batch]))
                loss = nn.functional.cross_entropy(out, dark.tensor(labels[batch]))
            assert out.dtype is (dark.bfloat16 if amp else dark.float32)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
    with dark.no_grad():
        predicted = model(dark.tensor(test[0])).argmax(1).numpy()
    return float((predicted == test[1]).mean())


@needs_ml_dtypes
def test_amp_trains_mnist_to_the_float32_accuracy(data_root, capsys):
    """autocast('cpu', bfloat16) + GradScaler on 10,000 MNIST images, 2 epochs: the test
    accuracy (2,000 images) within 0.5% of the same training in float32."""
    train, test = _mnist(data_root, "train", 10000), _mnist(data_root, "test", 2000)
    full = _train_mnist(train, test, amp=False)
    mixed = _train_mnist(train, test, amp=True)
    with capsys.disabled():
        print(f"\nMNIST MLP, 10k images, 2 epochs: float32 {full:.4f}, bfloat16 AMP {mixed:.4f}")
    assert full > 0.9
    assert abs(mixed - full) <= 0.005


def test_no_warnings_from_autocast_regions():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with dark.autocast("cpu", enabled=False):
            dark.ones(2) + 1


@needs_ml_dtypes
@requires_torch
def test_custom_fwd_and_bwd_as_torch():
    dtypes = {}
    for library in (dark, torch):
        amp = library.amp

        class Product(library.autograd.Function):
            @staticmethod
            @amp.custom_fwd(device_type="cpu", cast_inputs=library.float32)
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a.mm(b)

            @staticmethod
            @amp.custom_bwd(device_type="cpu")
            def backward(ctx, grad):
                a, b = ctx.saved_tensors
                return grad.mm(b.t()), a.t().mm(grad)

        class Plain(library.autograd.Function):
            @staticmethod
            @amp.custom_fwd(device_type="cpu")
            def forward(ctx, a, b):
                return a.mm(b)

            @staticmethod
            @amp.custom_bwd(device_type="cpu")
            def backward(ctx, grad):  # not run
                return grad, grad

        a = library.tensor(_A).bfloat16().requires_grad_()
        b = library.tensor(_M, requires_grad=True)
        with library.autocast("cpu", dtype=library.bfloat16):
            out = Product.apply(a, b)
            plain = Plain.apply(library.tensor(_A), library.tensor(_M))
        out.sum().backward()
        dtypes[library.__name__] = tuple(str(t.dtype).split(".")[-1]
                                         for t in (out, a.grad, plain))
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            amp.custom_fwd(device_type=None)
    assert dtypes["dark"] == dtypes["torch"] == ("float32", "bfloat16", "bfloat16")
