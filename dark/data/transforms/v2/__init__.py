"""dark.data.transforms.v2 (torchvision.transforms.v2): the transforms of
:mod:`dark.data.transforms` with v2's calling convention, plus v2's own ``ToImage``,
``ToDtype``, ``ToPureTensor``, ``Identity``, ``RGB``, ``GaussianNoise`` and a ``Transform``
base class.

As in torchvision, a v2 transform takes any sample: one image, or a tuple / list / dict
(nested) of inputs. Images are PIL images and, when the sample holds no PIL image, its first
plain tensor; everything else (labels, names, other tensors) passes through unchanged. When
a sample holds several images, each gets the same random parameters (the generators are
rewound between them, so images of one size get one crop, one flip, ...).

Aliases (v1 implementations with the same random draws as v2's, so that with the same seed
their outputs equal torchvision v2's, checked in tests/test_data_transforms_v2.py): Resize and
RandomResizedCrop (uint8 CPU tensors resized bilinearly with antialiasing go through torch's
integer kernel, as in v2), CenterCrop, Pad, RandomCrop, RandomHorizontalFlip,
RandomVerticalFlip, RandomRotation, RandomAffine, RandomPerspective, ColorJitter, Grayscale,
RandomGrayscale, RandomInvert, RandomPosterize, RandomSolarize, RandomAdjustSharpness,
RandomAutocontrast, RandomEqualize, GaussianBlur, RandomErasing, Normalize, PILToTensor,
ToPILImage, ToTensor (deprecated, with torchvision's warning), AutoAugmentPolicy,
InterpolationMode, and ElasticTransform when :mod:`dark.data.transforms` has it. Written for
v2: AutoAugment, RandAugment, TrivialAugmentWide and AugMix (v2's draws and Solarize
thresholds on v1's ops), ConvertImageDtype (``to_dtype(scale=True)``), Compose, RandomApply,
RandomChoice (a ``multinomial`` draw), RandomOrder (``randperm``), Lambda (``*types``), MixUp
and CutMix (Beta draws from :mod:`dark.distributions`, which draws torch's numbers).

What differs from torchvision v2: there are no ``tv_tensors`` (Image, Video, BoundingBoxes,
Mask, KeyPoints), so boxes, masks and videos are not transformed (they would be plain
tensors: pass them where they are not the first tensor, or they are taken as the image);
the reprs of the aliased transforms are the v1 reprs; uint8 tensors resized bilinearly
without antialiasing take v1's float path (v2: torch's integer kernel); colour ops on
tensors blend as v1 (v2's fused multiply-adds can put a uint8 pixel one apart); transforms
v2 has and dark does not (JPEG, FiveCrop, TenCrop, LinearTransformation, RandomIoUCrop,
RandomZoomOut, RandomPhotometricDistort, RandomChannelPermutation, ScaleJitter,
RandomShortestSize, RandomResize, SanitizeBoundingBoxes, ClampBoundingBoxes,
ConvertBoundingBoxFormat, UniformTemporalSubsample) are absent.
"""
from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from .... import _backend
from ...._tensor import Tensor
from ....distributions import Beta
from ....nn.functional import one_hot
from ....nn.modules.module import Module
from ....ops.creation import tensor
from ....ops.random import multinomial, rand, randint, randperm
from ....random import default_generator
from ... import transforms as _v1
from .. import autoaugment as _aa
from ..autoaugment import AutoAugmentPolicy
from ..functional import InterpolationMode
from . import functional
from . import functional as F

# ----------------------------------------------------------------------------- samples


def _flatten(obj) -> tuple[list, Any]:
    """The leaves of nested tuples / lists / dicts, depth first, and how to rebuild them."""
    if isinstance(obj, (tuple, list)):
        leaves, specs = [], []
        for item in obj:
            sub, spec = _flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(obj), specs)
    if isinstance(obj, dict):
        leaves, specs = [], []
        for key, item in obj.items():
            sub, spec = _flatten(item)
            leaves += sub
            specs.append((key, len(sub), spec))
        return leaves, (type(obj), specs)
    return [obj], None


