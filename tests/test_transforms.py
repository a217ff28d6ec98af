"""dark.data.transforms and dark.data.utils (make_grid, save_image) against independent
references: numpy formulas, Pillow itself and torch ops (torchvision is not installed)."""
import colorsys
import gzip
import math
import os

import numpy as np
import pytest
from harness import requires_torch, torch
from PIL import Image

import dark
from dark.data import make_grid, save_image
from dark.data import transforms as T
from dark.data.transforms import functional as F

RNG = np.random.default_rng(1234)
TF = torch.nn.functional if torch is not None else None


def _image(shape, dtype=np.float32):
    if dtype == np.uint8:
        return RNG.integers(0, 256, shape, dtype=np.uint8)
    return RNG.random(shape, dtype=np.float32).astype(dtype)


def _to(device, array):
    return dark.from_numpy(array).to(device)


def _np(tensor):
    return tensor.detach().cpu().numpy()


# ----------------------------------------------------------------------------- conversions

def test_to_tensor_numpy_and_pil_modes():
    hwc = _image((5, 7, 3), np.uint8)
    out = F.to_tensor(hwc)
    assert out.dtype is dark.float32 and tuple(out.shape) == (3, 5, 7)
    np.testing.assert_array_equal(_np(out), hwc.transpose(2, 0, 1).astype(np.float32) / 255)
    np.testing.assert_array_equal(_np(T.ToTensor()(Image.fromarray(hwc))), _np(out))
    gray = _image((4, 6), np.uint8)
    np.testing.assert_array_equal(_np(F.to_tensor(Image.fromarray(gray, "L"))),
                                  gray[None].astype(np.float32) / 255)
    np.testing.assert_array_equal(_np(F.to_tensor(gray)), gray[None] / np.float32(255))
    as_int = RNG.integers(-1000, 1000, (4, 6), dtype=np.int32)
    out = F.to_tensor(Image.fromarray(as_int, "I"))
    assert out.dtype is dark.int32
    np.testing.assert_array_equal(_np(out), as_int[None])
    as_float = _image((4, 6)) * 7
    out = F.to_tensor(Image.fromarray(as_float, "F"))
    assert out.dtype is dark.float32
    np.testing.assert_array_equal(_np(out), as_float[None])
    bits = Image.fromarray(gray > 128)
    np.testing.assert_array_equal(_np(F.to_tensor(bits)), (gray > 128)[None].astype(np.float32))
    floats = _image((3, 4, 2), np.float64)  # non-uint8 arrays are transposed, not scaled
    out = F.to_tensor(floats)
    assert out.dtype is dark.float64
    np.testing.assert_array_equal(_np(out), floats.transpose(2, 0, 1))


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        F.to_tensor([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions"):
        F.to_tensor(np.zeros((1, 2, 3, 4), np.uint8))


def test_pil_to_tensor_keeps_uint8_chw():
    hwc = _image((5, 7, 3), np.uint8)
    out = T.PILToTensor()(Image.fromarray(hwc))
    assert out.dtype is dark.uint8 and tuple(out.shape) == (3, 5, 7)
    np.testing.assert_array_equal(_np(out), hwc.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image"):
        F.pil_to_tensor(hwc)


def test_to_pil_image_mode_inference():
    chw = _image((1, 4, 5))
    pil = T.ToPILImage()(dark.from_numpy(chw))
    assert pil.mode == "L"
    np.testing.assert_array_equal(np.array(pil), (chw[0] * 255).astype(np.uint8))
    rgb = _image((3, 4, 5), np.uint8)
    assert F.to_pil_image(dark.from_numpy(rgb)).mode == "RGB"
    np.testing.assert_array_equal(np.array(F.to_pil_image(dark.from_numpy(rgb))),
                                  rgb.transpose(1, 2, 0))
    assert F.to_pil_image(_image((4, 5, 4), np.uint8)).mode == "RGBA"
    assert F.to_pil_image(_image((4, 5, 2), np.uint8)).mode == "LA"
    assert F.to_pil_image(np.zeros((4, 5), np.int32)).mode == "I"
    assert F.to_pil_image(dark.from_numpy(chw), mode="F").mode == "F"
    assert F.to_pil_image(dark.from_numpy(chw[0])).size == (5, 4)
    with pytest.raises(ValueError, match=r"Incorrect mode \(RGB\) supplied"):
        F.to_pil_image(dark.from_numpy(chw), mode="RGB")
    with pytest.raises(ValueError, match="Only modes"):
        F.to_pil_image(rgb.transpose(1, 2, 0), mode="RGBA")
    with pytest.raises(ValueError, match="should not have > 4 channels"):
        F.to_pil_image(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        F.to_pil_image([1])
    assert repr(T.ToPILImage()) == "ToPILImage()"
    assert repr(T.ToPILImage("RGB")) == "ToPILImage(mode=RGB)"


# ----------------------------------------------------------------------------- normalize

def test_normalize_formula(device):
    x = _image((3, 4, 5))
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.5, 2.0)
    out = T.Normalize(mean, std)(_to(device, x))
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(
        std, np.float32)[:, None, None]
    np.testing.assert_allclose(_np(out), expected, rtol=1e-6, atol=1e-7)
    batch = _to(device, _image((2, 3, 4, 5)))
    assert tuple(F.normalize(batch, mean, std).shape) == (2, 3, 4, 5)


@requires_torch
def test_normalize_takes_torchs_float32_steps(device):
    x = _image((3, 4, 5))
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.5, 2.0)
    out = T.Normalize(mean, std)(_to(device, x))
    reference = torch.from_numpy(x).sub(torch.tensor(mean).view(-1, 1, 1)).div(
        torch.tensor(std).view(-1, 1, 1))
    np.testing.assert_array_equal(_np(out), reference.numpy())  # the same float32 steps


def test_normalize_inplace_grad_and_errors():
    x = dark.from_numpy(_image((2, 3, 3)))
    before = _np(x).copy()
    out = F.normalize(x, [0.5], [0.5])
    np.testing.assert_array_equal(_np(x), before)
    version = x._version
    assert F.normalize(x, [0.5], [0.5], inplace=True) is x
    assert x._version > version  # an in-place write, seen by autograd's version checks
    np.testing.assert_array_equal(_np(x), _np(out))
    leaf = dark.from_numpy(_image((2, 3, 3))).requires_grad_()
    F.normalize(leaf, [0.1, 0.2], [0.5, 4.0]).sum().backward()
    np.testing.assert_allclose(_np(leaf.grad), np.broadcast_to(
        np.array([2.0, 0.25], np.float32)[:, None, None], (2, 3, 3)))
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        T.Normalize([0.5], [0.5])(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(dark.zeros(1, 2, 2, dtype=dark.uint8), [0.5], [0.5])
    with pytest.raises(ValueError, match="Expected tensor to be a tensor image"):
        F.normalize(dark.zeros(2, 2), [0.5], [0.5])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(dark.zeros(1, 2, 2), [0.5], [0.0])
    assert repr(T.Normalize((0.1307,), (0.3081,))) == "Normalize(mean=(0.1307,), std=(0.3081,))"


# ----------------------------------------------------------------------------- resize

@pytest.mark.parametrize("interpolation", [F.InterpolationMode.NEAREST,
                                           F.InterpolationMode.BILINEAR,
                                           F.InterpolationMode.BICUBIC,
                                           F.InterpolationMode.LANCZOS])
def test_resize_pil_is_pillow_resize(interpolation):
    pil = Image.fromarray(_image((30, 20, 3), np.uint8))  # width 20, height 30
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    out = T.Resize(10, interpolation)(pil)
    # the smaller edge (width) becomes 10, the height int(10 * 30 / 20)
    assert out.size == (10, 15)
    np.testing.assert_array_equal(np.array(out), np.array(
        pil.resize((10, 15), filters[interpolation.value])))
    out = F.resize(pil, [7, 9], interpolation)
    np.testing.assert_array_equal(np.array(out), np.array(
        pil.resize((9, 7), filters[interpolation.value])))


def test_resize_sizes_max_size_and_errors():
    img = dark.zeros(3, 40, 20)
    assert tuple(F.resize(img, 10).shape) == (3, 20, 10)
    assert tuple(F.resize(img, [10]).shape) == (3, 20, 10)
    # the longer edge 20 is capped at 15: the shorter becomes int(15 * 10 / 20)
    assert tuple(F.resize(img, 10, max_size=15).shape) == (3, 15, 7)
    assert F.resize(img, 20) is img
    pil = Image.new("RGB", (20, 40))
    assert F.resize(pil, 10, max_size=15).size == (7, 15)
    with pytest.raises(ValueError, match="max_size = 10 must be strictly greater"):
        F.resize(img, 10, max_size=10)
    with pytest.raises(ValueError, match="max_size should only be passed"):
        F.resize(img, [10, 10], max_size=20)
    with pytest.raises(ValueError, match="Size must be an int or a 1 or 2 element"):
        F.resize(img, [1, 2, 3])
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(TypeError, match="Argument interpolation should be a InterpolationMode"):
        F.resize(img, 5, interpolation="bilinear")
    assert F.resize(img, 5, interpolation=0).shape[-1] == 5  # Pillow's integer constants
    assert repr(T.Resize((4, 5))) == ("Resize(size=(4, 5), interpolation=bilinear, "
                                      "max_size=None, antialias=True)")


# float32 results of dark's interpolate vs torch's (values in [0, 1)): torch's bicubic and
# antialiased weights are reproduced bit for bit, but the sums are not accumulated as torch's
# compiled kernels do (fused multiply-adds; non-antialiased bilinear in one 2-D pass), and
# the non-antialiased bilinear source index scale * (dst + 0.5) - 0.5 is not fused as torch's
# is, so a bilinear weight can be an ulp off (see tests/test_torchvision_parity.py)
_RESIZE_ATOL = {"nearest": 0.0, "bilinear": 8 * 2.0 ** -23, "bicubic": 4 * 2.0 ** -23}


@pytest.mark.parametrize("mode,antialias", [("nearest", False), ("bilinear", False),
                                            ("bilinear", True), ("bicubic", False),
                                            ("bicubic", True)])
@pytest.mark.parametrize("size", [(7, 9), (26, 40), (13, 5)])
def test_resize_tensor_is_interpolate(device, mode, antialias, size):
    # torchvision's tensor resize is torch's interpolate (align_corners=False where it
    # applies); dark's is dark's interpolate, called the same way
    x = _image((2, 3, 13, 17))
    out = F.resize(_to(device, x), list(size), F.InterpolationMode(mode), antialias=antialias)
    align_corners = None if mode == "nearest" else False
    same = dark.nn.functional.interpolate(_to(device, x), size=size, mode=mode,
                                          align_corners=align_corners, antialias=antialias)
    np.testing.assert_array_equal(_np(out), _np(same))
    # 3-D images go through a batch of one; float64 stays float64
    out = F.resize(_to(device, x[0].astype(np.float64)), list(size), F.InterpolationMode(mode),
                   antialias=antialias)
    assert out.dtype is dark.float64 and tuple(out.shape) == (3,) + size
    same = dark.nn.functional.interpolate(_to(device, x[:1].astype(np.float64)), size=size,
                                          mode=mode, align_corners=align_corners,
                                          antialias=antialias)[0]
    np.testing.assert_array_equal(_np(out), _np(same))


@pytest.mark.parametrize("mode,antialias", [("nearest", False), ("bilinear", False),
                                            ("bilinear", True), ("bicubic", False),
                                            ("bicubic", True)])
@pytest.mark.parametrize("size", [(7, 9), (26, 40), (13, 5)])
@requires_torch
def test_resize_tensor_matches_torch_interpolate(device, mode, antialias, size):
    x = _image((2, 3, 13, 17))
    out = F.resize(_to(device, x), list(size), F.InterpolationMode(mode), antialias=antialias)
    align_corners = None if mode == "nearest" else False
    expected = TF.interpolate(torch.from_numpy(x), size=size, mode=mode,
                              align_corners=align_corners, antialias=antialias)
    np.testing.assert_allclose(_np(out), expected.numpy(), rtol=0, atol=_RESIZE_ATOL[mode])
    # 3-D images go through a batch of one; float64 stays float64
    out = F.resize(_to(device, x[0].astype(np.float64)), list(size), F.InterpolationMode(mode),
                   antialias=antialias)
    assert out.dtype is dark.float64 and tuple(out.shape) == (3,) + size
    expected = TF.interpolate(torch.from_numpy(x[:1].astype(np.float64)), size=size,
                              mode=mode, align_corners=align_corners, antialias=antialias)[0]
    np.testing.assert_allclose(_np(out), expected.numpy(), rtol=1e-12, atol=1e-14)


@requires_torch
def test_resize_uint8_tensor_rounds_like_torchvision():
    # torchvision: float32, interpolate, clamp (bicubic, uint8 only), round, cast back
    x = _image((3, 11, 14), np.uint8)
    out = F.resize(dark.from_numpy(x), [6, 5])
    assert out.dtype is dark.uint8
    expected = TF.interpolate(torch.from_numpy(x)[None].float(), size=(6, 5), mode="bilinear",
                              align_corners=False, antialias=True)[0].round().to(torch.uint8)
    np.testing.assert_array_equal(_np(out), expected.numpy())
    out = F.resize(dark.from_numpy(x), [22, 28], F.InterpolationMode.BICUBIC)
    assert out.dtype is dark.uint8  # bicubic overshoot is clamped before the cast
    expected = TF.interpolate(torch.from_numpy(x)[None].float(), size=(22, 28), mode="bicubic",
                              align_corners=False, antialias=True)[0]
    assert float(expected.min()) < 0 and float(expected.max()) > 255  # the clamp matters
    np.testing.assert_array_equal(_np(out),
                                  expected.clamp(0, 255).round().to(torch.uint8).numpy())


@pytest.mark.parametrize("dtype", ["float16", "int32", "int64", "int16", "bool"])
@requires_torch
def test_resize_other_dtypes_round_trip_through_float32(dtype):
    # torchvision rounds before casting back to the integer types it lists; float16 and bool
    # are cast without rounding
    x = (_image((2, 9, 11)) * 6).astype(np.float32)
    source = torch.from_numpy(x).to(getattr(torch, dtype))
    out = F.resize(dark.from_numpy(source.numpy()), [5, 4], F.InterpolationMode.BICUBIC,
                   antialias=False)
    assert out.dtype is getattr(dark, dtype)
    expected = TF.interpolate(source[None].float(), size=(5, 4), mode="bicubic",
                              align_corners=False)[0]
    if dtype.startswith("int"):
        expected = expected.round()
    np.testing.assert_array_equal(_np(out), expected.to(source.dtype).numpy())


@requires_torch
def test_resize_tensor_wrong_dims_error_is_torchs():
    # torchvision adds a batch dim below 4-D and calls interpolate: (H, W) and 5-D images
    # reach it with the wrong number of spatial dims and get torch's error
    for shape in [(10, 12), (2, 2, 3, 10, 12)]:
        batched = (1,) + shape if len(shape) < 4 else shape
        with pytest.raises(ValueError) as expected:
            TF.interpolate(torch.zeros(batched), size=[5, 6], mode="bilinear",
                           align_corners=False, antialias=True)
        with pytest.raises(ValueError) as actual:
            F.resize(dark.zeros(*shape), [5, 6])
        assert str(actual.value) == str(expected.value)


def test_resize_tensor_mode_errors_as_torchvision():
    img = dark.zeros(3, 10, 12)
    # box and hamming are not interpolate modes; lanczos is, but torchvision passes
    # antialias=False for it
    for mode in ["box", "hamming"]:
        with pytest.raises(NotImplementedError, match=f"got {mode}"):
            F.resize(img, [5, 6], F.InterpolationMode(mode))
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.resize(img, [5, 6], F.InterpolationMode.LANCZOS)


@requires_torch
def test_resize_antialias_none_and_nearest_exact_match_torch():
    # antialias=None means False; nearest ignores antialias=True
    x = _image((1, 3, 20, 16))
    out = F.resize(dark.from_numpy(x), [7, 5], antialias=None)
    expected = TF.interpolate(torch.from_numpy(x), size=(7, 5), mode="bilinear",
                              align_corners=False, antialias=False)
    np.testing.assert_allclose(_np(out), expected.numpy(), rtol=0,
                               atol=_RESIZE_ATOL["bilinear"])
    out = F.resize(dark.from_numpy(x), [7, 5], F.InterpolationMode.NEAREST_EXACT,
                   antialias=True)
    np.testing.assert_array_equal(_np(out), TF.interpolate(
        torch.from_numpy(x), size=(7, 5), mode="nearest-exact").numpy())


def test_resize_bilinear_is_differentiable():
    leaf = dark.from_numpy(_image((1, 6, 6))).requires_grad_()
    F.resize(leaf, [3, 3], antialias=True).sum().backward()
    # each output is a normalised average: the gradient sums to the number of outputs
    assert math.isclose(float(leaf.grad.sum()), 9.0, rel_tol=1e-5)


@pytest.mark.parametrize("mode,antialias,size", [("bilinear", True, [3, 4]),
                                                 ("bilinear", False, [8, 9]),
                                                 ("bicubic", True, [4, 3]),
                                                 ("bicubic", False, [7, 5])])
def test_resize_gradients(device, mode, antialias, size):
    x = _image((2, 5, 6)).astype(np.float64)
    leaf = _to(device, x).requires_grad_()
    assert dark.autograd.gradcheck(
        lambda t: F.resize(t, size, F.InterpolationMode(mode), antialias=antialias), (leaf,))
    # a 3-D image is squeezed back from a batch of one, under torch's grad_fn name
    out = F.resize(leaf, size, F.InterpolationMode(mode), antialias=antialias)
    assert type(out.grad_fn).__name__ == "SqueezeBackward1"


@pytest.mark.parametrize("mode,antialias,size", [("bilinear", True, [3, 4]),
                                                 ("bilinear", False, [8, 9]),
                                                 ("bicubic", True, [4, 3]),
                                                 ("bicubic", False, [7, 5])])
@requires_torch
def test_resize_gradients_match_torch(device, mode, antialias, size):
    x = _image((2, 5, 6)).astype(np.float64)
    leaf = _to(device, x).requires_grad_()
    # torch's gradient of the same resize; the grad_fn names are torch's (a 3-D image is
    # squeezed back from a batch of one)
    out = F.resize(leaf, size, F.InterpolationMode(mode), antialias=antialias)
    weights = _image(tuple(out.shape)).astype(np.float64)
    (out * _to(device, weights)).sum().backward()
    reference = torch.from_numpy(x).requires_grad_()
    expected = TF.interpolate(reference.unsqueeze(0), size=size, mode=mode,
                              align_corners=False, antialias=antialias).squeeze(0)
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(_np(leaf.grad), reference.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert type(out.grad_fn).__name__ == type(expected.grad_fn).__name__ == "SqueezeBackward1"
    batched = F.resize(leaf[None], size, F.InterpolationMode(mode), antialias=antialias)
    expected = TF.interpolate(reference[None], size=size, mode=mode, align_corners=False,
                              antialias=antialias)
    assert type(batched.grad_fn).__name__ == type(expected.grad_fn).__name__


# ----------------------------------------------------------------------------- crop, pad, flip

def test_center_crop_and_crop(device):
    x = _image((3, 10, 9))
    out = T.CenterCrop(4)(_to(device, x))
    top, left = int(round((10 - 4) / 2)), int(round((9 - 4) / 2))
    np.testing.assert_array_equal(_np(out), x[:, top:top + 4, left:left + 4])
    np.testing.assert_array_equal(_np(F.crop(_to(device, x), 2, 3, 5, 4)), x[:, 2:7, 3:7])
    # a crop beyond the border is zero-padded
    expected = np.pad(x, ((0, 0), (1, 0), (0, 2)))[:, :4, 7:]
    np.testing.assert_array_equal(_np(F.crop(_to(device, x), -1, 7, 4, 4)), expected)
    # a crop larger than the image pads (left, top) = (diff // 2) and the rest after
    big = _np(T.CenterCrop((13, 12))(_to(device, x)))
    np.testing.assert_array_equal(big, np.pad(x, ((0, 0), (1, 2), (1, 2))))
    pil = Image.fromarray((x.transpose(1, 2, 0) * 255).astype(np.uint8))
    np.testing.assert_array_equal(np.array(T.CenterCrop((5, 3))(pil)),
                                  np.array(pil)[2:7, 3:6])
    np.testing.assert_array_equal(np.array(T.CenterCrop((13, 12))(pil)),
                                  np.pad(np.array(pil), ((1, 2), (1, 2), (0, 0))))
    assert repr(T.CenterCrop(4)) == "CenterCrop(size=(4, 4))"


def test_flips(device):
    x = _image((2, 3, 4, 5))
    np.testing.assert_array_equal(_np(F.hflip(_to(device, x))), x[..., ::-1])
    np.testing.assert_array_equal(_np(F.vflip(_to(device, x))), x[..., ::-1, :])
    hwc = _image((4, 5, 3), np.uint8)
    np.testing.assert_array_equal(np.array(F.hflip(Image.fromarray(hwc))), hwc[:, ::-1])
    np.testing.assert_array_equal(np.array(F.vflip(Image.fromarray(hwc))), hwc[::-1])
    assert T.RandomHorizontalFlip(p=1.0)(Image.fromarray(hwc)).tobytes() == \
        np.ascontiguousarray(hwc[:, ::-1]).tobytes()
    np.testing.assert_array_equal(_np(T.RandomVerticalFlip(p=0.0)(_to(device, x))), x)
    assert repr(T.RandomVerticalFlip(0.3)) == "RandomVerticalFlip(p=0.3)"


@pytest.mark.parametrize("padding,widths", [(2, ((2, 2), (2, 2))), ((1, 3), ((3, 3), (1, 1))),
                                            ([1, 2, 3, 0], ((2, 0), (1, 3)))])
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_tensor_and_pil_vs_numpy(device, padding, widths, mode):
    x = _image((3, 5, 6), np.uint8)
    np_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}.get(mode)
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    expected = np.pad(x, ((0, 0),) + widths, np_mode or "constant", **kwargs)
    out = T.Pad(padding, fill=7, padding_mode=mode)(_to(device, x))
    assert out.dtype is dark.uint8
    np.testing.assert_array_equal(_np(out), expected)
    pil = Image.fromarray(x.transpose(1, 2, 0))
    np.testing.assert_array_equal(np.array(F.pad(pil, padding, 7, mode)),
                                  expected.transpose(1, 2, 0))


def test_pad_errors_and_repr():
    with pytest.raises(ValueError, match="Padding mode should be either"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element"):
        F.pad(dark.zeros(1, 2, 2), [1, 2, 3])
    with pytest.raises(TypeError, match="Got inappropriate padding arg"):
        T.Pad("1")
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"


def test_random_crop_padding_and_draw_order():
    x = _image((3, 10, 12))
    crop = T.RandomCrop((6, 7))
    dark.manual_seed(3)
    out = _np(crop(dark.from_numpy(x)))
    dark.manual_seed(3)
    i = dark.randint(0, 10 - 6 + 1, size=(1,)).item()
    j = dark.randint(0, 12 - 7 + 1, size=(1,)).item()
    np.testing.assert_array_equal(out, x[:, i:i + 6, j:j + 7])
    padded = T.RandomCrop(14, padding=2)(dark.from_numpy(x))  # 14 x 16 after padding
    assert tuple(padded.shape) == (3, 14, 14)
    needed = T.RandomCrop((12, 15), pad_if_needed=True, fill=1)(dark.from_numpy(x))
    assert tuple(needed.shape) == (3, 12, 15)
    with pytest.raises(ValueError, match=r"Required crop size \(11, 4\) is larger"):
        T.RandomCrop((11, 4))(dark.from_numpy(x))
    assert repr(crop) == "RandomCrop(size=(6, 7), padding=None)"
    pil = Image.fromarray(_image((10, 12, 3), np.uint8))
    assert T.RandomCrop(5, padding=1)(pil).size == (5, 5)


# ----------------------------------------------------------------------------- rotate, affine

def test_rotate_90_is_rot90(device):
    x = _image((2, 3, 8, 8))
    out = _np(F.rotate(_to(device, x), 90))
    np.testing.assert_array_equal(out, np.rot90(x, 1, axes=(2, 3)))
    np.testing.assert_array_equal(_np(F.rotate(_to(device, x), -90)),
                                  np.rot90(x, -1, axes=(2, 3)))
    gray = _image((7, 7), np.uint8)
    np.testing.assert_array_equal(np.array(F.rotate(Image.fromarray(gray), 90)),
                                  np.rot90(gray))
    # expand: a 90 degree turn of a 6 x 10 image is 10 x 6
    tall = _image((1, 6, 10))
    np.testing.assert_array_equal(_np(F.rotate(_to(device, tall), 90, expand=True)),
                                  np.rot90(tall, 1, axes=(1, 2)))


def test_affine_identity_and_translation(device):
    x = _image((3, 6, 7), np.uint8)
    np.testing.assert_array_equal(_np(F.affine(_to(device, x), 0, [0, 0], 1.0, 0)), x)
    pil = Image.fromarray(x.transpose(1, 2, 0))
    np.testing.assert_array_equal(np.array(F.affine(pil, 0.0, [0, 0], 1.0, [0.0, 0.0])),
                                  x.transpose(1, 2, 0))
    # a translation by (2, 1) moves content right and down, zero (fill) coming in
    expected = np.zeros_like(x)
    expected[:, 1:, 2:] = x[:, :-1, :-2]
    np.testing.assert_array_equal(_np(F.affine(_to(device, x), 0, [2, 1], 1.0, 0)), expected)
    np.testing.assert_array_equal(np.array(F.affine(pil, 0, [2, 1], 1.0, 0)),
                                  expected.transpose(1, 2, 0))
    filled = _np(F.affine(_to(device, x), 0, [2, 1], 1.0, 0, fill=[9.0, 8.0, 7.0]))
    assert (filled[:, 0, :] == np.array([9, 8, 7])[:, None]).all()


def _torch_affine_reference(x, matrix, mode, fill=None):
    """torchvision's tensor path written with torch ops: its grid, then grid_sample."""
    h, w = x.shape[-2:]
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    grid = base.view(1, h * w, 3).bmm(theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h]))
    image = torch.from_numpy(x)[None]
    if fill is not None:
        image = torch.cat((image, torch.ones(1, 1, h, w)), dim=1)
    out = TF.grid_sample(image, grid.view(1, h, w, 2), mode=mode, padding_mode="zeros",
                         align_corners=False)
    if fill is not None:
        mask = out[:, -1:]
        out = out[:, :-1] * mask + (1 - mask) * torch.tensor(fill).view(1, -1, 1, 1)
    return out[0].numpy()


@requires_torch
def test_affine_bilinear_matches_grid_sample(device):
    x = _image((3, 9, 11))
    center, angle, translate, scale, shear = [0.0, 0.0], 23.0, [1.0, -2.0], 1.2, [5.0, -3.0]
    matrix = F._get_inverse_affine_matrix(center, angle, translate, scale, shear)
    out = F.affine(_to(device, x), angle, [1, -2], scale, shear, F.InterpolationMode.BILINEAR)
    np.testing.assert_allclose(_np(out), _torch_affine_reference(x, matrix, "bilinear"),
                               atol=1e-5)
    out = F.affine(_to(device, x), angle, [1, -2], scale, shear, F.InterpolationMode.BILINEAR,
                   fill=[0.5, 1.0, 0.0])
    np.testing.assert_allclose(
        _np(out), _torch_affine_reference(x, matrix, "bilinear", [0.5, 1.0, 0.0]), atol=1e-5)


def test_inverse_affine_matrix_inverts_forward():
    args = ([3.0, -2.0], 31.0, [4.0, 1.0], 0.8, [10.0, -6.0])
    inverse = np.vstack([np.reshape(F._get_inverse_affine_matrix(*args), (2, 3)), [0, 0, 1]])
    forward = np.vstack([np.reshape(F._get_inverse_affine_matrix(*args, inverted=False),
                                    (2, 3)), [0, 0, 1]])
    np.testing.assert_allclose(inverse @ forward, np.eye(3), atol=1e-12)


def test_rotate_errors():
    with pytest.raises(TypeError, match="Argument angle should be int or float"):
        F.rotate(dark.zeros(1, 3, 3), "90")
    with pytest.raises(ValueError, match="unsupported with Tensor input"):
        F.rotate(dark.zeros(1, 3, 3), 10, F.InterpolationMode.BICUBIC)
    with pytest.raises(ValueError, match="The number of elements in 'fill' cannot broadcast"):
        F.rotate(dark.zeros(3, 3, 3), 10, fill=[1.0, 2.0])
    with pytest.raises(ValueError, match="If degrees is a single number, it must be positive"):
        T.RandomRotation(-3)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 1.5))


