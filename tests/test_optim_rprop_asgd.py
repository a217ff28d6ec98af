"""dark.optim.Rprop and ASGD against torch.optim: N-step parity from the same parameters
and gradients, state_dict layout and resumption, argument errors, in-place updates. (No
gradcheck: these steps run without a graph; ``differentiable=True`` is refused, as by every
dark optimizer.) SparseAdam has test_optim_sparse_adam.py."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch
from test_optim import (
    TOLERANCES,
    assert_same_params,
    assert_same_state_dict,
    build,
    case_id,
    check_fresh_state_dict_and_repr,
    check_large_and_strided,
    check_option_error,
    check_resume,
    check_resume_against_uninterrupted,
    check_same_run,
    check_tensor_lr_error,
    make_data,
    make_params,
    run_steps,
    to_numpy,
)

import dark

CASES = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05}),
    ("Rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.1, "step_sizes": (0.02, 0.15), "maximize": True}),
    ("Rprop", {"foreach": True, "capturable": False}),
    ("Rprop", {"foreach": False, "maximize": True, "etas": (0.9, 1.01)}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.1, "t0": 3}),
    ("ASGD", {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 2, "weight_decay": 0.2}),
    ("ASGD", {"lr": 0.1, "t0": 4, "maximize": True, "weight_decay": 0.05}),
    ("ASGD", {"lr": 0.2, "lambd": 0.5, "alpha": 1.5, "t0": 0, "foreach": False}),
    ("ASGD", {"foreach": True, "t0": 1.5, "lambd": 1e-3}),
]

GROUP_OPTIONS = {
    "Rprop": {"lr": 0.003, "etas": (0.4, 1.3), "maximize": True},
    "ASGD": {"lr": 0.05, "t0": 2, "lambd": 0.01, "weight_decay": 0.1},
}


@pytest.fixture
def default_float64():
    libraries = [dark] + ([torch] if torch is not None else [])
    for lib in libraries:
        lib.set_default_dtype(lib.float64)
    yield
    for lib in libraries:
        lib.set_default_dtype(lib.float32)


# ----------------------------------------------------------------------------- parity

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
@requires_torch
def test_parity(case, dtype, device):
    """10 steps (one parameter without a gradient at two of them): the same parameters and
    the same state_dict (entry names, dtypes, shapes, values, group options)."""
    name, options = case
    init, grads = make_data(dtype)
    mine, theirs = make_params(dark, init, device), make_params(torch, init)
    my_opt, their_opt = build(dark, name, options, mine), build(torch, name, options, theirs)
    check_same_run(my_opt, their_opt, mine, theirs, grads, TOLERANCES[dtype], device)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES[1:4] + CASES[7:10], ids=case_id)
@requires_torch
def test_parity_large_and_strided(case, dtype, device):
    check_large_and_strided(case, dtype, device, steps=6)


@pytest.mark.parametrize("name", sorted(GROUP_OPTIONS))
@requires_torch
def test_param_groups(name, device):
    init, grads = make_data("float64", seed=1)
    mine, theirs = make_params(dark, init, device), make_params(torch, init)
    my_opt = build(dark, name, {"lr": 0.02}, mine, grouped=True, group_options=GROUP_OPTIONS)
    their_opt = build(torch, name, {"lr": 0.02}, theirs, grouped=True,
                      group_options=GROUP_OPTIONS)
    check_same_run(my_opt, their_opt, mine, theirs, grads, TOLERANCES["float64"], device)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_float64_default_makes_float64_state(name, default_float64, device):
    """A float64 default dtype makes the 0-d state (``step``, ASGD's ``eta`` and ``mu``)
    float64."""
    init, grads = make_data("float64", seed=4)
    options = {"lr": 0.1, "t0": 3} if name == "ASGD" else {"lr": 0.05}
    params = make_params(dark, init, device)
    optimizer = build(dark, name, options, params)
    run_steps(dark, optimizer, params, grads, device)
    for key in ("step", "eta", "mu") if name == "ASGD" else ("step",):
        assert optimizer.state[params[0]][key].dtype == dark.float64, key


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_parity_under_float64_default(name, default_float64, device):
    """A float64 default dtype makes the 0-d state (``step``, ASGD's ``eta`` and ``mu``)
    float64, and ASGD's new eta/mu are no longer rounded to float32."""
    init, grads = make_data("float64", seed=4)
    options = {"lr": 0.1, "t0": 3} if name == "ASGD" else {"lr": 0.05}
    mine, theirs = make_params(dark, init, device), make_params(torch, init)
    my_opt, their_opt = build(dark, name, options, mine), build(torch, name, options, theirs)
    check_same_run(my_opt, their_opt, mine, theirs, grads, TOLERANCES["float64"], device)
    assert my_opt.state[mine[0]]["step"].dtype == dark.float64


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_complex_parameters(name, device):
    """Complex parameters: Rprop treats them as pairs of reals (step_size starts at lr in
    both halves), ASGD's update is the same formula in complex arithmetic."""
    rng = np.random.default_rng(5)
    shape = (3, 5)

    def cplx():
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    init = [cplx(), cplx().T]
    grads = [[cplx(), cplx().T] for _ in range(8)]
    options = {"lr": 0.05, "t0": 2} if name == "ASGD" else {"lr": 0.05}
    mine = [dark.tensor(init[0], device=device, requires_grad=True),
            dark.tensor(init[1].T.copy(), device=device).t().requires_grad_()]
    theirs = make_params(torch, init)
    my_opt, their_opt = build(dark, name, options, mine), build(torch, name, options, theirs)
    check_same_run(my_opt, their_opt, mine, theirs, grads, TOLERANCES["float64"], device)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_tensor_lr_and_closure(name, device):
    init, grads = make_data("float64", seed=6)
    mine, theirs = make_params(dark, init, device), make_params(torch, init)
    my_opt = getattr(dark.optim, name)(mine, lr=dark.tensor(0.03, dtype=dark.float64))
    their_opt = getattr(torch.optim, name)(theirs, lr=torch.tensor(0.03, dtype=torch.float64))
    for step_grads in grads:
        results = []
        for lib, params, optimizer in ((dark, mine, my_opt), (torch, theirs, their_opt)):
            def closure(lib=lib, params=params, step_grads=step_grads):
                for p, g in zip(params, step_grads):
                    p.grad = None if g is None else (
                        dark.tensor(g, device=device) if lib is dark else torch.tensor(g))
                return (params[0] * params[0]).sum()
            results.append(float(optimizer.step(closure).detach()))
        assert results[0] == pytest.approx(results[1], rel=1e-10)
    tol = TOLERANCES["float64"]
    assert_same_params(mine, theirs, tol)
    assert_same_state_dict(my_opt.state_dict(), their_opt.state_dict(), tol)


# ----------------------------------------------------------------------------- state dict

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES[1::2], ids=case_id)
def test_state_dict_resume_is_the_uninterrupted_run(case, dtype, device):
    check_resume_against_uninterrupted(*case, dtype, device)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES[1::2], ids=case_id)