def _unflatten(leaves: list, spec) -> Any:
    if spec is None:
        return leaves[0]
    kind, specs = spec
    if issubclass(kind, dict):
        out, start = kind(), 0
        for key, count, sub in specs:
            out[key] = _unflatten(leaves[start:start + count], sub)
            start += count
        return out
    items, start = [], 0
    for count, sub in specs:
        items.append(_unflatten(leaves[start:start + count], sub))
        start += count
    if hasattr(kind, "_fields"):   # a namedtuple
        return kind(*items)
    return kind(items)


def _needs_transform(leaves: list, types: tuple) -> list[bool]:
    """Which leaves a transform of ``types`` changes: torchvision's rule, with PIL images as
    the explicit images (a plain tensor is an image only when no PIL image is present, and
    then only the first one)."""
    transform_pure_tensor = not any(isinstance(x, Image.Image) for x in leaves)
    needs = []
    for leaf in leaves:
        need = isinstance(leaf, types)
        if need and isinstance(leaf, Tensor):
            if transform_pure_tensor:
                transform_pure_tensor = False
            else:
                need = False
        needs.append(need)
    return needs


def _sample(inputs: tuple) -> Any:
    return inputs if len(inputs) > 1 else inputs[0]


class Transform(Module):
    """Base class of the v2 transforms: ``forward(*inputs)`` flattens the sample, asks
    :meth:`make_params` once for the inputs to transform (those of ``_transformed_types``,
    by the image rule above), calls :meth:`transform` on each of them and rebuilds the
    sample. Subclasses override ``transform(inpt, params)`` and, when random,
    ``make_params(flat_inputs)``."""

    _transformed_types: tuple = (Image.Image, Tensor)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def forward(self, *inputs: Any) -> Any:
        sample = _sample(inputs)
        leaves, spec = _flatten(sample)
        needs = _needs_transform(leaves, self._transformed_types)
        params = self.make_params([x for x, need in zip(leaves, needs) if need])
        return _unflatten([self.transform(x, params) if need else x
                           for x, need in zip(leaves, needs)], spec)


class _V1Transform(Transform):
    """A v1 transform (``_v1_cls``) applied to each image of a sample, the random
    generators (dark's CPU generator and python's ``random``) rewound before each image
    after the first, so that all draw the same parameters."""

    _v1_cls: type = object

    def __init__(self, *args, **kwargs) -> None:
        Module.__init__(self)
        self._v1_cls.__init__(self, *args, **kwargs)

    def _apply_v1(self, image):
        if issubclass(self._v1_cls, Module):
            return self._v1_cls.forward(self, image)
        return self._v1_cls.__call__(self, image)

    def forward(self, *inputs: Any) -> Any:
        sample = _sample(inputs)
        leaves, spec = _flatten(sample)
        needs = _needs_transform(leaves, self._transformed_types)
        out, state = list(leaves), None
        for i, need in enumerate(needs):
            if not need:
                continue
            if state is None:
                state = default_generator.get_state(), random.getstate()
            else:
                default_generator.set_state(state[0])
                random.setstate(state[1])
            out[i] = self._check_and_apply(leaves[i])
        return _unflatten(out, spec)

    def _check_and_apply(self, image):
        return self._apply_v1(image)

    def __repr__(self) -> str:
        for cls in self._v1_cls.__mro__:
            if "__repr__" in cls.__dict__ and cls not in (Module, object):
                return cls.__repr__(self)
        return Module.__repr__(self)


