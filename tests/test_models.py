"""dark.data.models against torchvision.models (0.29), through the facts
scripts/make_torchvision_models_fixture.py recorded in tests/fixtures/torchvision_models.npz:

- each network built after ``manual_seed(0)`` has torchvision's state_dict: the same keys in
  the same order, shapes and dtypes, and the same values (exact byte checksums, sums and a
  few values per tensor), so dark's initialisation makes torchvision's calls in its order;
- its output for the input ``manual_seed(1); randn(shape)`` is torchvision's;
- ``pretrained=`` warns and the bad arguments fail as in torchvision; the weights enums hold
  torchvision's URLs, presets and meta;
- ``weights="DEFAULT"`` loads torchvision's file from the hub cache, downloads it (from a
  local server) with its hash checked, and says so clearly without a network; a state_dict
  written by torch.save loads with ``dark.load`` and gives torchvision's logits.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import re
import warnings

import numpy as np
import pytest
from harness import closed_port_url, torch

import dark
from dark.data import models

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "torchvision_models.npz")
SPEC = {case["id"]: case for case in json.loads(str(FIXTURE["spec"]))}
CALLS = json.loads(str(FIXTURE["calls"]))
WEIGHTS = json.loads(str(FIXTURE["weights"]))
PRESETS = json.loads(str(FIXTURE["presets"]))


def build(case_id: str, seed: int = 0):
    case = SPEC[case_id]
    dark.manual_seed(seed)
    return getattr(models, case["builder"])(weights=None, **case["kwargs"])


def _bit_checksums(array: np.ndarray, chunk: int = 1 << 22) -> list[int]:
    """The fixture's two checksums of a tensor's bytes (see the fixture script), summed by
    chunks (wrapping uint64 sums do not depend on the order)."""
    words = np.ascontiguousarray(array).view(np.uint32).ravel()
    plain = weighted = 0
    for start in range(0, words.size, chunk):
        part = words[start:start + chunk].astype(np.uint64)
        weights = (np.arange(start, start + part.size, dtype=np.uint64) % np.uint64(65521)
                   + np.uint64(1))
        plain += int(part.sum(dtype=np.uint64))
        weighted += int((part * weights).sum(dtype=np.uint64))
    return [plain % 2**64, weighted % 2**64]


def _stats(a: np.ndarray) -> list[float]:
    a = a.astype(np.float64).ravel()
    head = a[:3].tolist() + [0.0] * (3 - min(3, a.size))
    return [float(a.sum()), float((a * a).sum()), *head, float(a[-1])]


def logits_of(model, case_id: str):
    case = SPEC[case_id]
    model.train(case["mode"] == "train")
    dark.manual_seed(1)
    x = dark.randn(*case["input"])
    assert float(x.double().sum()) == float(FIXTURE[f"{case_id}/input_sum"])
    with dark.no_grad():
        return model(x).numpy()


def assert_logits(got: np.ndarray, case_id: str) -> None:
    expected = FIXTURE[f"{case_id}/logits"]
    assert got.shape == expected.shape and got.dtype == np.float32
    # The weights are bit-equal; the forward sums in another order than torch's (its conv
    # and matmul kernels), so the outputs agree to float32 rounding of those sums, whose
    # size follows the size of the outputs: 1e-5 of the largest. In training mode batch
    # norm divides by the batch's standard deviation over few values (8 per channel at the
    # last stage), which magnifies those roundings: 5e-5 of the largest there.
    bound = (5e-5 if SPEC[case_id]["mode"] == "train" else 1e-5) * np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=bound)


@pytest.mark.parametrize("case_id", list(SPEC))
def test_state_dict_and_logits_match_torchvision(case_id):
    model = build(case_id)
    state = model.state_dict()
    keys = [str(k) for k in FIXTURE[f"{case_id}/keys"]]
    assert list(state) == keys
    shapes = json.loads(str(FIXTURE[f"{case_id}/shapes"]))
    assert [list(v.shape) for v in state.values()] == shapes
    assert [str(v.dtype).removeprefix("dark.") for v in state.values()] == \
        [str(d) for d in FIXTURE[f"{case_id}/dtypes"]]
    stats, bits = FIXTURE[f"{case_id}/stats"], FIXTURE[f"{case_id}/bits"]
    for i, (key, value) in enumerate(state.items()):
        array = value.detach().numpy()
        got = _stats(array)
        # first three and last values exactly; the float64 sums of equal values differ only
        # if numpy summed them in another order; the byte checksums are exact.
        assert got[2:] == stats[i, 2:].tolist(), key
        np.testing.assert_allclose(got[:2], stats[i, :2], rtol=1e-12, err_msg=key)
        assert _bit_checksums(array) == bits[i].tolist(), key
    if SPEC[case_id]["input"] is not None:
        assert_logits(logits_of(model, case_id), case_id)


def test_the_state_dict_check_sees_one_changed_value():
    """The byte checksums catch a single weight off by one float32 ulp."""
    model = build("squeezenet1_1")
    weight = model.state_dict()["features.0.weight"].detach().numpy().copy()
    assert _bit_checksums(weight) == FIXTURE["squeezenet1_1/bits"][0].tolist()
    weight.ravel()[100] = np.nextafter(weight.ravel()[100], np.float32(np.inf))
    assert _bit_checksums(weight) != FIXTURE["squeezenet1_1/bits"][0].tolist()


def test_another_seed_gives_other_weights():
    a = build("squeezenet1_1", seed=0).state_dict()["features.0.weight"].numpy()
    b = build("squeezenet1_1", seed=1).state_dict()["features.0.weight"].numpy()
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("index", range(len(CALLS["warning_calls"])))
def test_pretrained_warns_as_torchvision(index):
    call = CALLS["warning_calls"][index]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = eval(call, {"models": models})
    assert [str(w.message) for w in caught] == CALLS["warnings"][index]
    assert isinstance(model, dark.nn.Module)


@pytest.mark.parametrize("index", range(len(CALLS["error_calls"])))
def test_errors_match_torchvision(index):
    call = CALLS["error_calls"][index]
    kind, message = CALLS["errors"][index]
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is checked below
        eval(call, {"models": models})
    assert type(caught.value).__name__ == kind
    got = str(caught.value)
    assert (got.strip("'") if kind == "KeyError" else got) == message


def test_pretrained_true_needs_weights_file(tmp_path, monkeypatch):
    """pretrained=True means the default weights of the builder's legacy interface
    (IMAGENET1K_V1), with both of torchvision's warnings; offline that fails clearly."""
    dead = closed_port_url() + "resnet18-f37072fd.pth"
    monkeypatch.setattr(models.ResNet18_Weights.IMAGENET1K_V1.value, "url", dead)
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    with pytest.warns(UserWarning, match="ResNet18_Weights.DEFAULT"), \
            pytest.raises(RuntimeError, match="no network connection"):
        models.resnet18(pretrained=True, progress=False)


