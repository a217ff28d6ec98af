"""torchvision.models.densenet: DenseNet-121/161/169/201, with torchvision's module names and
initialisation. ``memory_efficient=True`` checkpoints the bottlenecks (concatenation,
norm1, relu1, conv1) as torchvision does (dark.utils.checkpoint, non-reentrant): they are
recomputed in the backward pass instead of kept, with the same values and gradients as False
(in training mode the recomputation updates norm1's running statistics a second time, as in
torchvision)."""
from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import Any

from ... import nn
from ..._tensor import Tensor
from ...nn import functional as F
from ...ops.shape import cat, flatten
from ...utils.checkpoint import checkpoint
from ._api import ImageClassification, Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._utils import _ovewrite_named_param, handle_legacy_interface

__all__ = ["DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights",
           "DenseNet201_Weights", "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs: list[Tensor]) -> Tensor:
        concated_features = cat(inputs, 1)
        return self.conv1(self.relu1(self.norm1(concated_features)))

    def any_requires_grad(self, input: list[Tensor]) -> bool:
        return any(tensor.requires_grad for tensor in input)

    def call_checkpoint_bottleneck(self, input: list[Tensor]) -> Tensor:
        def closure(*inputs):
            return self.bn_function(list(inputs))

        return checkpoint(closure, *input, use_reentrant=False)

    def forward(self, input) -> Tensor:
        prev_features = [input] if isinstance(input, Tensor) else input
        if self.memory_efficient and self.any_requires_grad(prev_features):
            bottleneck_output = self.call_checkpoint_bottleneck(prev_features)
        else:
            bottleneck_output = self.bn_function(prev_features)
        new_features = self.conv2(self.relu2(self.norm2(bottleneck_output)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    _version = 2

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int, drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate,
                                bn_size=bn_size, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC: ``growth_rate`` channels added per layer, ``block_config`` layers per
    block, ``num_init_features`` channels of the first convolution, ``bn_size`` times
    ``growth_rate`` bottleneck channels, ``drop_rate`` dropout after each layer."""

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, int, int, int] = (
            6, 12, 24, 16), num_init_features: int = 64, bn_size: int = 4,
            drop_rate: float = 0, num_classes: int = 1000,
            memory_efficient: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers=num_layers, num_input_features=num_features,
                                bn_size=bn_size, growth_rate=growth_rate, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = _Transition(num_input_features=num_features,
                                    num_output_features=num_features // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = flatten(out, 1)
        return self.classifier(out)


# Old checkpoints name the dense layers' modules 'norm.1', 'conv.2', ...
_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def _load_state_dict(model: nn.Module, weights: WeightsEnum, progress: bool) -> None:
    state_dict = weights.get_state_dict(progress=progress, check_hash=True)
    for key in list(state_dict.keys()):
        res = _OLD_KEY.match(key)
        if res:
            state_dict[res.group(1) + res.group(2)] = state_dict.pop(key)
    model.load_state_dict(state_dict)


def _densenet(growth_rate: int, block_config: tuple[int, int, int, int],
              num_init_features: int, weights: WeightsEnum | None, progress: bool,
              **kwargs: Any) -> DenseNet:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    if weights is not None:
        _load_state_dict(model=model, weights=weights, progress=progress)
    return model


class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/densenet121-a639ec97.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (29, 29),
              "num_params": 7978856, "_file_size": 30.845,
              "_metrics": {"ImageNet-1K": {"acc@1": 74.434, "acc@5": 91.972}}},
    )
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/densenet161-8d451a50.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (29, 29),
              "num_params": 28681000, "_file_size": 110.369,
              "_metrics": {"ImageNet-1K": {"acc@1": 77.138, "acc@5": 93.56}}},
    )
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/densenet169-b2777c0a.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (29, 29),
              "num_params": 14149480, "_file_size": 54.708,
              "_metrics": {"ImageNet-1K": {"acc@1": 75.6, "acc@5": 92.806}}},
    )
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url="https://download.pytorch.org/models/densenet201-c1103571.pth",
        transforms=partial(ImageClassification, crop_size=224),
        meta={"categories": _IMAGENET_CATEGORIES, "min_size": (29, 29),
              "num_params": 20013928, "_file_size": 77.373,
              "_metrics": {"ImageNet-1K": {"acc@1": 76.896, "acc@5": 93.37}}},
    )
    DEFAULT = IMAGENET1K_V1


def _builder(name: str, weights_enum, growth_rate: int, block_config, num_init_features: int):
    def build(*, weights=None, progress: bool = True, **kwargs: Any) -> DenseNet:
        weights = weights_enum.verify(weights)
        return _densenet(growth_rate, block_config, num_init_features, weights, progress,
                         **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__annotations__["weights"] = weights_enum | None
    build.__doc__ = (f"{name} (torchvision.models.{name}): ``weights`` None, a "
                     f"``{weights_enum.__name__}`` member or its name (``'DEFAULT'``: "
                     "downloaded through dark.hub); other keyword arguments go to "
                     "``DenseNet`` (``num_classes``, ``drop_rate``, ``bn_size``, ...).")
    legacy = handle_legacy_interface(weights=("pretrained", weights_enum.IMAGENET1K_V1))
    return register_model()(legacy(build))


densenet121 = _builder("densenet121", DenseNet121_Weights, 32, (6, 12, 24, 16), 64)
densenet161 = _builder("densenet161", DenseNet161_Weights, 48, (6, 12, 36, 24), 96)
densenet169 = _builder("densenet169", DenseNet169_Weights, 32, (6, 12, 32, 32), 64)
densenet201 = _builder("densenet201", DenseNet201_Weights, 32, (6, 12, 48, 32), 64)