def _v1_alias(v1_cls: type, types: tuple = (Image.Image, Tensor), pil_error=None) -> type:
    """The v2 class of ``v1_cls``: its constructor and repr, v2's calling convention, the
    inputs of ``types`` transformed; a PIL image raises ``pil_error`` (type, message)."""
    namespace = {"_v1_cls": v1_cls, "_transformed_types": types, "__module__": __name__,
                 "__qualname__": v1_cls.__name__,
                 "__doc__": f"v2 form of :class:`dark.data.transforms.{v1_cls.__name__}`: "
                            f"{(v1_cls.__doc__ or '').strip()}"}
    if pil_error is not None:
        def _check_and_apply(self, image, _error=pil_error):
            if isinstance(image, Image.Image):
                raise _error[0](_error[1])
            return self._apply_v1(image)
        namespace["_check_and_apply"] = _check_and_apply
    return type(v1_cls.__name__, (_V1Transform, v1_cls), namespace)


class Resize(_v1_alias(_v1.Resize)):
    __doc__ = _v1.Resize.__doc__

    def _check_and_apply(self, image):
        # v2's resize: uint8 tensors through torch's integer kernel
        return F.resize(image, self.size, self.interpolation, self.max_size, self.antialias)


class RandomResizedCrop(_v1_alias(_v1.RandomResizedCrop)):
    __doc__ = _v1.RandomResizedCrop.__doc__

    def _check_and_apply(self, image):
        top, left, height, width = self.get_params(image, self.scale, self.ratio)
        return F.resized_crop(image, top, left, height, width, self.size, self.interpolation,
                              antialias=self.antialias)


CenterCrop = _v1_alias(_v1.CenterCrop)
Pad = _v1_alias(_v1.Pad)
RandomCrop = _v1_alias(_v1.RandomCrop)
RandomHorizontalFlip = _v1_alias(_v1.RandomHorizontalFlip)
RandomVerticalFlip = _v1_alias(_v1.RandomVerticalFlip)
RandomRotation = _v1_alias(_v1.RandomRotation)
RandomAffine = _v1_alias(_v1.RandomAffine)
RandomPerspective = _v1_alias(_v1.RandomPerspective)
ColorJitter = _v1_alias(_v1.ColorJitter)
Grayscale = _v1_alias(_v1.Grayscale)
RandomGrayscale = _v1_alias(_v1.RandomGrayscale)
RandomInvert = _v1_alias(_v1.RandomInvert)
RandomPosterize = _v1_alias(_v1.RandomPosterize)
RandomSolarize = _v1_alias(_v1.RandomSolarize)
RandomAdjustSharpness = _v1_alias(_v1.RandomAdjustSharpness)
RandomAutocontrast = _v1_alias(_v1.RandomAutocontrast)
RandomEqualize = _v1_alias(_v1.RandomEqualize)
GaussianBlur = _v1_alias(_v1.GaussianBlur)
# tensors only: a PIL image passes through (as in torchvision v2) or is refused
RandomErasing = _v1_alias(_v1.RandomErasing, (Tensor,))
Normalize = _v1_alias(_v1.Normalize, pil_error=(TypeError,
                                                "Normalize() does not support PIL images."))
PILToTensor = _v1_alias(_v1.PILToTensor, (Image.Image,))
ToPILImage = _v1_alias(_v1.ToPILImage, (Tensor, np.ndarray))
_ALIASED = ["Resize", "CenterCrop", "Pad", "RandomCrop", "RandomResizedCrop",
            "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomAffine",
            "RandomPerspective", "ColorJitter", "Grayscale", "RandomGrayscale", "RandomInvert",
            "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast",
            "RandomEqualize", "GaussianBlur", "RandomErasing", "Normalize", "PILToTensor",
            "ToPILImage"]
# transforms the v1 package may gain (kept in step without editing this file)
for _name in ("ElasticTransform",):
    if hasattr(_v1, _name):
        globals()[_name] = _v1_alias(getattr(_v1, _name))
        _ALIASED.append(_name)


