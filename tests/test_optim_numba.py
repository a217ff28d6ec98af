"""The optimizers' compiled steps (dark._kernels.optim_numba: SGD's momentum step, Adam's and
AdamW's): the same bits as the numpy path (the kernels turned off), on large float32 and
float64 parameters, over several steps with a changing learning rate, for every option the
kernels take; the kernel is really the one that ran; and without numba (or turned off) the
numpy path serves."""
import numpy as np
import pytest

import dark
from dark._kernels import optim_numba

SHAPES = [(300, 70), (optim_numba.MIN_ENTRIES + 3,), (5, 7)]  # two large, one small


CASES = [  # (optimizer, options, the kernel, the state it keeps)
    ("SGD", {"momentum": 0.9}, "sgd_momentum", ("momentum_buffer",)),
    ("Adam", {}, "adam", ("exp_avg", "exp_avg_sq")),
    ("Adam", {"betas": (0.3, 0.9), "weight_decay": 0.1, "maximize": True}, "adam",
     ("exp_avg", "exp_avg_sq")),
    ("Adam", {"weight_decay": 0.2}, "adam", ("exp_avg", "exp_avg_sq")),
    ("AdamW", {}, "adam", ("exp_avg", "exp_avg_sq")),
    ("AdamW", {"betas": (0.6, 0.99), "maximize": True}, "adam", ("exp_avg", "exp_avg_sq")),
]


def _run(dtype, compiled: bool, name="SGD", options=None, state=("momentum_buffer",),
         steps: int = 5):
    options = {"momentum": 0.9} if options is None else options
    previous = optim_numba.set_enabled(compiled)
    try:
        rng = np.random.default_rng(5)
        params = [dark.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
                  for s in SHAPES]
        optimizer = getattr(dark.optim, name)(params, lr=0.05, **options)
        for step in range(steps):
            for p in params:
                p.grad = dark.tensor(rng.standard_normal(p.shape).astype(dtype))
            optimizer.param_groups[0]["lr"] = 0.05 / (step + 1)
            optimizer.step()
        buffers = [optimizer.state[p][key].numpy() for p in params for key in state]
        return [p.detach().numpy() for p in params], buffers
    finally:
        optim_numba.set_enabled(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}{c[1]}")
def test_compiled_step_is_the_numpy_path_bit_for_bit(case, dtype, monkeypatch):
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    name, options, kernel_name, state = case
    plain = _run(dtype, False, name, options, state)
    calls = []
    kernel = getattr(optim_numba, kernel_name)()
    assert kernel is not None

    def counted(*args):
        calls.append(args[0].size)
        return kernel(*args)

    monkeypatch.setattr(optim_numba, kernel_name, lambda entries: counted)
    compiled = _run(dtype, True, name, options, state)
    # the two large parameters, on every step (SGD: but the first, the buffer's copy)
    assert sorted(set(calls)) == sorted(int(np.prod(s)) for s in SHAPES[:2])
    assert len(calls) == 2 * (4 if name == "SGD" else 5)
    for mine, expected in zip(compiled[0] + compiled[1], plain[0] + plain[1]):
        assert mine.dtype == expected.dtype
        np.testing.assert_array_equal(mine, expected)


def test_numba_is_loaded_only_after_enough_work(monkeypatch):
    """A short program never imports numba: the kernels come once the large updates have
    streamed LOAD_AFTER_ENTRIES entries."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    monkeypatch.setattr(optim_numba._KERNELS, "compiled", {})
    monkeypatch.setattr(optim_numba._KERNELS, "streamed", 0)
    first = optim_numba.LOAD_AFTER_ENTRIES - 10
    assert optim_numba.sgd_momentum(first) is None
    assert optim_numba.adam(5) is None
    assert optim_numba._KERNELS.compiled == {}
    assert optim_numba.sgd_momentum(5) is not None
    assert optim_numba.adam(1) is not None


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


def test_read_only_cache_folders_compile_without_a_cache(monkeypatch):
    """Where no cache folder is writable (numba: "cannot cache function ...: no locator
    available"), the update kernels compile without a cache (dark._kernels.numba_jit, shared
    with the random kernels) instead of leaving the optimizers on numpy."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    import warnings

    from numba.core import caching

    def read_only(self):
        raise PermissionError(13, "Permission denied", self.get_cache_path())

    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", read_only)
    monkeypatch.setattr(optim_numba._KERNELS, "enabled", True)
    monkeypatch.setattr(optim_numba._KERNELS, "compiled", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = optim_numba.sgd_momentum()
    assert step is not None and type(step._cache).__name__ == "NullCache"
    param, grad, buf = (np.linspace(-1, 1, 64, dtype=np.float32) for _ in range(3))
    expected_buf = buf * np.float32(0.9) + grad
    step(param, grad, buf, 0.9, -0.1)
    np.testing.assert_array_equal(buf, expected_buf)


@pytest.mark.parametrize("case", CASES[:2], ids=lambda c: c[0])
def test_compiled_update_in_parts_is_the_whole_update(case, monkeypatch):
    """Where dark's pool is in use (a network with parallel ops), a large parameter's
    compiled update runs in parts over dark's threads: the same bits as the whole update."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    from dark import _parallel

    name, options, kernel_name, state = case
    monkeypatch.setattr(optim_numba, "PART_ENTRIES", 1 << 10)
    previous = dark.get_num_threads()
    dark.set_num_threads(2)
    try:
        results = []
        kernel = getattr(optim_numba, kernel_name)()
        for in_use in (False, True):
            monkeypatch.setattr(_parallel, "pool_in_use", lambda in_use=in_use: in_use)
            calls = []

            def counted(*args, kernel=kernel, calls=calls):
                calls.append(args[0].size)
                return kernel(*args)

            monkeypatch.setattr(optim_numba, kernel_name, lambda entries, f=counted: f)
            results.append(_run(np.float32, True, name, options, state))
            sizes = (21000, optim_numba.MIN_ENTRIES + 3)  # the two large parameters
            halves = {part for size in sizes for part in ((size + 1) // 2, size // 2)}
            assert set(calls) == (halves if in_use else set(sizes))
        for mine, expected in zip(results[1][0] + results[1][1],
                                  results[0][0] + results[0][1]):
            np.testing.assert_array_equal(mine, expected)
    finally:
        dark.set_num_threads(previous)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_compiled_step_takes_a_read_only_gradient(name):
    """A gradient the user set from read-only numpy data: the kernels only read it."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    assert optim_numba.sgd_momentum() is not None and optim_numba.adam() is not None
    results = []
    for compiled in (True, False):
        previous = optim_numba.set_enabled(compiled)
        try:
            param = dark.ones(optim_numba.MIN_ENTRIES + 5, requires_grad=True)
            grad = np.linspace(-1, 1, param.numel(), dtype=np.float32)
            grad.flags.writeable = False
            optimizer = getattr(dark.optim, name)([param], lr=0.1, **(
                {"momentum": 0.9} if name == "SGD" else {}))
            for _ in range(2):  # SGD's first step copies the gradient into its buffer
                param.grad = dark.from_numpy(grad)
                optimizer.step()
            results.append(param.detach().numpy())
        finally:
            optim_numba.set_enabled(previous)
    np.testing.assert_array_equal(*results)