def test_weights_enums_match_torchvision():
    categories = [str(c) for c in FIXTURE["imagenet_categories"]]
    for enum_name, members in WEIGHTS.items():
        enum = getattr(models, enum_name)
        assert list(enum.__members__) == list(members), enum_name
        for member_name, expected in members.items():
            member = enum[member_name]
            assert member.name == expected["name"]
            assert member.url == expected["url"]
            assert json.loads(json.dumps(member.transforms.keywords)) == \
                expected["transforms"]
            assert member.meta["num_params"] == expected["num_params"]
            assert list(member.meta["min_size"]) == expected["min_size"]
            want = categories if expected["categories"] == "IMAGENET" else \
                expected["categories"]
            assert member.meta["categories"] == want
            assert repr(member) == f"{enum_name}.{expected['name']}"
    assert models.ResNet18_Weights.verify("DEFAULT") is models.ResNet18_Weights.IMAGENET1K_V1
    assert models.ResNet50_Weights.verify("ResNet50_Weights.DEFAULT") is \
        models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V1") is \
        models.ResNet50_Weights.IMAGENET1K_V1
    assert models.get_model_weights("densenet121") is models.DenseNet121_Weights
    assert models.get_model_weights(models.alexnet) is models.AlexNet_Weights


def test_registry_is_a_subset_of_torchvision():
    ours = models.list_models()
    assert set(ours) <= {str(n) for n in FIXTURE["list_models"]}
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "vgg11", "vgg11_bn", "vgg16",
            "vgg16_bn", "alexnet", "mobilenet_v2", "squeezenet1_0", "squeezenet1_1",
            "densenet121"} <= set(ours)
    assert models.list_models(include="vgg1[16]*", exclude="*_bn") == ["vgg11", "vgg16"]
    assert models.list_models(module=models) == ours
    dark.manual_seed(0)
    model = models.get_model("SqueezeNet1_1", num_classes=10)
    assert isinstance(model, models.SqueezeNet) and model.num_classes == 10