class ToTensor(_v1_alias(_v1.ToTensor, (Image.Image, np.ndarray))):
    """[DEPRECATED] Use ``v2.Compose([v2.ToImage(), v2.ToDtype(dark.float32, scale=True)])``:
    a PIL image or (H, W, C) array as a (C, H, W) float tensor in [0, 1] (uint8 input)."""

    def __init__(self) -> None:
        warnings.warn("The transform `ToTensor()` is deprecated and will be removed in a future "
                      "release. Instead, please use `v2.Compose([v2.ToImage(), "
                      "v2.ToDtype(torch.float32, scale=True)])`.Output is equivalent up to "
                      "float precision.", stacklevel=2)
        super().__init__()


# ----------------------------------------------------------------------------- auto augment

class _AutoAugmentV2(_V1Transform):
    """torchvision v2's draws for the auto-augment family: ``randint(n, ())`` for a policy
    or an op, ``rand(())`` for each op's probability and sign, no draw for an op without
    magnitudes; Solarize's thresholds are fractions of the image's maximum (v1: 255..0).
    One image per sample."""

    def forward(self, *inputs: Any) -> Any:
        leaves, spec = _flatten(_sample(inputs))
        found = [i for i, need in enumerate(_needs_transform(leaves, (Image.Image, Tensor)))
                 if need]
        if not found:
            raise TypeError("Found no image in the sample.")
        if len(found) > 1:
            raise TypeError("Auto augment transformations are only properly defined for a "
                            f"single image or video, but found {len(found)}.")
        out = list(leaves)
        out[found[0]] = self._augment(leaves[found[0]])
        return _unflatten(out, spec)

    def _space(self, image) -> dict:
        _, height, width = F.get_dimensions(image)
        space = {}
        for name, (magnitudes, signed) in self._v1_space(height, width).items():
            if magnitudes.ndim == 0:
                magnitudes = None
            elif name == "Solarize":
                magnitudes = _aa._linspace(1.0, 0.0, len(magnitudes))
            space[name] = (magnitudes, signed)
        return space

    @staticmethod
    def _signed(magnitudes, index: int, signed: bool) -> float:
        if magnitudes is None:
            return 0.0
        magnitude = float(magnitudes[index])
        if signed and rand(()).item() <= 0.5:
            magnitude *= -1
        return magnitude

    def _apply(self, image, name: str, magnitude: float):
        if name == "Solarize":
            bound = float(F._max_value(image.dtype)) if isinstance(image, Tensor) else 255.0
            return F.solarize(image, bound * magnitude)
        return _aa._apply_op(image, name, magnitude, interpolation=self.interpolation,
                             fill=_aa._tensor_fill(image, self.fill))


class AutoAugment(_AutoAugmentV2, _v1.AutoAugment):
    __doc__ = _v1.AutoAugment.__doc__
    _v1_cls = _v1.AutoAugment

    def _v1_space(self, height: int, width: int) -> dict:
        return self._augmentation_space(10, (height, width))

    def _augment(self, image):
        space = self._space(image)
        policy = self.policies[int(randint(len(self.policies), ()))]
        for name, probability, magnitude_idx in policy:
            if not np.float32(rand(()).item()) <= np.float32(probability):
                continue
            magnitudes, signed = space[name]
            image = self._apply(image, name, self._signed(magnitudes, magnitude_idx, signed))
        return image


class RandAugment(_AutoAugmentV2, _v1.RandAugment):
    __doc__ = _v1.RandAugment.__doc__
    _v1_cls = _v1.RandAugment

    def _v1_space(self, height: int, width: int) -> dict:
        return self._augmentation_space(self.num_magnitude_bins, (height, width))

    def _augment(self, image):
        space = self._space(image)
        names = list(space)
        for _ in range(self.num_ops):
            name = names[int(randint(len(names), ()))]
            magnitudes, signed = space[name]
            image = self._apply(image, name, self._signed(magnitudes, self.magnitude, signed))
        return image