def test_random_rotation_and_affine_draws():
    x = _image((1, 9, 9))
    rotation = T.RandomRotation((10, 40), interpolation=F.InterpolationMode.BILINEAR)
    dark.manual_seed(7)
    out = _np(rotation(dark.from_numpy(x)))
    dark.manual_seed(7)
    angle = float(dark.empty(1).uniform_(10.0, 40.0).item())
    assert 10 <= angle < 40
    np.testing.assert_array_equal(out, _np(F.rotate(dark.from_numpy(x), angle,
                                                    F.InterpolationMode.BILINEAR,
                                                    fill=[0.0])))
    affine = T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    dark.manual_seed(11)
    out = _np(affine(dark.from_numpy(x)))
    dark.manual_seed(11)
    draws = [float(dark.empty(1).uniform_(a, b).item())
             for a, b in ((-20, 20), (-1.8, 1.8), (-0.9, 0.9), (0.8, 1.2), (-5, 5), (-3, 3))]
    expected = F.affine(dark.from_numpy(x), draws[0], [round(draws[1]), round(draws[2])],
                        draws[3], [draws[4], draws[5]], fill=[0.0])
    np.testing.assert_array_equal(out, _np(expected))
    assert repr(affine) == ("RandomAffine(degrees=[-20.0, 20.0], translate=(0.2, 0.1), "
                            "scale=(0.8, 1.2), shear=[-5.0, 5.0, -3.0, 3.0])")
    assert repr(T.RandomRotation(30)) == ("RandomRotation(degrees=[-30.0, 30.0], "
                                          "interpolation=nearest, expand=False, fill=0)")
    pil = Image.fromarray(_image((9, 9, 3), np.uint8))
    assert T.RandomAffine(10, fill=(1, 2, 3))(pil).size == (9, 9)


