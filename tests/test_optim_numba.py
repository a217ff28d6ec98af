"""SGD's compiled momentum step (dark._kernels.optim_numba): the same bits as the numpy path
(the kernel turned off), on large float32 and float64 parameters, over several steps with a
changing learning rate; the kernel is really the one that ran; and without numba (or turned
off) the numpy path serves."""
import numpy as np
import pytest

import dark
from dark._kernels import optim_numba

SHAPES = [(300, 70), (optim_numba.MIN_ENTRIES + 3,), (5, 7)]  # two large, one small


def _run(dtype, compiled: bool, steps: int = 5):
    previous = optim_numba.set_enabled(compiled)
    try:
        rng = np.random.default_rng(5)
        params = [dark.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
                  for s in SHAPES]
        optimizer = dark.optim.SGD(params, lr=0.05, momentum=0.9)
        for step in range(steps):
            for p in params:
                p.grad = dark.tensor(rng.standard_normal(p.shape).astype(dtype))
            optimizer.param_groups[0]["lr"] = 0.05 / (step + 1)
            optimizer.step()
        buffers = [optimizer.state[p]["momentum_buffer"].numpy() for p in params]
        return [p.detach().numpy() for p in params], buffers
    finally:
        optim_numba.set_enabled(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_momentum_step_is_the_numpy_path_bit_for_bit(dtype, monkeypatch):
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    calls = []
    kernel = optim_numba.sgd_momentum()
    assert kernel is not None

    def counted(*args):
        calls.append(args[0].size)
        return kernel(*args)

    monkeypatch.setattr(optim_numba, "sgd_momentum", lambda: counted)
    compiled = _run(dtype, compiled=True)
    # the two large parameters, on every step but the first (the buffer's copy)
    assert sorted(set(calls)) == sorted(int(np.prod(s)) for s in SHAPES[:2])
    assert len(calls) == 2 * 4
    plain = _run(dtype, compiled=False)
    for mine, expected in zip(compiled[0] + compiled[1], plain[0] + plain[1]):
        assert mine.dtype == expected.dtype
        np.testing.assert_array_equal(mine, expected)


def test_turned_off_or_without_numba_there_is_no_kernel():
    previous = optim_numba.set_enabled(False)
    try:
        assert optim_numba.sgd_momentum() is None
    finally:
        optim_numba.set_enabled(previous)
    try:
        import numba  # noqa: F401
    except ImportError:
        assert optim_numba.sgd_momentum() is None
        params, buffers = _run(np.float32, compiled=True)  # the numpy path serves
        assert all(np.isfinite(p).all() for p in params)


def test_compiled_momentum_follows_torch():
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    init = rng.standard_normal((300, 70)).astype(np.float32)
    mine = dark.tensor(init, requires_grad=True)
    theirs = torch.tensor(init, requires_grad=True)
    my_opt = dark.optim.SGD([mine], lr=0.1, momentum=0.8)
    their_opt = torch.optim.SGD([theirs], lr=0.1, momentum=0.8)
    for _ in range(6):
        grad = rng.standard_normal(init.shape).astype(np.float32)
        mine.grad, theirs.grad = dark.tensor(grad), torch.tensor(grad)
        my_opt.step()
        their_opt.step()
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