class TrivialAugmentWide(_AutoAugmentV2, _v1.TrivialAugmentWide):
    __doc__ = _v1.TrivialAugmentWide.__doc__
    _v1_cls = _v1.TrivialAugmentWide

    def _v1_space(self, height: int, width: int) -> dict:
        return self._augmentation_space(self.num_magnitude_bins)

    def _augment(self, image):
        space = self._space(image)
        names = list(space)
        name = names[int(randint(len(names), ()))]
        magnitudes, signed = space[name]
        index = int(randint(self.num_magnitude_bins, ())) if magnitudes is not None else 0
        return self._apply(image, name, self._signed(magnitudes, index, signed))


if hasattr(_v1, "AugMix"):
    class AugMix(_AutoAugmentV2, _v1.AugMix):
        __doc__ = _v1.AugMix.__doc__
        _v1_cls = _v1.AugMix

        def _v1_space(self, height: int, width: int) -> dict:
            return self._augmentation_space(self._PARAMETER_MAX, (height, width))

        def _augment(self, orig):
            image = orig if isinstance(orig, Tensor) else F.pil_to_tensor(orig)
            space = self._space(image)
            names = list(space)
            orig_dims = list(image.shape)
            batch = image.view([1] * max(4 - image.ndim, 0) + orig_dims)
            count = batch.shape[0]
            batch_dims = [count] + [1] * (batch.ndim - 1)
            # the Beta weight of the image and of the mixed chains, then the chains' weights
            m = self._sample_dirichlet(tensor([self.alpha, self.alpha]).expand(count, -1))
            combined_weights = self._sample_dirichlet(
                tensor([self.alpha] * self.mixture_width).expand(count, -1)) \
                * m[:, 1].view([count, -1])
            mix = m[:, 0].view(batch_dims) * batch
            for i in range(self.mixture_width):
                aug = batch
                depth = self.chain_depth if self.chain_depth > 0 \
                    else int(randint(low=1, high=4, size=(1,)).item())
                for _ in range(depth):
                    name = names[int(randint(len(names), ()))]
                    magnitudes, signed = space[name]
                    index = int(randint(self.severity, ())) if magnitudes is not None else 0
                    aug = self._apply(aug, name, self._signed(magnitudes, index, signed))
                mix.add_(combined_weights[:, i].view(batch_dims) * aug)
            mix = mix.view(orig_dims).to(dtype=image.dtype)
            return mix if isinstance(orig, Tensor) else F.to_pil_image(mix)

    _ALIASED.append("AugMix")


# ----------------------------------------------------------------------------- v2's own

class ToImage(Transform):
    """A PIL image, numpy array or tensor as a (C, H, W) tensor, values unscaled
    (:func:`functional.to_image`)."""

    _transformed_types = (Tensor, Image.Image, np.ndarray)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.to_image(inpt)


class ToPureTensor(Transform):
    """Identity on dark's plain tensors (torchvision's strips tv_tensor metadata, which dark
    does not have)."""

    _transformed_types = ()


class Identity(Transform):
    """Returns its input unchanged."""

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return inpt


class ToDtype(Transform):
    """Convert the image tensor to ``dtype``, scaling the values between the dtypes' ranges
    when ``scale`` (:func:`functional.to_dtype`); PIL images and other inputs pass through.
    ``ToDtype(dark.float32, scale=True)`` replaces ``ConvertImageDtype``. A dict ``dtype``
    (per tv_tensor type in torchvision) accepts the keys ``Tensor`` and ``"others"``."""

    _transformed_types = (Tensor,)

    def __init__(self, dtype, scale: bool = False) -> None:
        super().__init__()
        if not isinstance(dtype, dict) and not hasattr(dtype, "is_floating_point"):
            raise ValueError(f"dtype must be a dict or a torch.dtype, got {type(dtype)} "
                             "instead")
        self.dtype = dtype
        self.scale = scale

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        dtype = self.dtype
        if isinstance(dtype, dict):
            if Tensor in dtype:
                dtype = dtype[Tensor]
            elif "others" in dtype:
                dtype = dtype["others"]
            else:
                raise ValueError(f"No dtype was specified for type {type(inpt)}. If you only "
                                 "need to convert the dtype of images or videos, you can just "
                                 "pass e.g. dtype=torch.float32. If you're passing a dict as "
                                 'dtype, you can use "others" as a catch-all key e.g. '
                                 'dtype={tv_tensors.Mask: torch.int64, "others": None} to '
                                 "pass-through the rest of the inputs.")
            if dtype is None:
                if self.scale:
                    warnings.warn("scale was set to True but no dtype was specified for images "
                                  "or videos: no scaling will be done.", stacklevel=2)
                return inpt
        return F.to_dtype(inpt, dtype=dtype, scale=self.scale)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, scale={self.scale}"


