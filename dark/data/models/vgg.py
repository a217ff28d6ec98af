"""torchvision.models.vgg: VGG 11/13/16/19, with and without batch norm, with torchvision's
module names and initialisation."""
from __future__ import annotations

from functools import partial
from typing import Any

from ... import nn
from ..._tensor import Tensor
from ...ops.shape import flatten
from ._api import ImageClassification, Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._utils import _ovewrite_named_param, handle_legacy_interface

__all__ = ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
           "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights", "vgg11",
           "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


class VGG(nn.Module):
    """``features`` (the convolutions), a 7x7 adaptive average pool and a three-layer
    classifier with ``dropout``. ``init_weights`` applies torchvision's initialisation."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten(x, 1)
        return self.classifier(x)


def make_layers(cfg: list[str | int], batch_norm: bool = False) -> nn.Sequential:
    """The convolution stack of configuration ``cfg`` (channel counts, ``"M"`` for a 2x2
    max pool)."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


cfgs: dict[str, list[str | int]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
          "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
          512, 512, 512, "M"],
}


def _vgg(cfg: str, batch_norm: bool, weights: WeightsEnum | None, progress: bool,
         **kwargs: Any) -> VGG:
    if weights is not None:
        kwargs["init_weights"] = False
        if weights.meta["categories"] is not None:
            _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg11-8a719046.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 132863336, "_file_size": 506.84,
              "_metrics": {"ImageNet-1K": {"acc@1": 69.02, "acc@5": 88.628}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg11_bn-6002323d.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 132868840, "_file_size": 506.881,
              "_metrics": {"ImageNet-1K": {"acc@1": 70.37, "acc@5": 89.81}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg13-19584684.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 133047848, "_file_size": 507.545,
              "_metrics": {"ImageNet-1K": {"acc@1": 69.928, "acc@5": 89.246}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg13_bn-abd245e5.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 133053736, "_file_size": 507.59,
              "_metrics": {"ImageNet-1K": {"acc@1": 71.586, "acc@5": 90.374}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 138357544, "_file_size": 527.796,
              "_metrics": {"ImageNet-1K": {"acc@1": 71.592, "acc@5": 90.382}}},
    )
    IMAGENET1K_FEATURES = Weights(
        url="https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth",
        transforms=partial(ImageClassification, crop_size=224,
                           mean=(0.48235, 0.45882, 0.40784),
                           std=(1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0)),
        meta={"categories": None, "min_size": (32, 32),
              "num_params": 138357544, "_file_size": 527.802,
              "_metrics": {"ImageNet-1K": {"acc@1": float("nan"), "acc@5": float("nan")}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 138365992, "_file_size": 527.866,
              "_metrics": {"ImageNet-1K": {"acc@1": 73.36, "acc@5": 91.516}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 143667240, "_file_size": 548.051,
              "_metrics": {"ImageNet-1K": {"acc@1": 72.376, "acc@5": 90.876}}},
    )
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/vgg19_bn-c79401a0.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (32, 32),
              "num_params": 143678248, "_file_size": 548.143,
              "_metrics": {"ImageNet-1K": {"acc@1": 74.218, "acc@5": 91.842}}},
    )
    DEFAULT = IMAGENET1K_V1


def _builder(name: str, weights_enum, cfg: str, batch_norm: bool):
    def build(*, weights=None, progress: bool = True, **kwargs: Any) -> VGG:
        weights = weights_enum.verify(weights)
        return _vgg(cfg, batch_norm, weights, progress, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__annotations__["weights"] = weights_enum | None
    build.__doc__ = (f"{name} (torchvision.models.{name}): ``weights`` None, a "
                     f"``{weights_enum.__name__}`` member or its name (``'DEFAULT'``: "
                     "downloaded through dark.hub); other keyword arguments go to ``VGG`` "
                     "(``num_classes``, ``init_weights``, ``dropout``).")
    legacy = handle_legacy_interface(weights=("pretrained", weights_enum.IMAGENET1K_V1))
    return register_model()(legacy(build))


vgg11 = _builder("vgg11", VGG11_Weights, "A", False)
vgg11_bn = _builder("vgg11_bn", VGG11_BN_Weights, "A", True)
vgg13 = _builder("vgg13", VGG13_Weights, "B", False)
vgg13_bn = _builder("vgg13_bn", VGG13_BN_Weights, "B", True)
vgg16 = _builder("vgg16", VGG16_Weights, "D", False)
vgg16_bn = _builder("vgg16_bn", VGG16_BN_Weights, "D", True)
vgg19 = _builder("vgg19", VGG19_Weights, "E", False)
vgg19_bn = _builder("vgg19_bn", VGG19_BN_Weights, "E", True)