# ----------------------------------------------------------------------------- colour

def _gray(x):
    return 0.2989 * x[..., 0, :, :] + 0.587 * x[..., 1, :, :] + 0.114 * x[..., 2, :, :]


def test_color_adjustments_float(device):
    x = _image((3, 5, 6))
    b = _np(F.adjust_brightness(_to(device, x), 1.7))
    np.testing.assert_allclose(b, np.clip(1.7 * x, 0, 1), rtol=1e-6)
    c = _np(F.adjust_contrast(_to(device, x), 0.4))
    np.testing.assert_allclose(c, np.clip(0.4 * x + 0.6 * _gray(x).mean(), 0, 1), rtol=1e-5)
    s = _np(F.adjust_saturation(_to(device, x), 2.5))
    np.testing.assert_allclose(s, np.clip(2.5 * x - 1.5 * _gray(x)[None], 0, 1), atol=1e-6)
    g = _np(F.rgb_to_grayscale(_to(device, x)))
    np.testing.assert_allclose(g, _gray(x)[None], rtol=1e-6)
    g3 = _np(T.Grayscale(3)(_to(device, x)))
    np.testing.assert_allclose(g3, np.repeat(_gray(x)[None], 3, axis=0), rtol=1e-6)


@requires_torch
def test_color_adjustments_uint8_truncate():
    """torchvision's uint8 blends, written with torch ops: float32 maths, then a truncating
    cast (the grayscale image is itself truncated to uint8)."""
    x = _image((3, 5, 6), np.uint8)
    t = torch.from_numpy(x)

    def blend(ratio, other):
        return (ratio * t + (1.0 - ratio) * other).clamp(0, 255).to(torch.uint8).numpy()

    b = _np(F.adjust_brightness(dark.from_numpy(x), 1.3))
    np.testing.assert_array_equal(b, blend(1.3, torch.zeros_like(t)))
    gray = (0.2989 * t[0] + 0.587 * t[1] + 0.114 * t[2]).to(torch.uint8)[None]
    np.testing.assert_array_equal(_np(F.rgb_to_grayscale(dark.from_numpy(x))), gray.numpy())
    c = _np(F.adjust_contrast(dark.from_numpy(x), 1.5))
    np.testing.assert_array_equal(c, blend(1.5, gray.float().mean()))
    s = _np(F.adjust_saturation(dark.from_numpy(x), 0.6))
    np.testing.assert_array_equal(s, blend(0.6, gray))


