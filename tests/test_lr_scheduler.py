"""dark.optim.lr_scheduler against torch.optim.lr_scheduler: the learning rates (and
momentums) of every step, state_dict round trips, ReduceLROnPlateau, errors."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark

STEPS = 30


def make_optimizer(lib, name="SGD"):
    """Two parameter groups with different rates, as schedulers scale each group."""
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0], requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if name == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return getattr(lib.optim, name)(groups, lr=0.1)


def S(lib):
    return lib.optim.lr_scheduler


class Halving:
    """A callable object as lr_lambda: its __dict__ goes into the state_dict."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor ** (epoch // 4)


# (id, optimizer, factory(lib, optimizer) -> scheduler)
SCHEDULERS = [
    ("lambda", "SGD", lambda lib, o: S(lib).LambdaLR(o, lambda e: 0.95 ** e)),
    ("lambda-list", "SGD", lambda lib, o: S(lib).LambdaLR(
        o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    ("multiplicative", "SGD", lambda lib, o: S(lib).MultiplicativeLR(o, lambda e: 0.9)),
    ("step", "SGD", lambda lib, o: S(lib).StepLR(o, step_size=7, gamma=0.5)),
    ("step-default", "SGD", lambda lib, o: S(lib).StepLR(o, 3)),
    ("multistep", "SGD", lambda lib, o: S(lib).MultiStepLR(o, [5, 12, 12, 20], gamma=0.3)),
    ("constant", "SGD", lambda lib, o: S(lib).ConstantLR(o)),
    ("constant-opts", "SGD", lambda lib, o: S(lib).ConstantLR(o, factor=0.5, total_iters=10)),
    ("linear", "SGD", lambda lib, o: S(lib).LinearLR(o)),
    ("linear-opts", "SGD", lambda lib, o: S(lib).LinearLR(
        o, start_factor=0.2, end_factor=0.9, total_iters=12)),
    ("exponential", "SGD", lambda lib, o: S(lib).ExponentialLR(o, gamma=0.9)),
    ("cosine", "SGD", lambda lib, o: S(lib).CosineAnnealingLR(o, T_max=10)),
    ("cosine-eta", "SGD", lambda lib, o: S(lib).CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ("warm-restarts", "SGD", lambda lib, o: S(lib).CosineAnnealingWarmRestarts(o, T_0=5)),
    ("warm-restarts-mult", "SGD", lambda lib, o: S(lib).CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-3)),
    ("polynomial", "SGD", lambda lib, o: S(lib).PolynomialLR(o)),
    ("polynomial-opts", "SGD", lambda lib, o: S(lib).PolynomialLR(
        o, total_iters=20, power=2.0)),
    ("onecycle", "SGD", lambda lib, o: S(lib).OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 1)),
    ("onecycle-adam", "Adam", lambda lib, o: S(lib).OneCycleLR(
        o, max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=8, anneal_strategy="linear",
        three_phase=True)),
    ("onecycle-nomomentum", "Adagrad", lambda lib, o: S(lib).OneCycleLR(
        o, max_lr=0.3, total_steps=40, pct_start=0.25, cycle_momentum=False,
        div_factor=10.0, final_div_factor=100.0)),
    ("cyclic", "SGD", lambda lib, o: S(lib).CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                     step_size_up=4)),
    ("cyclic-triangular2", "SGD", lambda lib, o: S(lib).CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
        mode="triangular2", base_momentum=0.7, max_momentum=0.95)),
    ("cyclic-exp-adam", "Adam", lambda lib, o: S(lib).CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range", gamma=0.9)),
    ("cyclic-scale-fn", "SGD", lambda lib, o: S(lib).CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 1 / (x + 1),
        scale_mode="iterations", cycle_momentum=False)),
    ("sequential", "SGD", lambda lib, o: S(lib).SequentialLR(
        o, [S(lib).LinearLR(o, start_factor=0.1, total_iters=5),
            S(lib).ExponentialLR(o, gamma=0.9)], milestones=[5])),
    ("sequential-3", "SGD", lambda lib, o: S(lib).SequentialLR(
        o, [S(lib).ConstantLR(o, factor=0.1, total_iters=2), S(lib).StepLR(o, 4, 0.5),
            S(lib).CosineAnnealingLR(o, T_max=8)], milestones=[6, 15])),
    ("chained", "SGD", lambda lib, o: S(lib).ChainedScheduler(
        [S(lib).ConstantLR(o, factor=0.5, total_iters=4), S(lib).ExponentialLR(o, 0.9)])),
]


