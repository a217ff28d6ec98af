"""F.pad and F.interpolate (op table: forward, gradcheck, gradgradcheck, torch parity),
padding and upsampling modules (parity, repr) and errors vs torch."""
import numpy as np
import pytest
from harness import Case, check_case, ids
from test_nn_conv import check_module

import dark
import dark.nn as nn
import dark.nn.functional as F

torch = pytest.importorskip("torch")


def call(name, shape, *args, **options):
    label = "_".join([name] + [str(a).replace(" ", "") for a in args]
                     + [f"{k}{v}" for k, v in options.items()] + ["x".join(map(str, shape))])
    return Case(label, lambda t, x: getattr(t.nn.functional, name)(x, *args, **options), [shape])


X4 = (2, 3, 4, 5)
CASES = [
    call("pad", X4, (1, 2)),
    call("pad", X4, (1, 2, 0, 3), value=1.5),
    call("pad", X4, (-1, 2, 3, -2)),
    call("pad", X4, (1, 1, 1, 1, 1, 1, 1, 1)),
    call("pad", (5,), (2, 0)),
    call("pad", X4, (1, 2, 3, 1), mode="reflect"),
    call("pad", (2, 3, 6), (2, 5), mode="reflect"),
    call("pad", X4, (-1, 2, 1, 1), mode="reflect"),
    call("pad", (1, 2, 3, 4, 5), (1, 2, 1, 1, 2, 0), mode="reflect"),
    call("pad", X4, (1, 2, 3, 1), mode="replicate"),
    call("pad", (3, 6), (4, 0), mode="replicate"),
    call("pad", X4, (1, 2, 3, -1), mode="circular"),
    call("pad", (2, 3, 6), (-1, 2), mode="circular"),
    call("pad", (2, 3, 6), (6, 6), mode="circular"),
    call("interpolate", X4, scale_factor=2),
    call("interpolate", X4, size=(7, 9)),
    call("interpolate", X4, scale_factor=1.7),
    call("interpolate", X4, scale_factor=(0.5, 1.5)),
    call("interpolate", X4, size=(3, 8), mode="nearest-exact"),
    call("interpolate", (2, 3, 7), size=4),
    call("interpolate", X4, size=(7, 9), mode="bilinear"),
    call("interpolate", X4, size=(7, 9), mode="bilinear", align_corners=True),
    call("interpolate", X4, size=(2, 3), mode="bilinear"),
    call("interpolate", X4, size=1, mode="bilinear", align_corners=True),
    call("interpolate", X4, scale_factor=1.7, mode="bilinear"),
    call("interpolate", X4, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    call("interpolate", (2, 3, 7), scale_factor=0.6, mode="linear"),
    call("interpolate", (2, 3, 7), size=11, mode="linear", align_corners=True),
    call("interpolate", (1, 2, 3, 4, 3), size=(4, 5, 2), mode="trilinear"),
    call("interpolate", (2, 3, 5, 7), size=(2, 3), mode="area"),
    call("interpolate", (2, 3, 7), size=3, mode="area"),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def test_grad_fn_names():
    x = dark.randn(2, 3, 4, 5, requires_grad=True)
    assert F.pad(x, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert F.pad(x, (1, 1, 1, 1), mode="reflect").grad_fn.name() == "ReflectionPad2DBackward0"
    assert F.pad(x[0], (1, 1), mode="replicate").grad_fn.name() == "ReplicationPad1DBackward0"
    assert F.interpolate(x, scale_factor=2).grad_fn.name() == "UpsampleNearest2DBackward0"
    assert (F.interpolate(x, size=3, mode="bilinear").grad_fn.name()
            == "UpsampleBilinear2DBackward0")


def _raises_like(dark_call, torch_call):
    with pytest.raises(Exception) as expected:
        torch_call()
    with pytest.raises(type(expected.value)) as got:
        dark_call()
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("fn", [
    lambda f, x: f.pad(x, (1, 2, 3)),
    lambda f, x: f.pad(x, (1,) * 10),
    lambda f, x: f.pad(x, (1, 2), mode="reflect"),
    lambda f, x: f.pad(x, (5, 2, 1, 1), mode="reflect"),
    lambda f, x: f.pad(x, (1, 1, 1, 1, 1, 1, 1, 1), mode="reflect"),
    lambda f, x: f.pad(x, (6, 2, 1, 1), mode="circular"),
    lambda f, x: f.pad(x, (1, 2, 1, 1), mode="foo"),
    lambda f, x: f.pad(x, (1, 2, 1, 1), mode="reflect", value=2.0),
    lambda f, x: f.pad(x[0, 0, 0], (1, 2), mode="reflect"),
    lambda f, x: f.pad(x, (1.5, 1)),
    lambda f, x: f.interpolate(x, size=7, mode="nearest", align_corners=True),
    lambda f, x: f.interpolate(x),
    lambda f, x: f.interpolate(x, size=3, scale_factor=2),
    lambda f, x: f.interpolate(x, size=(3, 4, 5)),
    lambda f, x: f.interpolate(x, scale_factor=(3, 4, 5)),
    lambda f, x: f.interpolate(x, size=3, mode="linear"),
    lambda f, x: f.interpolate(x[0], size=3, mode="bilinear"),
    lambda f, x: f.interpolate(x, size=3, mode="foo"),
    lambda f, x: f.interpolate(x[0, 0], size=3),
    lambda f, x: f.interpolate(x, size=3, mode="bilinear", recompute_scale_factor=True),
    lambda f, x: f.interpolate(x, size=(0, 3)),
])
def test_errors(fn):
    x = np.ones((2, 3, 4, 5), dtype=np.float32)
    _raises_like(lambda: fn(F, dark.tensor(x)), lambda: fn(torch.nn.functional, torch.tensor(x)))


@pytest.mark.parametrize("build, shape", [
    (lambda m: m.ZeroPad2d(1), (2, 3, 4, 5)),
    (lambda m: m.ZeroPad2d((1, 0, 2, -1)), (3, 4, 5)),
    (lambda m: m.ZeroPad1d((2, 1)), (2, 3, 4)),
    (lambda m: m.ConstantPad1d(2, 3.5), (2, 3, 4)),
    (lambda m: m.ConstantPad2d((1, 2, 3, 4), -1.0), (2, 3, 4, 5)),
    (lambda m: m.ConstantPad3d(1, 2.0), (1, 2, 3, 4, 5)),
    (lambda m: m.ReflectionPad1d(2), (2, 3, 5)),
    (lambda m: m.ReflectionPad2d((1, 2, 3, 0)), (2, 3, 4, 5)),
    (lambda m: m.ReflectionPad3d(1), (1, 2, 3, 4, 5)),
    (lambda m: m.ReplicationPad1d((3, 1)), (3, 5)),
    (lambda m: m.ReplicationPad2d(2), (2, 3, 4, 5)),
    (lambda m: m.ReplicationPad3d((1, 0, 2, 1, 0, 1)), (1, 2, 3, 4, 5)),
    (lambda m: m.CircularPad1d(2), (2, 3, 5)),
    (lambda m: m.CircularPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(5, 7), mode="bilinear", align_corners=False), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=(1.5, 2.0), mode="bilinear", align_corners=True),
     (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=9, mode="linear"), (2, 3, 5)),
    (lambda m: m.Upsample(scale_factor=0.5, mode="nearest", recompute_scale_factor=True),
     (2, 3, 5, 7)),
    (lambda m: m.UpsamplingNearest2d(scale_factor=3), (2, 3, 3, 4)),
    (lambda m: m.UpsamplingBilinear2d(size=(6, 7)), (2, 3, 3, 4)),
])
def test_module_parity(build, shape):
    check_module(build(nn), build(torch.nn), shape)