def test_adjust_hue_vs_colorsys(device):
    x = _image((3, 4, 5))
    out = _np(F.adjust_hue(_to(device, x), 0.3))
    expected = np.empty_like(x)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
            expected[:, i, j] = colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(_np(F.adjust_hue(_to(device, x), 0.0)), x, atol=1e-6)
    one = _to(device, x[:1])
    assert F.adjust_hue(one, 0.2) is one
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(one, 0.7)
    with pytest.raises(ValueError, match=r"brightness_factor \(-1\) is not non-negative"):
        F.adjust_brightness(one, -1)


def test_color_ops_on_pil_are_pillow():
    from PIL import ImageEnhance
    pil = Image.fromarray(_image((5, 6, 3), np.uint8))
    assert F.adjust_brightness(pil, 1.4).tobytes() == \
        ImageEnhance.Brightness(pil).enhance(1.4).tobytes()
    assert F.adjust_saturation(pil, 0.3).tobytes() == \
        ImageEnhance.Color(pil).enhance(0.3).tobytes()
    assert T.Grayscale()(pil).tobytes() == pil.convert("L").tobytes()
    assert T.Grayscale(3)(pil).mode == "RGB"
    h = np.array(pil.convert("HSV"))[..., 0].astype(int)
    shifted = np.array(F.adjust_hue(pil, -0.25).convert("HSV"))[..., 0].astype(int)
    # the hue channel moves by int(-0.25 * 255) modulo 256 (up to HSV round trips)
    assert np.mean(np.abs(((shifted - h) % 256) - (-63 % 256)) <= 2) > 0.9