@requires_torch
def test_state_dict_resume(case, dtype, device):
    """A run resumed from a mid-run state_dict (deep copy, loaded into a fresh optimizer
    over fresh parameters) ends where torch's runs end, with torch's resumed state."""
    check_resume(*case, dtype, device)


def to_dark(value):
    """A torch state_dict as dark's: tensors copied (dtype and shape kept), the rest as is."""
    if isinstance(value, dark.Tensor):
        return dark.tensor(value.detach().cpu().numpy())
    if torch is not None and isinstance(value, torch.Tensor):
        return dark.tensor(value.detach().numpy())
    if isinstance(value, dict):
        return {k: to_dark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_dark(v) for v in value]
    return value


@pytest.mark.parametrize("case", [CASES[2], CASES[8], CASES[11]], ids=case_id)
def test_load_state_dict_casts_to_the_parameters_dtype(case, device):
    """dark's float32 checkpoint loaded for float64 parameters: state follows the
    parameter's dtype except ``step`` (so ASGD's eta and mu become float64)."""
    name, options = case
    init, grads = make_data("float32", seed=7)
    first = make_params(dark, init, device)
    optimizer = build(dark, name, options, first)
    run_steps(dark, optimizer, first, grads[:4], device)
    saved = to_dark(copy.deepcopy(optimizer.state_dict()))
    params = make_params(dark, [to_numpy(p).astype("float64") for p in first], device)
    resumed = build(dark, name, options, params)
    resumed.load_state_dict(saved)
    state = resumed.state[params[0]]
    assert state["step"].dtype == dark.float32
    for key, value in state.items():
        if key != "step":
            assert value.dtype == dark.float64, key
    run_steps(dark, resumed, params, [[None if g is None else g.astype("float64")
                                       for g in gs] for gs in grads[4:]], device)
    assert all(p.dtype == dark.float64 for p in params)


