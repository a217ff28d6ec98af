"""dark.random's optional compiled (numba) kernels (dark._kernels.random_numba): the float32
normal draw and randperm give the same bits, and leave the generator in the same state, as
the numpy paths they replace, over many sizes, dtypes and seeds; torch's numbers through
them; without numba (or turned off) dark takes the numpy paths; a read-only cache folder
compiles without a cache; a generator shared by threads draws each call in one piece."""
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
from dark import random as R
from dark._kernels import random_numba as K

SIZES = [16, 17, 31, 32, 100, 1000, 4095, 16 * 512 + 5, 16 * 4096 + 1]
PERM_SIZES = [2, 3, 17, 1000, 623, 624, 625, 20_000, 60_000]


@pytest.fixture
def without_numba(monkeypatch):
    """dark as where numba is not installed: importing it fails, nothing compiled is kept."""
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setattr(K, "_built", {})


@pytest.fixture
def numba_loaded(monkeypatch):
    """The compiled kernels on and loaded (so that every size takes them)."""
    pytest.importorskip("numba", reason="the compiled random kernels need numba")
    monkeypatch.setattr(K, "_enabled", [True])
    _load_all()


def _load_all():
    assert K.normal_draw32() is not None and K.randperm() is not None
    assert K.uniform(np.float32) is not None and K.uniform(np.float64) is not None
    assert K.integers32() is not None and K.bernoulli() is not None


def _bits(a) -> np.ndarray:
    a = a.numpy()
    return a.view(np.int16 if a.dtype == np.float16 else np.int32) \
        if a.dtype in (np.float16, np.float32) else a


def _draw_all(seed):
    """After manual_seed(seed): every draw the kernels serve (and the paths around them) at
    every size in turn, in one stream, and the state they leave."""
    dark.manual_seed(seed)
    out = []
    for n in SIZES:
        out.append(_bits(dark.randn(n)))
        out.append(_bits(dark.empty(n).normal_(0.5, 3.0)))
        out.append(_bits(dark.randn(2, n, dtype=dark.float32)))
        out.append(_bits(dark.randn(n, dtype=dark.float16)))
        out.append(_bits(dark.normal(dark.arange(n, dtype=dark.float32), 2.0)))
        out.append(_bits(dark.normal(dark.ones(n), dark.full((n,), 0.5))))
        out.append(_bits(dark.rand(n)))
        out.append(dark.rand(n, dtype=dark.float64).numpy())
        out.append(_bits(dark.empty(n, dtype=dark.float16).uniform_(-2.0, 3.0)))
        out.append(dark.randn(n, dtype=dark.float64).numpy())
        out.append(dark.randint(-5, 1000, (n,)).numpy())
        out.append(dark.randint(0, 2 ** 28, (n,)).numpy())
        out.append(dark.empty(n, dtype=dark.int32).random_().numpy())
        out.append(dark.empty(n, dtype=dark.int64).random_().numpy())
        out.append(dark.bernoulli(dark.full((n,), 0.3)).numpy())
        out.append(dark.empty(n).bernoulli_(0.7).numpy())
        out.append(dark.empty(n, dtype=dark.float64).bernoulli_(1e-3).numpy())
        out.append(dark.nn.functional.dropout(dark.ones(3, n), 0.25).numpy())
        out.append(dark.empty(n, dtype=dark.float64).exponential_().numpy())
    for n in PERM_SIZES:
        out.append(dark.randperm(n).numpy())
        out.append(dark.randperm(n, dtype=dark.int32).numpy())
    return out, dark.get_rng_state().numpy().tobytes()


@pytest.mark.parametrize("seed", [0, 2 ** 32 + 5])
def test_numba_paths_equal_numpy_paths(numba_loaded, monkeypatch, seed):
    compiled, compiled_state = _draw_all(seed)
    monkeypatch.setattr(K, "_enabled", [False])
    assert K.normal_draw32() is None and K.randperm() is None and K.integers32() is None
    plain, plain_state = _draw_all(seed)
    assert len(compiled) == len(plain)
    for i, (a, b) in enumerate(zip(compiled, plain)):
        np.testing.assert_array_equal(a, b, err_msg=f"draw {i}")
    assert compiled_state == plain_state


