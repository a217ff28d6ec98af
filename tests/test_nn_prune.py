"""dark.nn.utils.prune against torch.nn.utils.prune: the pruning tutorial's steps on a LeNet
(random / L1 / Ln-structured pruning, iterative pruning in a PruningContainer, remove, global
pruning, custom masks), with the same initial weights and the same seed, give the same
parameters, buffers, state_dict keys, masks and outputs; and torch's errors."""
import numpy as np
import pytest
from harness import requires_torch, torch

import dark
import dark.nn.utils.prune as dprune


def _lenet(lib):
    nn, F = lib.nn, lib.nn.functional

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 3)
            self.conv2 = nn.Conv2d(6, 16, 3)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.flatten(start_dim=1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    return LeNet()


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"conv1.weight": (6, 1, 3, 3), "conv1.bias": (6,), "conv2.weight": (16, 6, 3, 3),
              "conv2.bias": (16,), "fc1.weight": (120, 400), "fc1.bias": (120,),
              "fc2.weight": (84, 120), "fc2.bias": (84,), "fc3.weight": (10, 84),
              "fc3.bias": (10,)}
    return {k: rng.standard_normal(s).astype(np.float32) * 0.1 for k, s in shapes.items()}


def _model(lib, seed=0):
    model = _lenet(lib)
    model.load_state_dict({k: lib.tensor(v) for k, v in _weights(seed).items()})
    return model


def _np(t):
    return t.detach().numpy()


def _tutorial(lib, prune):
    """The pruning tutorial's calls; a record of what each step leaves."""
    lib.manual_seed(0)
    record = []
    model = _model(lib)
    module = model.conv1

    def snap(tag, m=module):
        record.append((tag, [n for n, _ in m.named_parameters()],
                       [n for n, _ in m.named_buffers()],
                       {n: _np(b) for n, b in m.named_buffers()},
                       _np(m.weight), _np(m.bias),
                       [type(h).__name__ for h in m._forward_pre_hooks.values()]))

    prune.random_unstructured(module, name="weight", amount=0.3)
    snap("random_unstructured")
    prune.l1_unstructured(module, name="bias", amount=3)
    snap("l1_unstructured")
    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    snap("ln_structured")
    hook = next(h for h in module._forward_pre_hooks.values() if h._tensor_name == "weight")
    record.append(("container", [type(m).__name__ for m in hook], len(hook)))
    record.append(("state_dict", list(model.state_dict().keys())))
    x = lib.tensor(np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32))
    record.append(("output", _np(model(x))))
    prune.remove(module, "weight")
    snap("remove")
    record.append(("is_pruned", prune.is_pruned(model)))

    new_model = _model(lib, seed=1)
    for _, m in new_model.named_modules():
        if isinstance(m, lib.nn.Conv2d):
            prune.l1_unstructured(m, name="weight", amount=0.2)
        elif isinstance(m, lib.nn.Linear):
            prune.l1_unstructured(m, name="weight", amount=0.4)
    record.append(("all masks", list(dict(new_model.named_buffers()).keys()),
                   {k: _np(v) for k, v in new_model.named_buffers()}))

    model = _model(lib, seed=2)
    params = [(model.conv1, "weight"), (model.conv2, "weight"), (model.fc1, "weight"),
              (model.fc2, "weight"), (model.fc3, "weight")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.2)
    record.append(("global", [float(lib.sum(m.weight == 0)) for m, _ in params]))

    model = _model(lib, seed=3)
    prune.random_structured(model.fc1, "weight", amount=0.25, dim=1)
    prune.custom_from_mask(model.fc2, "bias", mask=lib.tensor([0.0, 1.0] * 42))
    prune.identity(model.fc3, "weight")
    record.append(("more", _np(model.fc1.weight_mask), _np(model.fc2.bias),
                   _np(model.fc3.weight_mask), prune.is_pruned(model)))
    return record


