"""torchvision.models._api: the ``Weights`` record, the ``WeightsEnum`` base of every
``<Model>_Weights`` enum, and the model registry (``list_models``, ``get_model``, ...)."""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from inspect import signature, unwrap
from types import ModuleType
from typing import Any, get_args

from ... import hub
from ..._backend import float32
from ..._tensor import Tensor
from ...data.transforms import functional as _F
from ...nn import Module

__all__ = ["WeightsEnum", "Weights", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models"]


class ImageClassification(Module):
    """torchvision's preset of a classification model's weights (``weights.transforms()``):
    resize the smaller edge to ``resize_size``, center-crop ``crop_size``, scale to [0, 1]
    float and normalize with ImageNet's mean and std."""

    def __init__(self, *, crop_size: int, resize_size: int = 256,
                 mean: tuple[float, ...] = (0.485, 0.456, 0.406),
                 std: tuple[float, ...] = (0.229, 0.224, 0.225),
                 interpolation=_F.InterpolationMode.BILINEAR, antialias: bool | None = True):
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img):
        img = _F.resize(img, self.resize_size, interpolation=self.interpolation,
                        antialias=self.antialias)
        img = _F.center_crop(img, self.crop_size)
        if not isinstance(img, Tensor):
            img = _F.pil_to_tensor(img)
        img = _F.convert_image_dtype(img, float32)
        return _F.normalize(img, mean=self.mean, std=self.std)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n    crop_size={self.crop_size}\n"
                f"    resize_size={self.resize_size}\n    mean={self.mean}\n"
                f"    std={self.std}\n    interpolation={self.interpolation}\n)")



@dataclass
class Weights:
    """A set of pretrained weights: where the file is (``url``), the preprocessing it expects
    (``transforms``, a constructor) and its ``meta`` (``categories``, ``num_params``, ...)."""

    url: str
    transforms: Callable
    meta: dict[str, Any]

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Weights):
            return NotImplemented
        if self.url != other.url or self.meta != other.meta:
            return False
        if isinstance(self.transforms, partial) and isinstance(other.transforms, partial):
            return (self.transforms.func == other.transforms.func
                    and self.transforms.args == other.transforms.args
                    and self.transforms.keywords == other.transforms.keywords)
        return self.transforms == other.transforms


class WeightsEnum(Enum):
    """The base of the ``<Model>_Weights`` enums; each member's value is a ``Weights``."""

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """``obj`` as a member of this enum: None stays None, a name (``"DEFAULT"``,
        ``"IMAGENET1K_V1"`` or ``"<Enum>.<name>"``) is looked up, a member of another enum
        raises TypeError."""
        if obj is not None:
            if type(obj) is str:
                obj = cls[obj.replace(cls.__name__ + ".", "")]
            elif not isinstance(obj, cls):
                raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but "
                                f"received {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The weights' state_dict, downloaded once into the hub cache
        (``dark.hub.load_state_dict_from_url(self.url, ...)``)."""
        return hub.load_state_dict_from_url(self.url, *args, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self):
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self):
        return self.value.meta


def _weight_enums() -> list[type[WeightsEnum]]:
    found, todo = [], list(WeightsEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def get_weight(name: str) -> WeightsEnum:
    """The member named ``"<Enum>.<member>"``, e.g. ``"ResNet50_Weights.IMAGENET1K_V1"``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    for cls in _weight_enums():
        if cls.__name__ == enum_name:
            return cls[value_name]
    raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                     "retrieved.")


def get_model_weights(name: Callable | str) -> type[WeightsEnum]:
    """The weights enum of a model builder (given itself or by its registered name)."""
    model = get_model_builder(name) if isinstance(name, str) else name
    return _get_enum_from_fn(model)


def _get_enum_from_fn(fn: Callable) -> type[WeightsEnum]:
    sig = signature(fn)
    if "weights" not in sig.parameters:
        raise ValueError("The method is missing the 'weights' argument.")
    ann = sig.parameters["weights"].annotation
    if isinstance(ann, str):
        ann = eval(ann, unwrap(fn).__globals__)  # noqa: S307 - the builder's own annotation
    if isinstance(ann, type) and issubclass(ann, WeightsEnum):
        return ann
    for t in get_args(ann):
        if isinstance(t, type) and issubclass(t, WeightsEnum):
            return t
    raise ValueError("The WeightsEnum class for the specific method couldn't be retrieved. "
                     "Make sure the typing info is correct.")


BUILTIN_MODELS: dict[str, Callable[..., Module]] = {}


def register_model(name: str | None = None):
    """Decorator: register a model builder under ``name`` (its function name by default)."""
    def wrapper(fn):
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn
    return wrapper


def list_models(module: ModuleType | None = None,
                include: Iterable[str] | str | None = None,
                exclude: Iterable[str] | str | None = None) -> list[str]:
    """The sorted names of the registered models (of ``module`` only, when given), filtered
    by fnmatch patterns ``include`` and then ``exclude``."""
    all_models = {k for k, v in BUILTIN_MODELS.items()
                  if module is None or v.__module__.rsplit(".", 1)[0] == module.__name__}
    if include:
        models: set[str] = set()
        for pattern in [include] if isinstance(include, str) else include:
            models |= set(fnmatch.filter(all_models, pattern))
    else:
        models = all_models
    if exclude:
        for pattern in [exclude] if isinstance(exclude, str) else exclude:
            models -= set(fnmatch.filter(all_models, pattern))
    return sorted(models)


def get_model_builder(name: str) -> Callable[..., Module]:
    """The builder registered as ``name`` (case-insensitive)."""
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> Module:
    """``get_model_builder(name)(**config)``."""
    return get_model_builder(name)(**config)