def test_color_jitter_draw_order_and_repr():
    x = dark.from_numpy(_image((3, 6, 6)))
    jitter = T.ColorJitter(brightness=0.5, contrast=(0.5, 1.5), saturation=0, hue=0.1)
    assert jitter.saturation is None and jitter.brightness == (0.5, 1.5)
    dark.manual_seed(5)
    out = _np(jitter(x))
    dark.manual_seed(5)
    order = dark.randperm(4).tolist()
    b = float(dark.empty(1).uniform_(0.5, 1.5).item())
    c = float(dark.empty(1).uniform_(0.5, 1.5).item())
    h = float(dark.empty(1).uniform_(-0.1, 0.1).item())
    expected = x
    for index in order:
        expected = {0: lambda t: F.adjust_brightness(t, b), 1: lambda t: F.adjust_contrast(t, c),
                    2: lambda t: t, 3: lambda t: F.adjust_hue(t, h)}[index](expected)
    np.testing.assert_array_equal(out, _np(expected))
    assert repr(jitter) == ("ColorJitter(brightness=(0.5, 1.5), contrast=(0.5, 1.5), "
                            "saturation=None, hue=(-0.1, 0.1))")
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)


@requires_torch
def test_convert_image_dtype_vs_torch_rule():
    u8 = _image((3, 4, 4), np.uint8)
    out = T.ConvertImageDtype(dark.float32)(dark.from_numpy(u8))
    np.testing.assert_array_equal(_np(out), (torch.from_numpy(u8).float() / 255).numpy())
    floats = _image((3, 4, 4))
    out = F.convert_image_dtype(dark.from_numpy(floats), dark.uint8)
    expected = torch.from_numpy(floats).mul(255 + 1.0 - 1e-3).to(torch.uint8)
    np.testing.assert_array_equal(_np(out), expected.numpy())