@pytest.mark.parametrize("case", [CASES[2], CASES[8], CASES[11]], ids=case_id)
@requires_torch
def test_load_state_dict_casts_like_torch(case, device):
    """A float32 run's checkpoint (torch's, so both start alike) loaded for float64
    parameters: state follows the parameter's dtype except ``step`` (so ASGD's eta and mu
    become float64), and the continued run is torch's."""
    name, options = case
    init, grads = make_data("float32", seed=7)
    first = make_params(torch, init)
    optimizer = build(torch, name, options, first)
    run_steps(torch, optimizer, first, grads[:4])
    saved = copy.deepcopy(optimizer.state_dict())
    start = [to_numpy(p).astype("float64") for p in first]
    rest = [[None if g is None else g.astype("float64") for g in gs] for gs in grads[4:]]
    mine, theirs = make_params(dark, start, device), make_params(torch, start)
    my_opt, their_opt = build(dark, name, options, mine), build(torch, name, options, theirs)
    my_opt.load_state_dict(to_dark(saved))
    their_opt.load_state_dict(saved)
    state = my_opt.state[mine[0]]
    assert state["step"].dtype == dark.float32
    if name == "ASGD":
        assert state["eta"].dtype == state["mu"].dtype == dark.float64
    run_steps(dark, my_opt, mine, rest, device)
    run_steps(torch, their_opt, theirs, rest)
    tol = TOLERANCES["float64"]
    assert_same_params(mine, theirs, tol)
    assert_same_state_dict(my_opt.state_dict(), their_opt.state_dict(), tol)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_fresh_state_dict_and_repr_match_torch(name):
    check_fresh_state_dict_and_repr(name)


def _options_after_old_checkpoint(lib, name):
    params = make_params(lib, make_data("float32")[0])
    optimizer = getattr(lib.optim, name)(params, lr=0.2)
    saved = optimizer.state_dict()
    for group in saved["param_groups"]:
        for key in ("foreach", "maximize", "differentiable", "capturable"):
            del group[key]
    optimizer.load_state_dict(saved)
    fresh = getattr(lib.optim, name)(params, lr=0.2).param_groups[0]
    return ({k: v for k, v in optimizer.param_groups[0].items() if k != "params"},
            {k: v for k, v in fresh.items() if k != "params"})


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@pytest.mark.parametrize("lib", LIBS)
def test_setstate_fills_missing_options_with_the_defaults(lib, name):
    """A checkpoint whose groups lack the newer options gets the defaults back."""
    loaded, fresh = _options_after_old_checkpoint(lib, name)
    assert loaded == fresh


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_setstate_fills_missing_options(name):
    """A checkpoint whose groups lack the newer options gets torch's defaults."""
    assert _options_after_old_checkpoint(dark, name) == _options_after_old_checkpoint(torch,
                                                                                      name)


# ----------------------------------------------------------------------------- in place

@pytest.mark.parametrize("case", [CASES[3], CASES[9]], ids=case_id)
def test_update_in_place(case, device):
    """The step writes into the parameter's own array (and its state's) and bumps its
    version; the gradient is left as it was, also with ``maximize``."""
    name, options = case
    init, grads = make_data("float32")
    params = make_params(dark, init, device)
    optimizer = build(dark, name, options, params)
    arrays = [p._data for p in params]
    run_steps(dark, optimizer, params, grads[:1], device)
    states = {k: v._data for k, v in optimizer.state[params[0]].items()}
    for step_grads in grads[1:3]:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else dark.tensor(g, device=device)
        grad_before = to_numpy(params[0].grad).copy()
        version = params[0]._version
        before = to_numpy(params[0]).copy()
        optimizer.step()
        assert params[0]._version == version + 1
        assert not np.array_equal(to_numpy(params[0]), before)
        np.testing.assert_array_equal(to_numpy(params[0].grad), grad_before)
    assert all(p._data is a for p, a in zip(params, arrays))
    assert all(p.is_leaf and p.requires_grad for p in params)
    assert all(optimizer.state[params[0]][k]._data is v for k, v in states.items())
    assert optimizer.param_groups[0]["params"][0] is params[0]