class ConvertImageDtype(Transform):
    """``ToDtype(dtype, scale=True)`` on the image tensor (v1's ConvertImageDtype divides
    by the maximum where v2 multiplies by its inverse: the floats may differ in the last
    place)."""

    _transformed_types = (Tensor,)

    def __init__(self, dtype=_backend.float32) -> None:
        super().__init__()
        self.dtype = dtype

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.to_dtype(inpt, dtype=self.dtype, scale=True)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}"


class RGB(Transform):
    """Grayscale images to RGB (PIL ``convert('RGB')``, tensors repeated to 3 channels);
    RGB images unchanged."""

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.grayscale_to_rgb(inpt)


class GaussianNoise(Transform):
    """Add N(``mean``, ``sigma``) noise to a float ([0, 1]) or uint8 ([0, 255], noise in
    units of 1/255) image tensor, clipped to the range when ``clip``. PIL images raise."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        super().__init__()
        self.mean = mean
        self.sigma = sigma
        self.clip = clip

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.gaussian_noise(inpt, mean=self.mean, sigma=self.sigma, clip=self.clip)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, sigma={self.sigma}, clip={self.clip}"


class Lambda(Transform):
    """Apply ``lambd`` to the inputs of ``types`` (by default every leaf of the sample)."""

    _transformed_types = (object,)

    def __init__(self, lambd, *types: type) -> None:
        super().__init__()
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd
        self.types = types or self._transformed_types

    def forward(self, *inputs: Any) -> Any:
        leaves, spec = _flatten(_sample(inputs))
        return _unflatten([self.lambd(x) if isinstance(x, self.types) else x
                           for x in leaves], spec)

    def extra_repr(self) -> str:
        extras = []
        name = getattr(self.lambd, "__name__", None)
        if name:
            extras.append(name)
        extras.append(f"types={[t.__name__ for t in self.types]}")
        return ", ".join(extras)


# ----------------------------------------------------------------------------- MixUp, CutMix

def _find_labels_default_heuristic(inputs: Any) -> Any:
    """The labels of a sample: the second item of a tuple / list when it is a tensor, else
    the ``labels`` (or first ``*label*``) entry of the dict found there or given."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if isinstance(inputs, Tensor):
        return inputs
    if not isinstance(inputs, dict):
        raise ValueError("When using the default labels_getter, the input passed to forward "
                         "must be a dictionary or a two-tuple whose second item is a "
                         f"dictionary or a tensor, but got {inputs} instead.")
    keys = [key for key in inputs if key.lower() == "labels"] or [
        key for key in inputs if "label" in key.lower()]
    if not keys:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a "
                         "callable as the labels_getter parameter?If there are no labels in "
                         "the sample by design, pass labels_getter=None.")
    return inputs[keys[0]]


def _parse_labels_getter(labels_getter):
    if labels_getter == "default":
        return _find_labels_default_heuristic
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:
        return lambda _: None
    raise ValueError(f"labels_getter should either be 'default', a callable, or None, but got "
                     f"{labels_getter}.")