TORCH_DRAWS = {
    "randn": lambda L, n, dt: L.randn(n, dtype=dt),
    "randn_2d": lambda L, n, dt: L.randn(3, n, dtype=dt),
    "normal_": lambda L, n, dt: L.empty(n, dtype=dt).normal_(0.5, 2.0),
    "normal_numbers": lambda L, n, dt: L.normal(-1.0, 0.25, (n,), dtype=dt),
    "normal_tensor_mean": lambda L, n, dt: L.normal(L.arange(n, dtype=dt), 0.5),
    "normal_tensor_std": lambda L, n, dt: L.normal(0.5, L.arange(n, dtype=dt)),
    "normal_tensors": lambda L, n, dt: L.normal(L.arange(n, dtype=dt), L.ones(n, dtype=dt)),
    "rand": lambda L, n, dt: L.rand(n, dtype=dt),
    "uniform_": lambda L, n, dt: L.empty(n, dtype=dt).uniform_(-2.0, 3.0),
    "randint": lambda L, n, dt: L.randint(-3, 100, (n,), dtype=dt),
    "bernoulli_tensor_p": lambda L, n, dt: L.bernoulli(L.linspace(0, 1, n, dtype=dt)),
    "bernoulli_p": lambda L, n, dt: L.empty(n, dtype=dt).bernoulli_(0.3),
    "exponential_": lambda L, n, dt: L.empty(n, dtype=dt).exponential_(2.5),
}


EXACT_FLOAT64 = ("rand", "uniform_", "randint", "bernoulli_tensor_p", "bernoulli_p")


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
@requires_torch
def test_torch_numbers_on_both_paths(compiled, monkeypatch):
    """torch's float32 / float16 normals, uniforms, integers and Bernoulli draws (bit for
    bit; float64 normals and exponentials within 2 ulp: libm's log, cos and sin in torch,
    numpy's here, on either path) and randperm of every dtype, small and large, and the same
    generator state after, through the compiled kernels and without."""
    if compiled:
        pytest.importorskip("numba", reason="the compiled random kernels need numba")
        monkeypatch.setattr(K, "_enabled", [True])
        _load_all()
    else:
        monkeypatch.setattr(K, "_enabled", [False])
    for seed in (5,):
        for name, draw in TORCH_DRAWS.items():
            for dt in ("float32", "float16", "float64"):
                for n in (16, 17, 33, 1000, 16 * 512 + 3):
                    torch.manual_seed(seed)
                    dark.manual_seed(seed)
                    ours = draw(dark, n, getattr(dark, dt)).numpy()
                    theirs = draw(torch, n, getattr(torch, dt)).numpy()
                    where = f"{name} {dt} n={n} seed={seed}"
                    if dt == "float64" and name not in EXACT_FLOAT64:
                        np.testing.assert_allclose(ours, theirs, rtol=5e-16, atol=5e-16,
                                                   err_msg=where)
                    else:
                        np.testing.assert_array_equal(ours, theirs, err_msg=where)
                    assert np.array_equal(dark.get_rng_state().numpy(),
                                          torch.get_rng_state().numpy()), where
        for n in (2, 3, 624, 1000, 20_000, 70_000):
            for dt in ("int64", "int32", "int16", "float32", "float64"):
                if dt == "int16" and n > 2 ** 15:
                    continue
                torch.manual_seed(seed)
                dark.manual_seed(seed)
                np.testing.assert_array_equal(
                    dark.randperm(n, dtype=getattr(dark, dt)).numpy(),
                    torch.randperm(n, dtype=getattr(torch, dt)).numpy(), err_msg=f"{n} {dt}")
                assert np.array_equal(dark.get_rng_state().numpy(),
                                      torch.get_rng_state().numpy())


def test_compiled_normal_kernel_on_every_uniform(numba_loaded):
    """The compiled transform against the numpy kernel over every one of the 2**24 uniforms
    the log and the sincos each take (as tests/test_random_normal_kernel.py does for the
    numpy kernel against the plain emulation); with mean / std on every 7th block."""
    rows = np.arange(1 << 24, dtype=np.int32).reshape(-1, 8)
    raw = np.concatenate([rows, rows[::-1]], axis=1).ravel()
    fill = K.normal_fill32()
    numpy_fill = R._NormalFill32(R._NORMAL_ROWS)
    step = 16 * R._NORMAL_ROWS
    got = np.empty((R._NORMAL_ROWS, 16), np.float32)
    ref = np.empty((R._NORMAL_ROWS, 16), np.float32)
    for mean, std, stride in ((None, None, 1), (0.5, 3.0, 7)):
        for start in range(0, raw.size, stride * step):
            fill(raw[start:start + step], got, mean, std)
            numpy_fill(raw[start:start + step], ref, mean, std)
            bad = np.flatnonzero(got.view(np.int32) != ref.view(np.int32))
            assert bad.size == 0, (mean, start, bad[:5], got.ravel()[bad[:5]],
                                   ref.ravel()[bad[:5]])