def snapshot(optimizer, scheduler):
    """What a step leaves behind: the scheduler's last rates and every group's rate and
    momentum (or beta1)."""
    groups = [(g["lr"], g.get("momentum"), g.get("betas")) for g in optimizer.param_groups]
    return scheduler.get_last_lr(), groups


def run(lib, name, factory, steps=STEPS, resume_at=None):
    optimizer = make_optimizer(lib, name)
    scheduler = factory(lib, optimizer)
    history = [snapshot(optimizer, scheduler)]
    for i in range(steps):
        if i == resume_at:
            optimizer, scheduler = resume(lib, name, factory, optimizer, scheduler)
        optimizer.step()
        scheduler.step()
        history.append(snapshot(optimizer, scheduler))
    return history, scheduler


def resume(lib, name, factory, optimizer, scheduler):
    """A fresh optimizer and scheduler loaded from (deep copies of) the state_dicts."""
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    scheduler_state = copy.deepcopy(scheduler.state_dict())
    new_optimizer = make_optimizer(lib, name)
    new_scheduler = factory(lib, new_optimizer)
    new_scheduler.load_state_dict(scheduler_state)
    new_optimizer.load_state_dict(optimizer_state)
    return new_optimizer, new_scheduler


@pytest.mark.parametrize(("key", "name", "factory"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@requires_torch
def test_rates_match_torch(key, name, factory):
    mine, _ = run(dark, name, factory)
    theirs, _ = run(torch, name, factory)
    assert mine == theirs


@pytest.mark.parametrize(("key", "name", "factory"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_state_dict_round_trip(key, name, factory):
    """A run resumed from state_dicts at step 11 is the run without the interruption."""
    resumed, resumed_scheduler = run(dark, name, factory, resume_at=11)
    plain, plain_scheduler = run(dark, name, factory)
    assert resumed == plain
    assert_same_state(resumed_scheduler.state_dict(), plain_scheduler.state_dict())


@pytest.mark.parametrize(("key", "name", "factory"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@requires_torch
def test_state_dict_round_trip_matches_torch(key, name, factory):
    mine, my_scheduler = run(dark, name, factory, resume_at=11)
    theirs, their_scheduler = run(torch, name, factory)
    assert mine == theirs
    assert_same_state(my_scheduler.state_dict(), their_scheduler.state_dict())


def assert_same_state(mine, theirs):
    """Same keys, same values (functions compared by presence only)."""
    assert sorted(mine) == sorted(theirs)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert_same_state(mine[key], value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for m, t in zip(mine[key], value):
                assert_same_state(m, t)
        elif not callable(value):
            assert mine[key] == value, key


@pytest.mark.parametrize("lib", LIBS)
def test_lambda_object_state_saved(lib):
    optimizer = make_optimizer(lib)
    halving = Halving()
    scheduler = S(lib).LambdaLR(optimizer, halving)
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"factor": 0.5}, {"factor": 0.5}]
    halving.factor = 0.1
    scheduler.load_state_dict(state)
    assert halving.factor == 0.5


@requires_torch
def test_warm_restarts_fractional_epochs():
    results = {}
    for lib in (dark, torch):
        optimizer = make_optimizer(lib)
        scheduler = S(lib).CosineAnnealingWarmRestarts(optimizer, T_0=4, T_mult=2, eta_min=0.01)
        rates = []
        for epoch in np.arange(0, 30, 0.3):
            optimizer.step()
            scheduler.step(float(epoch))
            rates.append((scheduler.get_last_lr(), scheduler.T_cur, scheduler.T_i,
                          scheduler.last_epoch))
        results[lib.__name__] = rates
    assert results["dark"] == results["torch"]


@pytest.mark.parametrize("factory", [
    lambda lib, o: S(lib).StepLR(o, 4, 0.5),
    lambda lib, o: S(lib).MultiStepLR(o, [3, 8], 0.5),
    lambda lib, o: S(lib).ExponentialLR(o, 0.8),
    lambda lib, o: S(lib).CosineAnnealingLR(o, 10),
    lambda lib, o: S(lib).LinearLR(o, total_iters=6),
    lambda lib, o: S(lib).PolynomialLR(o, 8, 1.5),
    lambda lib, o: S(lib).ConstantLR(o, total_iters=4),
], ids=["step", "multistep", "exponential", "cosine", "linear", "polynomial", "constant"])
@requires_torch
def test_step_with_epoch_uses_closed_form(factory):
    results = {}
    for lib in (dark, torch):
        optimizer = make_optimizer(lib)
        scheduler = factory(lib, optimizer)
        rates = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in [1, 2, 5, 3, 9, 12, 0, 7]:
                optimizer.step()
                scheduler.step(epoch)
                rates.append(scheduler.get_last_lr())
        assert any("epoch parameter" in str(w.message) for w in caught)
        results[lib.__name__] = rates
    assert results["dark"] == results["torch"]


METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7999, 0.81,
           0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]


@pytest.mark.parametrize("options", [
    {},
    {"patience": 2},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 2},
    {"patience": 0, "min_lr": [0.01, 0.02], "factor": 0.3},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02, "eps": 0.02},
    {"mode": "max", "threshold_mode": "abs", "patience": 2, "cooldown": 1},
], ids=["default", "patience", "max", "abs-cooldown", "min-lrs", "eps", "max-abs"])
@requires_torch
def test_reduce_on_plateau(options):
    results = {}
    for lib in (dark, torch):
        optimizer = make_optimizer(lib)
        scheduler = S(lib).ReduceLROnPlateau(optimizer, **options)
        rates = []
        for i, metric in enumerate(METRICS):
            optimizer.step()
            scheduler.step(lib.tensor(metric) if i % 2 else metric)
            rates.append((scheduler.get_last_lr(), scheduler.num_bad_epochs,
                          scheduler.cooldown_counter, scheduler.best))
            if i == 15:
                state = copy.deepcopy(scheduler.state_dict())
                scheduler = S(lib).ReduceLROnPlateau(optimizer)
                scheduler.load_state_dict(state)
        results[lib.__name__] = (rates, scheduler.state_dict())
    assert results["dark"][0] == results["torch"][0]
    assert_same_state(results["dark"][1], results["torch"][1])


@pytest.mark.parametrize("lib", LIBS)
def test_initial_lr_bookkeeping(lib):
    optimizer = make_optimizer(lib)
    S(lib).StepLR(optimizer, 3)
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.05]
    fresh = make_optimizer(lib)
    resumed = S(lib).StepLR(fresh, 3)
    for _ in range(4):
        fresh.step()
        resumed.step()
    again = S(lib).StepLR(fresh, 3, last_epoch=3)
    assert again.base_lrs == [0.1, 0.05]


def test_scheduler_before_optimizer_step_warns():
    optimizer = make_optimizer(dark)
    scheduler = S(dark).StepLR(optimizer, 3)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before"):
        scheduler.step()


def test_no_warning_in_the_right_order():
    optimizer = make_optimizer(dark)
    scheduler = S(dark).CosineAnnealingLR(optimizer, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            optimizer.step()
            scheduler.step()
    assert math.isclose(scheduler.get_last_lr()[0], 0.05 * (1 + math.cos(math.pi * 0.3)))


def _errors(lib):
    s = S(lib)
    adagrad = make_optimizer(lib, "Adagrad")
    return {
        "not an optimizer": lambda: s.StepLR(object(), 3),
        "resume without initial_lr": lambda: s.StepLR(make_optimizer(lib), 3, last_epoch=4),
        "constant factor": lambda: s.ConstantLR(make_optimizer(lib), factor=1.5),
        "linear start": lambda: s.LinearLR(make_optimizer(lib), start_factor=0),
        "linear end": lambda: s.LinearLR(make_optimizer(lib), end_factor=2),
        "lambda count": lambda: s.LambdaLR(make_optimizer(lib), [lambda e: 1.0]),
        "multiplicative callable": lambda: s.MultiplicativeLR(make_optimizer(lib), 0.9),
        "T_0": lambda: s.CosineAnnealingWarmRestarts(make_optimizer(lib), T_0=0),
        "T_mult": lambda: s.CosineAnnealingWarmRestarts(make_optimizer(lib), 2, T_mult=0),
        "eta_min": lambda: s.CosineAnnealingWarmRestarts(make_optimizer(lib), 2, eta_min="a"),
        "onecycle steps": lambda: s.OneCycleLR(make_optimizer(lib), 0.1),
        "onecycle total": lambda: s.OneCycleLR(make_optimizer(lib), 0.1, total_steps=0),
        "onecycle epochs": lambda: s.OneCycleLR(make_optimizer(lib), 0.1, epochs=-1,
                                                steps_per_epoch=2),
        "onecycle pct": lambda: s.OneCycleLR(make_optimizer(lib), 0.1, 10, pct_start=1.5),
        "onecycle anneal": lambda: s.OneCycleLR(make_optimizer(lib), 0.1, 10,
                                                anneal_strategy="exp"),
        "onecycle momentum": lambda: s.OneCycleLR(adagrad, 0.1, 10),
        "onecycle max_lr list": lambda: s.OneCycleLR(make_optimizer(lib), [0.1], 10),
        "cyclic mode": lambda: s.CyclicLR(make_optimizer(lib), 0.01, 0.1, mode="sine"),
        "cyclic momentum": lambda: s.CyclicLR(adagrad, 0.01, 0.1),
        "plateau factor": lambda: s.ReduceLROnPlateau(make_optimizer(lib), factor=1.0),
        "plateau mode": lambda: s.ReduceLROnPlateau(make_optimizer(lib), mode="up"),
        "plateau threshold": lambda: s.ReduceLROnPlateau(make_optimizer(lib),
                                                         threshold_mode="ratio"),
        "plateau min_lrs": lambda: s.ReduceLROnPlateau(make_optimizer(lib), min_lr=[0.1]),
        "sequential milestones": lambda: _sequential(lib, milestones=[2, 4]),
        "sequential empty": lambda: s.SequentialLR(make_optimizer(lib), [], []),
        "chained empty": lambda: s.ChainedScheduler([]),
        "onecycle past the end": lambda: _past_the_end(lib),
    }


def _sequential(lib, milestones):
    optimizer = make_optimizer(lib)
    return S(lib).SequentialLR(optimizer, [S(lib).StepLR(optimizer, 2),
                                           S(lib).ExponentialLR(optimizer, 0.9)], milestones)


def _past_the_end(lib):
    optimizer = make_optimizer(lib)
    scheduler = S(lib).OneCycleLR(optimizer, 0.1, total_steps=3)
    for _ in range(4):
        optimizer.step()
        scheduler.step()


def raised(fn):
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - the test compares whatever is raised
        return type(error), str(error)
    return None, None


@pytest.mark.parametrize("which", list(_errors(dark)))
@requires_torch
def test_errors_match_torch(which):
    theirs = raised(_errors(torch)[which])
    mine = raised(_errors(dark)[which])
    assert theirs[0] is not None
    assert mine == theirs