class _BaseMixUpCutMix(Transform):
    """Batch-level mixing of (images (N, C, H, W), labels (N,) or (N, num_classes)): the
    sample's first tensor is the image batch, the labels found by ``labels_getter``; the
    labels come out as (N, num_classes) float probabilities. Pairs are consecutive samples
    (the batch rolled by one), as in torchvision."""

    _transformed_types = (Tensor,)

    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None,
                 labels_getter="default") -> None:
        super().__init__()
        self.alpha = float(alpha)
        self._dist = Beta(tensor([alpha]), tensor([alpha]))
        self.num_classes = num_classes
        self._labels_getter = _parse_labels_getter(labels_getter)

    def forward(self, *inputs: Any) -> Any:
        sample = _sample(inputs)
        leaves, spec = _flatten(sample)
        needs = _needs_transform(leaves, self._transformed_types)
        if any(isinstance(x, Image.Image) for x in leaves):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding "
                             "boxes, keypoints and masks.")
        labels = self._labels_getter(sample)
        if not isinstance(labels, Tensor):
            raise ValueError(f"The labels must be a tensor, but got {type(labels)} instead.")
        if labels.ndim not in (1, 2):
            raise ValueError("labels should be index based with shape (batch_size,) or "
                             "probability based with shape (batch_size, num_classes), but got a "
                             f"tensor of shape {labels.shape} instead.")
        if labels.ndim == 2 and self.num_classes is not None \
                and labels.shape[-1] != self.num_classes:
            raise ValueError("When passing 2D labels, the number of elements in last dimension "
                             f"must match num_classes: {labels.shape[-1]} != "
                             f"{self.num_classes}. You can Leave num_classes to None.")
        if labels.ndim == 1 and self.num_classes is None:
            raise ValueError("num_classes must be passed if the labels are index-based (1D)")
        params = {"labels": labels, "batch_size": labels.shape[0],
                  **self.make_params([x for x, need in zip(leaves, needs) if need])}
        needs[next(i for i, x in enumerate(leaves) if x is labels)] = True
        return _unflatten([self.transform(x, params) if need else x
                           for x, need in zip(leaves, needs)], spec)

    def _check_image(self, inpt: Tensor, *, batch_size: int) -> None:
        if inpt.ndim != 4:
            raise ValueError(f"Expected a batched input with 4 dims, but got {inpt.ndim} "
                             "dimensions instead.")
        if inpt.shape[0] != batch_size:
            raise ValueError("The batch size of the image or video does not match the batch "
                             f"size of the labels: {inpt.shape[0]} != {batch_size}.")

    def _mixup_label(self, label: Tensor, *, lam: float) -> Tensor:
        if label.ndim == 1:
            label = one_hot(label, num_classes=self.num_classes)
        if not label.is_floating_point():
            label = label.float()
        return label.roll(1, 0) * (1.0 - lam) + label * lam

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"


class MixUp(_BaseMixUpCutMix):
    """MixUp (Zhang et al.): images and labels blended with their neighbour's in the batch,
    ``x * lam + roll(x) * (1 - lam)``, ``lam`` drawn from Beta(alpha, alpha)."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"lam": float(self._dist.sample(()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        lam = params["lam"]
        if inpt is params["labels"]:
            return self._mixup_label(inpt, lam=lam)
        self._check_image(inpt, batch_size=params["batch_size"])
        return inpt.roll(1, 0) * (1.0 - lam) + inpt * lam


class CutMix(_BaseMixUpCutMix):
    """CutMix (Yun et al.): a box of each image replaced by its neighbour's in the batch,
    the box's area (1 - lam, lam from Beta(alpha, alpha), clipped to the image) deciding
    the labels' mix."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        lam = float(self._dist.sample(()))
        sizes = {tuple(x.shape[-2:]) for x in flat_inputs}
        if not sizes:
            raise TypeError("No image, video, mask, bounding box of keypoint was found in the "
                            "sample")
        if len(sizes) > 1:
            raise ValueError(f"Found multiple HxW dimensions in the sample: {sorted(sizes)}")
        height, width = sizes.pop()
        r_x = int(randint(width, size=(1,)))
        r_y = int(randint(height, size=(1,)))
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * width), int(r * height)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, width), min(r_y + r_h_half, height)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (width * height))
        return {"box": (x1, y1, x2, y2), "lam_adjusted": lam_adjusted}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if inpt is params["labels"]:
            return self._mixup_label(inpt, lam=params["lam_adjusted"])
        self._check_image(inpt, batch_size=params["batch_size"])
        x1, y1, x2, y2 = params["box"]
        output = inpt.clone()
        output[..., y1:y2, x1:x2] = inpt.roll(1, 0)[..., y1:y2, x1:x2]
        return output