def test_compiled_draws_continue_numpys_generator(numba_loaded):
    """The compiled draws take numpy's MT19937 state in place: drawn through the kernel, the
    generator is where random_raw of as many outputs leaves it, across regenerations, with
    and without a tail's discarded draws."""
    for start in (0, 1, 623, 624):
        bits, other = np.random.MT19937(3), np.random.MT19937(3)
        bits.random_raw(start)
        other.random_raw(start)
        out = np.empty((100, 16), np.float32)
        K.normal_draw32()(bits, out)
        other.random_raw(1600)
        assert bits.state["state"]["pos"] == other.state["state"]["pos"]
        np.testing.assert_array_equal(bits.state["state"]["key"], other.state["state"]["key"])
        np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))
        K.normal_draw32()(bits, np.empty(16 * 700 + 9, np.float32), discard=9)
        other.random_raw(16 * 700 + 9 + 16)
        np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))
        K.randperm()(bits, 1000)
        other.random_raw(999)
        np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))
        for draw, out, used in ((K.uniform(np.float32), np.empty(9000, np.float32), 9000),
                                (K.uniform(np.float64), np.empty(5000), 10000)):
            draw(bits, out)
            other.random_raw(used)
            np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))
        K.integers32()(bits, np.empty(9000, np.int64), 7, -3)
        other.random_raw(9000)
        np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))
        for out in (np.empty(5000, np.float32), np.empty(5000)):
            K.bernoulli()(bits, out, 0.5)
            other.random_raw(10000)
            np.testing.assert_array_equal(bits.random_raw(5), other.random_raw(5))


def test_fallback_without_numba(without_numba):
    """Without numba the kernels are None and the draws take the numpy paths: torch's
    numbers (these values are torch 2.13's, checked in tests/test_random.py)."""
    assert K.normal_draw32() is None and K.randperm() is None and K.normal_fill32() is None
    dark.manual_seed(0)
    np.testing.assert_allclose(dark.randn(16).numpy()[:5],
                               [-1.1258398, -1.1523602, -0.25057858, -0.4338788, 0.84871036])
    big = dark.randn(1 << 17)
    assert big.shape == (1 << 17,)
    assert "normal_draw32" in K._built and K._built["normal_draw32"] is None
    dark.manual_seed(0)
    assert dark.randperm(20_000).numpy().sum() == 20_000 * 19_999 // 2
    assert "randperm" in K._built and K._built["randperm"] is None


@pytest.mark.parametrize("numba_in", [False, True])
def test_loaded_once_the_numpy_draws_would_have_cost_the_load(monkeypatch, numba_in):
    """A kernel is loaded once the numpy draws of its kind would have cost the load by
    R._NUMBA_SAVES's estimates (R._NUMBA_LOAD_TIME, or R._NUMBA_NEXT_LOAD_TIME once numba is
    in); only that kind's; then every size takes it."""
    pytest.importorskip("numba", reason="the compiled random kernels need numba")
    monkeypatch.setattr(K, "_enabled", [True])
    monkeypatch.setattr(K, "_built", {})
    for name in ("_mt_fill_jit", "_transform_jit"):
        monkeypatch.setattr(K, name, getattr(K, name))
    monkeypatch.setattr(K, "imported", lambda: numba_in)
    monkeypatch.setattr(R, "_numba_saved", dict.fromkeys(R._NUMBA_SAVES, 0.0))
    n = 1000
    call, element = R._NUMBA_SAVES["normal"]
    bar = "_NUMBA_NEXT_LOAD_TIME" if numba_in else "_NUMBA_LOAD_TIME"
    monkeypatch.setattr(R, bar, 9.5 * (call + element * n))  # the 10th draw pays
    for _ in range(9):
        dark.randn(n)
        dark.rand(n)
    assert "normal_draw32" not in K._built
    dark.randn(n)
    assert K._built["normal_draw32"] is not None
    assert "randperm" not in K._built and "uniform24" not in K._built
    dark.manual_seed(3)
    ours = dark.randn(16 * 5 + 3).numpy()
    monkeypatch.setattr(K, "_enabled", [False])
    dark.manual_seed(3)
    np.testing.assert_array_equal(ours, dark.randn(16 * 5 + 3).numpy())