def test_convert_image_dtype_integer_rules():
    u8 = _image((3, 4, 4), np.uint8)
    floats = _image((3, 4, 4))
    as_int32 = F.convert_image_dtype(dark.from_numpy(u8), dark.int32)
    np.testing.assert_array_equal(_np(as_int32), u8.astype(np.int32) * (2 ** 31 // 256))
    back = F.convert_image_dtype(as_int32, dark.uint8)
    np.testing.assert_array_equal(_np(back), u8)
    wide = RNG.integers(0, 32768, (2, 3), dtype=np.int16)
    np.testing.assert_array_equal(_np(F.convert_image_dtype(dark.from_numpy(wide), dark.uint8)),
                                  (wide // 128).astype(np.uint8))
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(dark.from_numpy(floats), dark.int32)


# ----------------------------------------------------------------------------- containers

def test_compose_lambda_random_apply_and_reprs():
    pipeline = T.Compose([T.Lambda(lambda t: t * 2), T.RandomApply([T.Lambda(lambda t: t + 1)],
                                                                   p=1.0)])
    np.testing.assert_array_equal(_np(pipeline(dark.ones(1, 2, 2))), np.full((1, 2, 2), 3.0))
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)")
    assert repr(T.RandomApply([T.RandomHorizontalFlip()], p=0.3)) == (
        "RandomApply(\n    p=0.3\n    RandomHorizontalFlip(p=0.5)\n)")
    assert repr(T.Grayscale()) == "Grayscale(num_output_channels=1)"
    with pytest.raises(TypeError, match="Argument lambd should be callable"):
        T.Lambda(3)
    choice = T.RandomChoice([T.Lambda(lambda t: t + 1), T.Lambda(lambda t: t + 2)])
    assert float(choice(dark.zeros(1)).item()) in (1.0, 2.0)


def test_pipeline_is_reproducible_with_manual_seed():
    pil = Image.fromarray(_image((12, 12, 3), np.uint8))
    pipeline = T.Compose([T.RandomResizedCrop(8), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomRotation(15),
                          T.ToTensor(), T.RandomAffine(10, translate=(0.1, 0.1))])
    runs = []
    for _ in range(2):
        dark.manual_seed(2024)
        runs.append([_np(pipeline(pil)) for _ in range(4)])
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)
    assert any(not np.array_equal(runs[0][0], other) for other in runs[0][1:])
    assert runs[0][0].shape == (3, 8, 8)


# ----------------------------------------------------------------------------- make_grid, save

def _numpy_grid(batch, nrow, padding, pad_value):
    b, c, h, w = batch.shape
    cols = min(nrow, b)
    rows = -(-b // cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                   pad_value, batch.dtype)
    for k in range(b):
        r, q = divmod(k, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = batch[k]
    return grid


def test_make_grid_layout(device):
    batch = _image((5, 3, 4, 6))
    grid = make_grid(_to(device, batch), nrow=2, padding=3, pad_value=0.5)
    assert tuple(grid.shape) == (3, 3 * (4 + 3) + 3, 2 * (6 + 3) + 3)
    np.testing.assert_array_equal(_np(grid), _numpy_grid(batch, 2, 3, 0.5))
    ones = _image((3, 1, 4, 4))
    np.testing.assert_array_equal(_np(make_grid(_to(device, ones))),
                                  _numpy_grid(np.repeat(ones, 3, axis=1), 8, 2, 0.0))
    listed = make_grid([_to(device, im) for im in batch], nrow=5, padding=0)
    np.testing.assert_array_equal(_np(listed), _numpy_grid(batch, 5, 0, 0.0))
    single = _image((1, 4, 5))
    np.testing.assert_array_equal(_np(make_grid(_to(device, single))),
                                  np.repeat(single, 3, axis=0))
    np.testing.assert_array_equal(_np(make_grid(_to(device, single[0]))),
                                  np.repeat(single, 3, axis=0))


def test_make_grid_normalize():
    batch = _image((4, 3, 2, 2)) * 6 - 2
    low, high = batch.min(), batch.max()
    out = _np(make_grid(dark.from_numpy(batch), normalize=True, padding=0, nrow=4))
    np.testing.assert_allclose(out, _numpy_grid((batch - low) / (high - low), 4, 0, 0.0),
                               rtol=1e-5, atol=1e-6)
    each = _np(make_grid(dark.from_numpy(batch), normalize=True, scale_each=True, padding=0))
    scaled = np.stack([(im - im.min()) / (im.max() - im.min()) for im in batch])
    np.testing.assert_allclose(each, _numpy_grid(scaled, 8, 0, 0.0), rtol=1e-5, atol=1e-6)
    ranged = _np(make_grid(dark.from_numpy(batch), normalize=True, value_range=(0, 2),
                           padding=0))
    np.testing.assert_allclose(ranged, _numpy_grid(np.clip(batch, 0, 2) / 2, 8, 0, 0.0),
                               rtol=1e-6)
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(dark.from_numpy(batch), normalize=True, value_range=[0, 1])
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        make_grid(batch)


def test_save_image_round_trip(tmp_path):
    batch = _image((3, 3, 5, 4))
    path = tmp_path / "grid.png"
    save_image(dark.from_numpy(batch), path, nrow=2, padding=1)
    read = np.array(Image.open(path))
    expected = np.clip(_numpy_grid(batch, 2, 1, 0.0) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(read, expected.transpose(1, 2, 0))
    assert Image.open(path).format == "PNG"
    gray = _image((1, 6, 7))
    save_image(dark.from_numpy(gray), tmp_path / "gray.png")
    read = np.array(Image.open(tmp_path / "gray.png"))
    assert read.shape == (6, 7, 3)
    np.testing.assert_array_equal(read[..., 1], (gray[0] * 255 + 0.5).astype(np.uint8))


# ----------------------------------------------------------------------------- real data

def test_mnist_image_through_to_tensor_and_normalize(data_root):
    with gzip.open(os.path.join(data_root, "MNIST", "raw", "train-images-idx3-ubyte.gz")) as f:
        header = np.frombuffer(f.read(16), dtype=">i4")
        first = np.frombuffer(f.read(28 * 28), dtype=np.uint8).reshape(28, 28)
    assert header[0] == 2051 and tuple(header[2:]) == (28, 28)
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    out = pipeline(Image.fromarray(first, mode="L"))
    assert tuple(out.shape) == (1, 28, 28) and out.dtype is dark.float32
    expected = (first.astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(_np(out)[0], expected, rtol=1e-6, atol=1e-6)
    assert math.isclose(float(out.min()), -0.1307 / 0.3081, rel_tol=1e-5)
    grid = make_grid([F.to_tensor(first)] * 2, padding=1)
    assert tuple(grid.shape) == (3, 30, 59)
