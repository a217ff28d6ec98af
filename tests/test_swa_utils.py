"""dark.optim.swa_utils against torch.optim.swa_utils: AveragedModel (SWA's running mean,
EMA through get_ema_multi_avg_fn / get_ema_avg_fn, use_buffers), SWALR's learning rates,
update_bn, state_dict keys and the argument errors; without torch, against the averages
computed by hand."""
import numpy as np
import pytest
from harness import raises_like, requires_torch, torch

import dark
from dark.optim import swa_utils

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 16, 4)).astype(np.float32)
Y = RNG.standard_normal((6, 16, 3)).astype(np.float32)


def _model(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU(),
                             lib.nn.Linear(8, 3))


def _twins():
    tm = _model(torch)
    dm = _model(dark)
    dm.load_state_dict({k: dark.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return dm, tm


def _train(lib, model, averaged, scheduler=None, steps=6):
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = scheduler(opt) if scheduler else None
    lrs = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((model(lib.tensor(X[i])) - lib.tensor(Y[i])) ** 2).mean()
        loss.backward()
        opt.step()
        for avg in averaged:
            avg.update_parameters(model)
        if sched is not None:
            sched.step()
            lrs.append(sched.get_last_lr())
    return lrs


def _state(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


AVERAGERS = {
    "swa": lambda sw: sw.AveragedModel,
    "swa_use_buffers": lambda sw: lambda m: sw.AveragedModel(m, use_buffers=True),
    "ema_multi": lambda sw: lambda m: sw.AveragedModel(
        m, multi_avg_fn=sw.get_ema_multi_avg_fn(0.9)),
    "ema_multi_buffers": lambda sw: lambda m: sw.AveragedModel(
        m, multi_avg_fn=sw.get_ema_multi_avg_fn(0.75), use_buffers=True),
    "ema_avg_fn": lambda sw: lambda m: sw.AveragedModel(m, avg_fn=sw.get_ema_avg_fn(0.8)),
    "swa_avg_fn": lambda sw: lambda m: sw.AveragedModel(m, avg_fn=sw.get_swa_avg_fn()),
    "swa_multi_fn": lambda sw: lambda m: sw.AveragedModel(
        m, multi_avg_fn=sw.get_swa_multi_avg_fn()),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(AVERAGERS))
def test_averaged_model_matches_torch(name):
    import torch.optim.swa_utils as tsw

    dm, tm = _twins()
    d_avg = AVERAGERS[name](swa_utils)(dm)
    t_avg = AVERAGERS[name](tsw)(tm)
    _train(dark, dm, [d_avg])
    _train(torch, tm, [t_avg])
    d_state, t_state = _state(d_avg), _state(t_avg)
    assert list(d_state) == list(t_state)
    for key in t_state:
        assert d_state[key].dtype == t_state[key].dtype, key
        np.testing.assert_allclose(d_state[key], t_state[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    x = X[0]
    np.testing.assert_allclose(d_avg(dark.tensor(x)).detach().numpy(),
                               t_avg(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("strategy,epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_matches_torch(strategy, epochs):
    import torch.optim.swa_utils as tsw

    dm, tm = _twins()
    d = _train(dark, dm, [], lambda opt: swa_utils.SWALR(
        opt, swa_lr=0.05, anneal_epochs=epochs, anneal_strategy=strategy))
    t = _train(torch, tm, [], lambda opt: tsw.SWALR(
        opt, swa_lr=0.05, anneal_epochs=epochs, anneal_strategy=strategy))
    np.testing.assert_allclose(np.array(d), np.array(t), rtol=1e-12)


@requires_torch
def test_update_bn_matches_torch():
    import torch.optim.swa_utils as tsw

    dm, tm = _twins()
    d_avg, t_avg = swa_utils.AveragedModel(dm), tsw.AveragedModel(tm)
    _train(dark, dm, [d_avg])
    _train(torch, tm, [t_avg])
    swa_utils.update_bn([(dark.tensor(x), 0) for x in X], d_avg)
    tsw.update_bn([(torch.tensor(x), 0) for x in X], t_avg)
    for key in ("module.1.running_mean", "module.1.running_var",
                "module.1.num_batches_tracked"):
        np.testing.assert_allclose(_state(d_avg)[key], _state(t_avg)[key], rtol=1e-5,
                                   atol=1e-6)
    assert d_avg.module[1].momentum == 0.1 and d_avg.training


def test_swa_is_the_running_mean_and_ema_the_recursion():
    model = dark.nn.Linear(3, 2)
    swa = swa_utils.AveragedModel(model)
    ema = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    seen = []
    for step in range(4):
        with dark.no_grad():
            model.weight.add_(float(step + 1))
        seen.append(model.weight.detach().numpy().copy())
        swa.update_parameters(model)
        ema.update_parameters(model)
    np.testing.assert_allclose(swa.module.weight.detach().numpy(), np.mean(seen, 0),
                               rtol=1e-6)
    expected = seen[0]
    for w in seen[1:]:
        expected = 0.5 * expected + 0.5 * w
    np.testing.assert_allclose(ema.module.weight.detach().numpy(), expected, rtol=1e-6)
    assert swa.n_averaged.item() == 4 and swa.n_averaged.dtype == dark.int64
    assert not swa.module.weight.requires_grad or swa.module.weight.grad is None


ERRORS = {
    "ema_decay": lambda sw, lib: sw.get_ema_multi_avg_fn(1.5),
    "ema_avg_decay": lambda sw, lib: sw.get_ema_avg_fn(-0.1),
    "both_fns": lambda sw, lib: sw.AveragedModel(lib.nn.Linear(2, 2), avg_fn=lambda *a: a[0],
                                                 multi_avg_fn=lambda *a: None),
    "swalr_strategy": lambda sw, lib: sw.SWALR(
        lib.optim.SGD(lib.nn.Linear(2, 2).parameters(), lr=0.1), 0.05, anneal_strategy="x"),
    "swalr_epochs": lambda sw, lib: sw.SWALR(
        lib.optim.SGD(lib.nn.Linear(2, 2).parameters(), lr=0.1), 0.05, anneal_epochs=-1),
    "swalr_lrs_length": lambda sw, lib: sw.SWALR(
        lib.optim.SGD(lib.nn.Linear(2, 2).parameters(), lr=0.1), [0.05, 0.01]),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    import torch.optim.swa_utils as tsw

    raises_like(lambda: ERRORS[name](swa_utils, dark), lambda: ERRORS[name](tsw, torch))