def test_turned_off_by_the_environment():
    """DARK_NUMBA=0: no compiled kernel, whatever is drawn (a fresh process)."""
    code = ("import dark; from dark._kernels import random_numba as K; dark.randn(1 << 17); "
            "dark.randperm(1 << 15); import sys; print(K.normal_draw32(), K.randperm(), "
            "'numba' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "DARK_NUMBA": "0"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None", "False"]


def test_read_only_cache_folders_compile_without_a_cache(monkeypatch):
    """Where no cache folder is writable (numba: "cannot cache function ...: no locator
    available"), the kernels compile without a cache, and draw the same numbers."""
    numba = pytest.importorskip("numba", reason="the compiled random kernels need numba")
    from numba.core import caching

    def read_only(self):
        raise PermissionError(13, "Permission denied", self.get_cache_path())

    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", read_only)
    with pytest.raises(RuntimeError, match="cannot cache function"):
        numba.njit(cache=True)(K._mt_fill)  # what a plain cache=True meets here
    monkeypatch.setattr(K, "_enabled", [True])
    monkeypatch.setattr(K, "_built", {})
    monkeypatch.setattr(K, "_mt_fill_jit", K._mt_fill_jit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fill = K._kernel("mt_fill")
    assert fill is not None and type(fill._cache).__name__ == "NullCache"
    bits = np.random.MT19937(11)
    other = np.random.MT19937(11)
    out = np.empty(1500, np.uint32)
    words = K._state_words(bits)
    words[624] = fill(words[:624], np.int64(words[624]), out)
    np.testing.assert_array_equal(out, other.random_raw(1500))
    np.testing.assert_array_equal(bits.random_raw(3), other.random_raw(3))


@pytest.mark.parametrize("kind", ["randn", "normal_", "randperm"])
@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
def test_threads_sharing_a_generator(compiled, kind, monkeypatch):
    """Threads drawing from one generator at once: each draw is one piece of the stream (a
    draw equals one of the draws made in turn from the same seed), nothing drawn twice or
    lost, and the generator ends where the draws in turn leave it."""
    if compiled:
        pytest.importorskip("numba", reason="the compiled random kernels need numba")
        monkeypatch.setattr(K, "_enabled", [True])
        assert K.normal_draw32() is not None and K.randperm() is not None
    else:
        monkeypatch.setattr(K, "_enabled", [False])
    threads, per_thread = 4, 8
    generator = dark.Generator()
    draw = {"randn": lambda: dark.randn(16 * 20_000 + 5, generator=generator),
            "normal_": lambda: dark.empty(16 * 20_000).normal_(2.0, 0.5, generator=generator),
            "randperm": lambda: dark.randperm(100_000, generator=generator)}[kind]
    generator.manual_seed(9)
    in_turn = {draw().numpy().tobytes() for _ in range(threads * per_thread)}
    end_state = generator.get_state().numpy()
    generator.manual_seed(9)
    results = [None] * threads
    start = threading.Barrier(threads)

    def work(i):
        start.wait()
        results[i] = [draw().numpy().tobytes() for _ in range(per_thread)]

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    got = [one for result in results for one in result]
    assert len(got) == threads * per_thread and set(got) == in_turn
    np.testing.assert_array_equal(generator.get_state().numpy(), end_state)


def test_kernels_reject_wrong_output(numba_loaded):
    with pytest.raises(ValueError, match="C-contiguous float32 array of 16"):
        K.normal_draw32()(np.random.MT19937(0), np.empty((4, 16), np.float64))
    with pytest.raises(ValueError, match="C-contiguous float32 array of 16"):
        K.normal_draw32()(np.random.MT19937(0), np.empty((16, 16), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="discard=16"):
        K.normal_draw32()(np.random.MT19937(0), np.empty(20, np.float32), discard=16)
    with pytest.raises(ValueError, match="rows of 16"):
        K.normal_fill32()(np.zeros(32, np.int32), np.empty((2, 16), np.float64))
    with pytest.raises(ValueError, match="span=0, low=1"):
        K.integers32()(np.random.MT19937(0), np.empty(4, np.int64), 0, 1)
