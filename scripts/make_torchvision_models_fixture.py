"""Write the torchvision model facts that tests/test_models.py checks dark.data.models against.

For each case (a torchvision.models builder and its keyword arguments) the network is built
after ``torch.manual_seed(0)`` with ``weights=None``, and its state_dict is recorded: the keys
in order, each tensor's shape and dtype, per tensor (as float64) the sum, the sum of squares and
the first three and last values, and two exact checksums of the tensor's bytes. Since
dark's CPU generator and initialisers are bit-exact with torch's, dark's network built after
``dark.manual_seed(0)`` must give the same numbers exactly. For the cases with an input shape,
the network's output in ``mode`` ("eval" or "train") for the input drawn by
``torch.manual_seed(1); torch.randn(shape)`` is stored too (float32), with that input's sum
(to check that dark draws the same input).

A full state_dict would be tens of MB per network, too big to commit; these checksums pin
every weight's values without holding them.

torchvision cannot be installed beside the CPU torch the test suite uses, so this runs in a
separate virtual environment and its output is committed:

    python -m venv /work/venv-tv
    /work/venv-tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venv-tv/bin/python scripts/make_torchvision_models_fixture.py

It writes tests/fixtures/torchvision_models.npz: ``spec`` (JSON: the list of cases
``{"id", "builder", "kwargs", "input", "mode"}``) and per case ``<id>/keys`` (the state_dict
keys), ``<id>/shapes`` (JSON list), ``<id>/dtypes``, ``<id>/stats`` (float64, one row
``[sum, sum of squares, v0, v1, v2, v_last]`` per key), ``<id>/bits`` (uint64, one row of
two exact checksums of the bytes per key: see ``bit_checksums``), and for cases with an input
``<id>/input_sum`` and ``<id>/logits``. Besides: ``calls`` (JSON: the warnings and errors of
the calls in WARNING_CALLS / ERROR_CALLS), ``weights`` (JSON: each weights enum's members:
name, URL, transforms keywords, num_params, min_size, categories: "IMAGENET" standing for
``imagenet_categories``), ``presets`` (JSON: stats of
two weights' ``transforms()`` applied to a fixed image) and ``list_models``.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
import torchvision
from torchvision.models._meta import _IMAGENET_CATEGORIES

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torchvision_models.npz"

# id, builder, kwargs, input shape (None: weights only), mode
CASES = [
    ("resnet18", "resnet18", {}, [2, 3, 64, 64], "eval"),
    ("resnet18_train", "resnet18", {}, [2, 3, 64, 64], "train"),
    ("resnet18_options", "resnet18", {"num_classes": 10, "zero_init_residual": True},
     [1, 3, 32, 32], "eval"),
    ("resnet34", "resnet34", {}, None, "eval"),
    ("resnet50", "resnet50", {}, [1, 3, 32, 32], "eval"),
    ("resnet50_dilated", "resnet50", {"replace_stride_with_dilation": [False, True, True],
                                       "num_classes": 10}, [1, 3, 32, 32], "eval"),
    ("resnet101", "resnet101", {}, None, "eval"),
    ("resnext50_32x4d", "resnext50_32x4d", {"num_classes": 10}, [1, 3, 32, 32], "eval"),
    ("vgg11", "vgg11", {}, [1, 3, 32, 32], "eval"),
    ("vgg11_bn", "vgg11_bn", {}, None, "eval"),
    ("vgg16", "vgg16", {}, None, "eval"),
    ("vgg16_bn", "vgg16_bn", {"num_classes": 10}, [1, 3, 32, 32], "eval"),
    ("alexnet", "alexnet", {}, [1, 3, 63, 63], "eval"),
    ("mobilenet_v2", "mobilenet_v2", {}, [1, 3, 32, 32], "eval"),
    ("mobilenet_v2_half", "mobilenet_v2", {"width_mult": 0.5, "num_classes": 10,
                                           "dropout": 0.0}, [2, 3, 64, 64], "train"),
    ("squeezenet1_0", "squeezenet1_0", {}, [1, 3, 32, 32], "eval"),
    ("squeezenet1_1", "squeezenet1_1", {"num_classes": 10}, [1, 3, 32, 32], "eval"),
    ("densenet121", "densenet121", {}, [1, 3, 32, 32], "eval"),
]


# Calls whose warnings (in order) or error (type and message) are recorded; ``models`` is
# torchvision.models here and dark.data.models in the test.
WARNING_CALLS = [
    "models.resnet18(pretrained=False)",
    "models.resnet18(False)",
    "models.squeezenet1_1(pretrained=False, num_classes=10)",
]
ERROR_CALLS = [
    "models.resnet18(weights=models.VGG11_Weights.DEFAULT)",
    "models.resnet18(weights='DEFAULT', num_classes=10)",
    "models.resnet18(weights='NOPE')",
    "models.resnet.ResNet(models.resnet.BasicBlock, [2, 2, 2, 2], "
    "replace_stride_with_dilation=[True])",
    "models.resnet.ResNet(models.resnet.BasicBlock, [2, 2, 2, 2], groups=2)",
    "models.resnet18(replace_stride_with_dilation=[False, False, True])",
    "models.SqueezeNet(version='2_0')",
    "models.mobilenet_v2(inverted_residual_setting=[[1, 16, 1]])",
    "models.get_model('resnet1000')",
    "models.get_weight('ResNet18_Weights')",
]
# The weights enums whose members' URLs, transforms and meta are recorded.
ENUMS = ["ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights",
         "ResNet152_Weights", "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights",
         "ResNeXt101_64X4D_Weights", "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights",
         "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
         "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights",
         "AlexNet_Weights", "MobileNet_V2_Weights", "SqueezeNet1_0_Weights",
         "SqueezeNet1_1_Weights", "DenseNet121_Weights", "DenseNet161_Weights",
         "DenseNet169_Weights", "DenseNet201_Weights"]


def weights_table() -> dict:
    table = {}
    for name in ENUMS:
        enum = getattr(torchvision.models, name)
        members = {}
        for member_name, member in enum.__members__.items():
            meta = member.meta
            members[member_name] = {
                "name": member.name, "url": member.url,
                "transforms": member.transforms.keywords,
                "num_params": meta.get("num_params"), "min_size": list(meta["min_size"]),
                "categories": ("IMAGENET" if meta["categories"] == _IMAGENET_CATEGORIES
                               else meta["categories"])}
        table[name] = members
    return table


def run_calls() -> tuple[list, list]:
    import warnings
    names = {"models": torchvision.models}
    warned = []
    for call in WARNING_CALLS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            eval(call, names)
        warned.append([str(w.message) for w in caught])
    errors = []
    for call in ERROR_CALLS:
        try:
            eval(call, names)
        except Exception as error:  # noqa: BLE001 - recorded as is
            errors.append([type(error).__name__, str(error).strip("'") if isinstance(
                error, KeyError) else str(error)])
        else:
            raise AssertionError(f"{call} raised nothing")
    return warned, errors


def preset_output() -> dict:
    """``ResNet18_Weights.DEFAULT.transforms()`` and ``ResNet50_Weights.DEFAULT.transforms()``
    on a fixed uint8 image (3 x 300 x 260): shape and float64 stats of the result."""
    h, w = 300, 260
    img = torch.from_numpy(((np.arange(3 * h * w).reshape(3, h, w) * 7919) % 251)
                           .astype(np.uint8))
    result = {}
    for name in ("ResNet18_Weights", "ResNet50_Weights"):
        y = getattr(torchvision.models, name).DEFAULT.transforms()(img)
        a = y.numpy().astype(np.float64)
        result[name] = {"shape": list(y.shape), "dtype": str(y.dtype),
                        "sum": float(a.sum()), "sumsq": float((a * a).sum()),
                        "corner": a[:, :2, :2].ravel().tolist()}
    return result


def stats(t: torch.Tensor) -> list[float]:
    a = t.detach().numpy().astype(np.float64).ravel()
    head = list(a[:3]) + [0.0] * (3 - min(3, a.size))
    return [float(a.sum()), float((a * a).sum()), *head, float(a[-1]) if a.size else 0.0]


def bit_checksums(t: torch.Tensor) -> list[int]:
    """Two order-exact checksums of the tensor's bytes (read as uint32 words, summed in
    wrapping uint64): the plain sum and the sum weighted by (position % 65521 + 1). Any
    changed bit or moved value changes them, whatever summation order numpy uses."""
    words = np.ascontiguousarray(t.detach().numpy()).view(np.uint32).ravel().astype(np.uint64)
    weights = (np.arange(words.size, dtype=np.uint64) % np.uint64(65521)) + np.uint64(1)
    return [int(words.sum(dtype=np.uint64)), int((words * weights).sum(dtype=np.uint64))]


def main() -> None:
    # torch 2.14's generator gives torch 2.13's streams (the suite checks dark against 2.13):
    torch.manual_seed(0)
    assert torch.rand(2).tolist() == [0.49625658988952637, 0.7682217955589294]
    out: dict[str, np.ndarray] = {}
    spec = []
    for case_id, builder, kwargs, shape, mode in CASES:
        torch.manual_seed(0)
        model = getattr(torchvision.models, builder)(weights=None, **kwargs)
        sd = model.state_dict()
        out[f"{case_id}/keys"] = np.array(list(sd))
        out[f"{case_id}/shapes"] = np.array(json.dumps([list(v.shape) for v in sd.values()]))
        out[f"{case_id}/dtypes"] = np.array([str(v.dtype).removeprefix("torch.")
                                             for v in sd.values()])
        out[f"{case_id}/stats"] = np.array([stats(v) for v in sd.values()], dtype=np.float64)
        out[f"{case_id}/bits"] = np.array([bit_checksums(v) for v in sd.values()],
                                          dtype=np.uint64)
        if shape is not None:
            model.train(mode == "train")
            torch.manual_seed(1)
            x = torch.randn(shape)
            with torch.no_grad():
                y = model(x)
            out[f"{case_id}/input_sum"] = np.array(x.double().sum().item())
            out[f"{case_id}/logits"] = y.numpy().astype(np.float32)
        spec.append({"id": case_id, "builder": builder, "kwargs": kwargs, "input": shape,
                     "mode": mode})
        print(case_id, len(sd), "tensors")
    out["spec"] = np.array(json.dumps(spec))
    warned, errors = run_calls()
    out["calls"] = np.array(json.dumps({"warning_calls": WARNING_CALLS, "warnings": warned,
                                        "error_calls": ERROR_CALLS, "errors": errors}))
    out["weights"] = np.array(json.dumps(weights_table()))
    out["presets"] = np.array(json.dumps(preset_output()))
    out["list_models"] = np.array(torchvision.models.list_models())
    out["imagenet_categories"] = np.array(_IMAGENET_CATEGORIES)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