# ----------------------------------------------------------------------------- containers

def _check_transforms(transforms, allow_module_list: bool = False) -> None:
    if not isinstance(transforms, Sequence) and not (
            allow_module_list and isinstance(transforms, Module)):
        raise TypeError("Argument transforms should be a sequence of callables"
                        + (" or a `nn.ModuleList`" if allow_module_list else ""))
    if not len(transforms):
        raise ValueError("Pass at least one transform")


def _run(transforms, inputs: tuple) -> Any:
    needs_unpacking = len(inputs) > 1
    outputs = _sample(inputs)
    for transform in transforms:
        outputs = transform(*inputs)
        inputs = outputs if needs_unpacking else (outputs,)
    return outputs


class _Container(Transform):
    def extra_repr(self) -> str:
        return "\n".join(f"    {t}" for t in self.transforms)


class Compose(_Container):
    """Apply ``transforms`` one after the other to the whole sample."""

    def __init__(self, transforms: Sequence) -> None:
        super().__init__()
        _check_transforms(transforms)
        self.transforms = transforms

    def forward(self, *inputs: Any) -> Any:
        return _run(self.transforms, inputs)


class RandomApply(_Container):
    """Apply all of ``transforms`` with probability ``p`` (one ``rand(1)`` draw)."""

    def __init__(self, transforms, p: float = 0.5) -> None:
        super().__init__()
        _check_transforms(transforms, allow_module_list=True)
        self.transforms = transforms
        if not (0.0 <= p <= 1.0):
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        self.p = p

    def forward(self, *inputs: Any) -> Any:
        if bool(rand(1) >= self.p):
            return _sample(inputs)
        return _run(self.transforms, inputs)


class RandomChoice(_Container):
    """Apply one of ``transforms``, picked with probabilities ``p`` (normalized; equal when
    None) by one ``multinomial`` draw, as torchvision v2 (v1 uses python's random)."""

    def __init__(self, transforms: Sequence, p: list[float] | None = None) -> None:
        _check_transforms(transforms)
        if p is None:
            p = [1] * len(transforms)
        elif len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        super().__init__()
        self.transforms = transforms
        total = sum(p)
        self.p = [prob / total for prob in p]

    def forward(self, *inputs: Any) -> Any:
        idx = int(multinomial(tensor(self.p), 1))
        return self.transforms[idx](*inputs)


class RandomOrder(_Container):
    """Apply ``transforms`` in an order drawn by ``randperm``, as torchvision v2."""

    def __init__(self, transforms: Sequence) -> None:
        _check_transforms(transforms)
        super().__init__()
        self.transforms = transforms

    def forward(self, *inputs: Any) -> Any:
        needs_unpacking = len(inputs) > 1
        outputs = _sample(inputs)
        for idx in randperm(len(self.transforms)).tolist():
            outputs = self.transforms[idx](*inputs)
            inputs = outputs if needs_unpacking else (outputs,)
        return outputs


__all__ = ["AutoAugment", "AutoAugmentPolicy", "Compose", "ConvertImageDtype", "CutMix",
           "GaussianNoise", "MixUp",
           "Identity", "InterpolationMode", "Lambda", "RGB", "RandAugment", "RandomApply",
           "RandomChoice", "RandomOrder", "ToDtype", "ToImage", "ToPureTensor", "ToTensor",
           "Transform", "TrivialAugmentWide", "functional", *_ALIASED]
