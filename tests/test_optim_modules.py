"""Where dark.optim's classes live: each under the module path PyTorch gives its
counterpart (``torch.optim.lr_scheduler.CyclicLR`` -> ``dark.optim.lr_scheduler.CyclicLR``),
so pickles name the public path and ``torch`` pickles map onto dark's."""
from __future__ import annotations

import pickle
import pickletools

import pytest
from harness import requires_torch, torch

import dark
from dark.optim import lr_scheduler


@requires_torch
@pytest.mark.parametrize("name", sorted(lr_scheduler.__all__))
def test_schedulers_live_where_torch_has_them(name):
    expected = getattr(torch.optim.lr_scheduler, name).__module__.replace("torch", "dark", 1)
    assert getattr(lr_scheduler, name).__module__ == expected == "dark.optim.lr_scheduler"


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="exp_range", gamma=0.9),
    lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10),
], ids=["CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR"])
def test_a_pickled_cyclical_scheduler_names_the_public_module(make):
    params = [dark.ones(2, requires_grad=True)]
    scheduler = make(dark.optim.SGD(params, lr=0.1, momentum=0.9))
    for _ in range(3):
        scheduler.optimizer.step()
        scheduler.step()
    data = pickle.dumps(scheduler)
    modules = {arg for op, arg, _ in pickletools.genops(data)
               if op.name in ("SHORT_BINUNICODE", "BINUNICODE") and str(arg).startswith("dark.")}
    assert "dark.optim.lr_scheduler" in modules
    assert not any("_cyclic" in m for m in modules)
    copy = pickle.loads(data)
    assert type(copy) is type(scheduler)
    assert copy.get_last_lr() == scheduler.get_last_lr()
    assert copy.state_dict() == scheduler.state_dict()


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "uint8", "bool",
                                   "complex64", "complex128"])
def test_a_tensor_given_as_params_is_named_as_torch_names_it(dtype):
    def message(lib):
        with pytest.raises(TypeError) as info:
            lib.optim.SGD(lib.ones(2, dtype=getattr(lib, dtype)), lr=0.1)
        return str(info.value)

    assert message(dark) == message(torch).replace("torch.", "dark.")
