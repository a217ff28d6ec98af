"""Where dark.optim's classes live: each under the module path PyTorch gives its
counterpart (``torch.optim.lr_scheduler.CyclicLR`` -> ``dark.optim.lr_scheduler.CyclicLR``),
so pickles name the public path and ``torch`` pickles map onto dark's."""
from __future__ import annotations

import pickle
import pickletools

import pytest

import dark
from dark.optim import lr_scheduler

torch = pytest.importorskip("torch")


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