# ----------------------------------------------------------------------------- errors

ERROR_CASES = [
    ("Rprop", {"lr": -0.1}),
    ("Rprop", {"etas": (1.0, 1.2)}),
    ("Rprop", {"etas": (0.0, 1.2)}),
    ("Rprop", {"etas": (0.5, 1.0)}),
    ("Rprop", {"etas": (0.5, 0.9)}),
    ("Rprop", {"lr": -1.0, "etas": (2.0, 0.5)}),
    ("Rprop", {"alpha": 1}),
    ("ASGD", {"lr": -1e-3}),
    ("ASGD", {"weight_decay": -0.1}),
    ("ASGD", {"lr": -1.0, "weight_decay": -0.1}),
    ("ASGD", {"etas": (0.5, 1.2)}),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=case_id)
@requires_torch
def test_option_errors(case):
    check_option_error(*case)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@requires_torch
def test_tensor_lr_errors(name):
    check_tensor_lr_error(name)


def test_asgd_positional_arguments_are_torchs_order():
    """ASGD's options are positional in torch (lr, lambd, alpha, t0, weight_decay, foreach,
    maximize, differentiable, capturable)."""
    params = make_params(dark, make_data("float64")[0])
    by_position = dark.optim.ASGD(params, 0.1, 0.01, 0.5, 2, 0.1, None, True)
    by_name = dark.optim.ASGD(params, lr=0.1, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1,
                              foreach=None, maximize=True)
    assert by_position.defaults == by_name.defaults


@requires_torch
def test_asgd_positional_arguments():
    """ASGD's options are positional in torch (lr, lambd, alpha, t0, weight_decay, foreach,
    maximize, differentiable, capturable)."""
    init, grads = make_data("float64")
    args = (0.1, 0.01, 0.5, 2, 0.1, None, True)
    mine, theirs = make_params(dark, init), make_params(torch, init)
    my_opt, their_opt = dark.optim.ASGD(mine, *args), torch.optim.ASGD(theirs, *args)
    assert my_opt.defaults == their_opt.defaults
    run_steps(dark, my_opt, mine, grads)
    run_steps(torch, their_opt, theirs, grads)
    assert_same_params(mine, theirs, TOLERANCES["float64"])


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_differentiable_refused(name):
    """dark's step runs without a graph: differentiable=True is refused at construction,
    as by every dark optimizer (torch's differentiable step needs non-leaf parameters)."""
    with pytest.raises(RuntimeError, match="differentiable=True"):
        getattr(dark.optim, name)([dark.zeros(2, requires_grad=True)], differentiable=True)


@pytest.mark.parametrize("name, keys", [("Rprop", ("step",)), ("ASGD", ("step", "eta", "mu"))])
@pytest.mark.parametrize("lib", LIBS)
def test_setstate_turns_old_numbers_into_tensors(lib, name, keys):
    """Older checkpoints hold python numbers for the 0-d state entries; __setstate__ makes
    them float32 tensors (torch's dtype), with the same values."""
    params = make_params(lib, make_data("float32")[0])
    optimizer = getattr(lib.optim, name)(params, lr=0.2)
    params[0].grad = lib.ones_like(params[0])
    optimizer.step()
    state = optimizer.state[params[0]]
    numbers = {key: float(state[key]) + 0.5 for key in keys}
    state.update(numbers)
    optimizer.__setstate__(optimizer.__dict__)
    for key in keys:
        assert isinstance(state[key], lib.Tensor) and state[key].dtype == lib.float32, key
        assert float(state[key]) == pytest.approx(numbers[key], rel=1e-7), key