@pytest.mark.parametrize("enum_name", list(PRESETS))
def test_weights_transforms_match_torchvision(enum_name):
    expected = PRESETS[enum_name]
    h, w = 300, 260
    img = dark.tensor(((np.arange(3 * h * w).reshape(3, h, w) * 7919) % 251).astype(np.uint8))
    y = getattr(models, enum_name).DEFAULT.transforms()(img)
    assert list(y.shape) == expected["shape"] and y.dtype == dark.float32
    a = y.numpy().astype(np.float64)
    # Antialiased bilinear resizing: float32 rounding of another summation order.
    np.testing.assert_allclose([a.sum(), (a * a).sum()], [expected["sum"], expected["sumsq"]],
                               rtol=1e-5)
    np.testing.assert_allclose(a[:, :2, :2].ravel(), expected["corner"], rtol=1e-4, atol=1e-4)


# --- loading weights: dark.load, torch.save files, the hub cache and downloads -----------

def _state_arrays(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_weights_default_loads_from_the_hub_cache(tmp_path, monkeypatch):
    """A file already in <hub dir>/checkpoints under the URL's name is used without any
    download; the model gets exactly its values and torchvision's logits."""
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    reference = build("resnet18")
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    dark.save(reference.state_dict(), checkpoints / "resnet18-f37072fd.pth")
    dark.manual_seed(7)  # other random weights, which the file must replace
    model = models.resnet18(weights="DEFAULT")
    assert all(np.array_equal(a, b) for a, b in
               zip(_state_arrays(model).values(), _state_arrays(reference).values()))
    assert_logits(logits_of(model, "resnet18"), "resnet18")


def test_weights_download_with_hash_check(tmp_path, server, monkeypatch):
    """weights=<member> downloads the member's URL (here a local server's) into the hub
    cache, checking the SHA256 prefix the file name carries, then loads it."""
    base, requests = server
    dark.manual_seed(3)
    reference = models.squeezenet1_1()
    payload = tmp_path / "payload.pth"
    dark.save(reference.state_dict(), payload)
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    name = f"squeezenet1_1-{digest[:8]}.pth"
    (tmp_path / "www" / name).write_bytes(payload.read_bytes())
    member = models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    monkeypatch.setattr(member.value, "url", f"{base}/{name}")
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    model = models.squeezenet1_1(weights=member, progress=False)
    assert requests == [f"/{name}"]
    assert (tmp_path / "hub" / "checkpoints" / name).is_file()
    for a, b in zip(_state_arrays(model).values(), _state_arrays(reference).values()):
        assert np.array_equal(a, b)
    models.squeezenet1_1(weights="DEFAULT", progress=False)  # from the cache now
    assert requests == [f"/{name}"]
    # A file whose bytes do not match the name's hash prefix is refused and not kept.
    bad = "squeezenet1_1-00000000.pth"
    (tmp_path / "www" / bad).write_bytes(payload.read_bytes())
    monkeypatch.setattr(member.value, "url", f"{base}/{bad}")
    with pytest.raises(RuntimeError, match=f'invalid hash value \\(expected "00000000", got '
                                           f'"{digest}"\\)'):
        models.squeezenet1_1(weights=member, progress=False)
    assert not list((tmp_path / "hub" / "checkpoints").glob("*00000000*"))


def test_weights_default_offline_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    dead = closed_port_url() + "resnet18-f37072fd.pth"
    monkeypatch.setattr(models.ResNet18_Weights.IMAGENET1K_V1.value, "url", dead)
    with pytest.raises(RuntimeError, match="no network connection") as caught:
        models.resnet18(weights="DEFAULT", progress=False)
    assert dead in str(caught.value)
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert f"save it as {cached}" in str(caught.value)
    assert not list((tmp_path / "hub" / "checkpoints").iterdir())


def test_densenet_loads_old_style_keys(tmp_path, monkeypatch):
    """torchvision's DenseNet files name the layers 'norm.1', 'conv.2', ...: renamed on load."""
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    reference = build("densenet121", seed=2)
    # Those files predate BatchNorm's num_batches_tracked too (loaded as torch does).
    old = {re.sub(r"\.(norm|conv)([12])\.", r".\1.\2.", k): v
           for k, v in reference.state_dict().items() if "num_batches_tracked" not in k}
    assert sum(".norm.1." in k for k in old) == 58 * 4
    assert sum(".conv.2." in k for k in old) == 58
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    dark.save(old, checkpoints / "densenet121-a639ec97.pth")
    dark.manual_seed(0)
    model = models.densenet121(weights="DEFAULT")
    for a, b in zip(_state_arrays(model).values(), _state_arrays(reference).values()):
        assert np.array_equal(a, b)


@pytest.mark.skipif(torch is None, reason="torch not installed: torch.save file")
def test_torch_saved_state_dict_gives_torchvision_logits(tmp_path, monkeypatch):
    """A state_dict written by torch.save (tensors with torchvision's values) loads with
    dark.load + load_state_dict, and through weights='DEFAULT' from the hub cache."""
    reference = build("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save({k: torch.from_numpy(v) for k, v in _state_arrays(reference).items()}, path)
    dark.manual_seed(5)
    model = models.resnet18()
    model.load_state_dict(dark.load(path))
    got = logits_of(model, "resnet18")
    assert_logits(got, "resnet18")
    # The acceptance: torchvision's logits to 1e-5.
    assert np.abs(got - FIXTURE["resnet18/logits"]).max() <= 1e-5
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    path.rename(checkpoints / "resnet18-f37072fd.pth")
    monkeypatch.setattr(dark.hub, "_hub_dir", str(tmp_path / "hub"))
    dark.manual_seed(6)
    assert_logits(logits_of(models.resnet18(weights=models.ResNet18_Weights.DEFAULT),
                            "resnet18"), "resnet18")


def test_torchvision_module_structure():
    """Names a port touches: submodules and attributes as torchvision has them."""
    dark.manual_seed(0)
    model = models.resnet18(num_classes=10)
    assert isinstance(model.layer1[0], models.BasicBlock)
    assert isinstance(model.fc, dark.nn.Linear) and model.fc.in_features == 512
    model.fc = dark.nn.Linear(model.fc.in_features, 3)  # the fine-tuning idiom
    assert model(dark.randn(2, 3, 32, 32)).shape == (2, 3)
    model = models.resnet50(num_classes=10)
    assert isinstance(model.layer1[0], models.Bottleneck)
    assert models.mobilenet_v2().classifier[1].in_features == 1280
    assert models.vgg11_bn is not None and isinstance(models.VGG, type)
    gn = models.resnet18(norm_layer=lambda c: dark.nn.GroupNorm(2, c))
    assert isinstance(gn.bn1, dark.nn.GroupNorm)


def test_densenet_memory_efficient_gives_the_same_gradients():
    """memory_efficient=True (torchvision: recompute the bottlenecks in backward) gives the
    same outputs and gradients as False, and the bottlenecks really run again in backward."""
    results = []
    for memory_efficient in (False, True):
        dark.manual_seed(0)
        model = models.DenseNet(growth_rate=8, block_config=(2, 3, 2, 2), num_init_features=16,
                                num_classes=4, memory_efficient=memory_efficient)
        calls = []
        for name, module in model.named_modules():
            if name.endswith("conv1"):
                module.register_forward_hook(lambda m, i, o, c=calls, n=name: c.append(n))
        x = dark.randn(2, 3, 32, 32, requires_grad=True)
        out = model(x)
        assert len(calls) == 9
        (out * dark.arange(8.0).reshape(2, 4)).sum().backward()
        assert len(calls) == (18 if memory_efficient else 9)
        results.append([out.detach().numpy(), x.grad.numpy()] +
                       [p.grad.numpy() for p in model.parameters()])
    for plain, recomputed in zip(*results):
        np.testing.assert_allclose(recomputed, plain, rtol=1e-6, atol=1e-7)