def _equal(a, b, path="record"):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _equal(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def test_tutorial_steps_literal():
    record = dict((r[0], r[1:]) for r in _tutorial(dark, dprune))
    names, buffers, masks, weight, bias, hooks = record["random_unstructured"]
    assert (names, buffers, hooks) == (["bias", "weight_orig"], ["weight_mask"],
                                       ["RandomUnstructured"])
    assert masks["weight_mask"].sum() == 54 - round(0.3 * 54)
    names, buffers, masks, weight, bias, hooks = record["l1_unstructured"]
    assert (names, buffers) == (["weight_orig", "bias_orig"], ["weight_mask", "bias_mask"])
    assert (bias == 0).sum() == 3
    assert record["container"] == (["RandomUnstructured", "LnStructured"], 2)
    names, buffers, masks, weight, bias, hooks = record["ln_structured"]
    assert (np.abs(weight).reshape(6, -1).sum(1) == 0).sum() == 3  # half the channels
    assert record["state_dict"][0][:4] == ["conv1.weight_orig", "conv1.bias_orig",
                                          "conv1.weight_mask", "conv1.bias_mask"]
    names, buffers, masks, weight, bias, hooks = record["remove"]
    assert (names, buffers, hooks) == (["bias_orig", "weight"], ["bias_mask"],
                                       ["L1Unstructured"])
    assert record["is_pruned"] == (True,)
    zeros = record["global"][0]
    assert sum(zeros) == round(0.2 * (54 + 864 + 48000 + 10080 + 840))


@requires_torch
def test_tutorial_steps_are_torchs():
    import torch.nn.utils.prune as tprune

    ours, theirs = _tutorial(dark, dprune), _tutorial(torch, tprune)
    out = next(i for i, r in enumerate(ours) if r[0] == "output")
    # the forward pass of the pruned model: the same up to the summation order of conv/matmul
    np.testing.assert_allclose(ours.pop(out)[1], theirs.pop(out)[1], rtol=1e-5, atol=1e-7)
    _equal(ours, theirs)  # names, masks and pruned weights: exactly torch's


@requires_torch
@pytest.mark.parametrize("call", [
    lambda lib, p, m: p.l1_unstructured(m, "weight", amount=1.5),
    lambda lib, p, m: p.l1_unstructured(m, "weight", amount=-1),
    lambda lib, p, m: p.l1_unstructured(m, "weight", amount="a"),
    lambda lib, p, m: p.l1_unstructured(m, "weight", amount=1000),
    lambda lib, p, m: p.ln_structured(m, "bias", amount=1, n=2, dim=0),
    lambda lib, p, m: p.ln_structured(m, "weight", amount=1, n=2, dim=4),
    lambda lib, p, m: p.remove(m, "weight"),
    lambda lib, p, m: p.global_unstructured(3, pruning_method=p.L1Unstructured, amount=1),
    lambda lib, p, m: p.global_unstructured([(m, "weight")], pruning_method=p.LnStructured,
                                            amount=1, n=1, dim=0),
    lambda lib, p, m: p.l1_unstructured(m, "weight", amount=1,
                                        importance_scores=lib.ones(2)),
])
def test_errors_are_torchs(call):
    import torch.nn.utils.prune as tprune

    def outcome(lib, prune):
        module = _model(lib).conv1
        try:
            call(lib, prune, module)
        except Exception as error:  # noqa: BLE001 - compared
            return type(error), str(error).replace("torch.", "dark.").split(" of Conv2d")[0]
        return None

    got, expected = outcome(dark, dprune), outcome(torch, tprune)
    assert expected is not None and got == expected


def test_failed_pruning_leaves_the_module_as_it_was():
    module = _model(dark).conv1
    with pytest.raises(ValueError, match="amount=1000 should be smaller"):
        dprune.l1_unstructured(module, "weight", amount=1000)
    # the parameter is put back (after bias, as torch re-registers it)
    assert [n for n, _ in module.named_parameters()] == ["bias", "weight"]
    assert [n for n, _ in module.named_buffers()] == []
    assert not dprune.is_pruned(module)
