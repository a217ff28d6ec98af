"""dark._parallel: set_num_threads / get_num_threads (torch's), the pool that spreads an op's
chunks over threads with the BLAS held to one thread, and the matmul every CPU op uses."""
import multiprocessing
import threading

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.nn.functional as F
from dark import _parallel

needs_blas = pytest.mark.skipif(not _parallel._blas_control(),
                                reason="numpy's BLAS is not an OpenBLAS dark can control")


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = dark.get_num_threads()
    yield
    dark.set_num_threads(before)


def test_get_num_threads_is_a_positive_int():
    count = dark.get_num_threads()
    assert isinstance(count, int) and count >= 1


@pytest.mark.parametrize("value, message", [
    (0, "set_num_threads expects a positive integer"),
    (-1, "set_num_threads expects a positive integer"),
    (1.5, "set_num_threads expects an int, but got float"),
    ("2", "set_num_threads expects an int, but got str"),
    (True, "set_num_threads expects an int, but got bool")])
@pytest.mark.parametrize("lib", LIBS)
def test_set_num_threads_rejects_what_torch_rejects(lib, value, message, threads):
    with pytest.raises(RuntimeError) as error:
        lib.set_num_threads(value)
    assert str(error.value) == message


def test_set_num_threads_takes_numpy_integers(threads):
    dark.set_num_threads(np.int64(1))
    assert dark.get_num_threads() == 1 and type(dark.get_num_threads()) is int


@needs_blas
def test_set_num_threads_sets_the_pool_and_blas(threads):
    dark.set_num_threads(3)
    assert dark.get_num_threads() == 3
    assert _parallel._blas[1]() == 3
    assert _parallel.workers() == 3
    dark.set_num_threads(1)
    assert _parallel.workers() == 1 and _parallel._blas[1]() == 1


@needs_blas
def test_parallel_map_keeps_order_and_restores_blas(threads):
    dark.set_num_threads(2)
    seen = []

    def work(item):
        seen.append((item, _parallel._blas[1]()))
        return item * item

    assert _parallel.parallel_map(work, range(7)) == [i * i for i in range(7)]
    assert sorted(item for item, _ in seen) == list(range(7))
    assert all(blas == 1 for _, blas in seen)  # held to one thread inside
    assert _parallel._blas[1]() == 2           # and given back after


@needs_blas
def test_parallel_map_uses_several_threads(threads):
    dark.set_num_threads(2)
    barrier = threading.Barrier(2, timeout=10)
    names = set()

    def work(item):
        names.add(threading.current_thread().name)
        barrier.wait()  # both items must be running at once, or this times out
        return item

    assert _parallel.parallel_map(work, [0, 1]) == [0, 1]
    assert len(names) == 2


@needs_blas
def test_parallel_map_raises_the_first_error_after_all_calls(threads):
    dark.set_num_threads(2)
    done = []

    def work(item):
        if item in (1, 3):
            raise ValueError(f"item {item}")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="item 1"):
        _parallel.parallel_map(work, range(6))
    assert sorted(done) == [0, 2, 4, 5]
    assert _parallel._blas[1]() == 2
    assert _parallel.parallel_map(lambda item: item + 1, [1, 2]) == [2, 3]  # still usable


@needs_blas
def test_nested_parallel_map_runs_in_order_in_its_thread(threads):
    dark.set_num_threads(2)

    def outer(item):
        assert _parallel.workers() == 1
        return _parallel.parallel_map(lambda inner: (item, inner), range(3))

    assert _parallel.parallel_map(outer, range(2)) == [[(i, j) for j in range(3)]
                                                        for i in range(2)]


@pytest.mark.parametrize("shape_a, shape_b", [
    ((300, 700), (700, 200)),      # rows split
    ((40, 900), (900, 1500)),      # columns split
    ((6, 90, 300), (6, 300, 80)),  # batch split
    ((6, 90, 300), (300, 800)),    # batch against one matrix
    ((2, 300, 900), (2, 900, 90)),
    ((5, 7), (7, 3)),              # small: whole, in this thread
    ((4, 1, 30, 40), (3, 40, 20)),  # broadcast batch: whole
    ((30,), (30, 4)), ((4, 30), (30,)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_equals_numpy(shape_a, shape_b, dtype, threads, monkeypatch):
    dark.set_num_threads(2)
    monkeypatch.setattr(_parallel, "_SPLIT_MULTIPLY_ADDS", 1 << 12)  # split these sizes
    monkeypatch.setattr(_parallel, "_last_parallel", np.inf)  # as if the pool were in use
    maps = []
    original = _parallel.parallel_map
    monkeypatch.setattr(_parallel, "parallel_map",
                        lambda function, items: maps.append(1) or original(function, items))
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    got = _parallel.matmul(a, b)
    expected = np.matmul(a, b)
    split = len(shape_a) >= 2 and len(shape_b) >= 2 and min(shape_a[-2], shape_b[-1]) > 7 \
        and (shape_a[:-2] == shape_b[:-2] or len(shape_b) == 2)
    assert bool(maps) == (split and _parallel.workers() > 1)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


@needs_blas
def test_conv_same_values_on_one_and_two_threads(threads):
    rng = np.random.default_rng(0)
    x = dark.tensor(rng.standard_normal((48, 16, 14, 14), dtype=np.float32),
                    requires_grad=True)
    conv = dark.nn.Conv2d(16, 32, 5, padding=2)
    results = []
    for count in (1, 2):
        dark.set_num_threads(count)
        for p in (x, *conv.parameters()):
            p.grad = None
        out = F.max_pool2d(F.relu(conv(x)), 2)
        out.square().sum().backward()
        results.append((out.detach().numpy().copy(), x.grad.numpy().copy(),
                        conv.weight.grad.numpy().copy()))
    (out1, gx1, gw1), (out2, gx2, gw2) = results
    np.testing.assert_array_equal(out1, out2)  # each chunk computes its own samples
    np.testing.assert_array_equal(gx1, gx2)
    # the weight's gradient sums per-chunk products: chunks differ with the thread count
    np.testing.assert_allclose(gw1, gw2, rtol=1e-5, atol=1e-3)


def _conv_in_child(queue):
    x = dark.randn(32, 16, 14, 14)
    weight = dark.randn(32, 16, 5, 5)
    queue.put(float(F.conv2d(x, weight, padding=2).sum()))


@needs_blas
@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="no fork on this platform")
def test_forked_child_runs_parallel_ops(threads):
    """A forked child (a DataLoader worker) has none of the parent's pool threads: its
    parallel ops must start their own instead of waiting on threads that do not exist."""
    dark.set_num_threads(2)
    F.conv2d(dark.randn(32, 16, 14, 14), dark.randn(32, 16, 5, 5), padding=2)  # pool started
    assert _parallel._workers
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_conv_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0, "the forked child hung or failed"
    assert np.isfinite(queue.get(timeout=5))


@needs_blas
def test_pool_and_relu_split_over_threads_give_the_same_values(threads, monkeypatch):
    """Large enough for parts in two threads (_parallel.split; ReLU's bound lowered to
    split it too); the values and gradients equal the whole-array computation's bit for
    bit."""
    from dark._kernels import elementwise

    monkeypatch.setattr(elementwise, "_ELEMENTWISE_PART_ENTRIES", 1 << 17)
    calls = []
    original = _parallel.map_ranges
    monkeypatch.setattr(_parallel, "map_ranges",
                        lambda function, ranges: calls.append(len(ranges)) or
                        original(function, ranges))
    data, upstream = _pool_relu_arrays()
    results = []
    for count in (1, 2):
        dark.set_num_threads(count)
        assert len(_parallel.split(data.shape[0], data.size)) == count
        x = dark.tensor(data, requires_grad=True)
        out = F.max_pool2d(F.relu(x), 2)
        out.backward(dark.tensor(upstream))
        results.append((out.detach().numpy(), x.grad.numpy()))
        # relu fwd, pool fwd, pool bwd (its scatter), relu bwd: each in `count` parts
        assert calls == [count] * 4
        calls.clear()
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def _pool_relu_arrays():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((64, 16, 28, 28)).astype(np.float32)
    data[0, 0, 0, :4] = [np.nan, 1.0, 1.0, np.nan]  # NaN windows and ties
    upstream = rng.standard_normal((64, 16, 14, 14)).astype(np.float32)
    upstream[1, 0, 0, 0] = np.inf  # an inf gradient on a non-argmax stays out of the rest
    return data, upstream


@requires_torch
def test_pool_and_relu_of_nans_ties_and_infs_give_torchs_values():
    data, upstream = _pool_relu_arrays()
    results = []
    for lib in (dark, torch):
        x = lib.tensor(data, requires_grad=True)
        out = lib.nn.functional.max_pool2d(lib.relu(x), 2)
        out.backward(lib.tensor(upstream))
        results.append((out.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_in_parts_falls_back_to_one_call_for_strided_arrays(threads):
    from dark._kernels.elementwise import in_parts

    values = np.arange(2 * 400_000, dtype=np.float32).reshape(2, -1)[:, ::2]
    out = np.empty(values.shape, dtype=np.float32)
    in_parts(lambda a, out: np.negative(a, out=out), out, values)
    np.testing.assert_array_equal(out, -values)


@needs_blas
def test_matmul_keeps_blas_threads_while_the_pool_is_idle(threads, monkeypatch):
    """With no parallel op for POOL_IN_USE_SECONDS a product runs on the BLAS's own threads;
    right after one, held to one thread (split over the pool when large)."""
    dark.set_num_threads(2)
    seen = []
    monkeypatch.setattr(_parallel, "numpy_matmul",
                        lambda a, b, **kwargs: seen.append(_parallel._blas[1]()) or
                        np.matmul(a, b, **kwargs))
    a = np.ones((8, 8), dtype=np.float32)
    monkeypatch.setattr(_parallel, "_last_parallel", -np.inf)
    _parallel.matmul(a, a)
    _parallel.parallel_map(lambda item: item, [0, 1])  # the pool is in use now
    _parallel.matmul(a, a)
    assert seen == [2, 1]


@needs_blas
def test_splits_products_says_when_matmul_would_split(threads, monkeypatch):
    """splits_products: the pool in use, two threads, at least _SPLIT_MULTIPLY_ADDS; and
    matmul then does split such a product (its parts reach numpy_matmul as slices)."""
    dark.set_num_threads(2)
    large = _parallel._SPLIT_MULTIPLY_ADDS
    monkeypatch.setattr(_parallel, "_last_parallel", -np.inf)
    assert not _parallel.splits_products(large)
    monkeypatch.setattr(_parallel, "_last_parallel", _parallel.time.monotonic())
    assert _parallel.splits_products(large) and not _parallel.splits_products(large - 1)
    parts = []
    monkeypatch.setattr(_parallel, "numpy_matmul", lambda a, b, **kwargs: parts.append(
        a.shape) or np.matmul(a, b, **kwargs))
    a = np.ones((256, 512), dtype=np.float32)
    b = np.ones((512, large // (256 * 512)), dtype=np.float32)
    _parallel.matmul(a, b)
    assert len(parts) == 2
    dark.set_num_threads(1)
    assert not _parallel.splits_products(large)


def test_another_blas_is_left_alone(monkeypatch):
    """numpy built on MKL or Accelerate: no OpenBLAS to hold, so no pool; ops run in order."""
    blas = getattr(np.__config__, "CONFIG", {}).get("Build Dependencies", {}).get("blas")
    if not isinstance(blas, dict) or "name" not in blas:
        pytest.skip("this numpy has no structured build config")
    monkeypatch.setitem(blas, "name", "mkl-sdl")
    assert _parallel._find_blas() is False
    monkeypatch.setattr(_parallel, "_blas", False)
    assert _parallel.workers() == 1
    assert _parallel.parallel_map(lambda item: item * 2, [1, 2, 3]) == [2, 4, 6]
    x = np.random.default_rng(0).standard_normal((64, 16, 14, 14)).astype(np.float32)
    weight = np.random.default_rng(1).standard_normal((32, 16, 5, 5)).astype(np.float32)
    out = F.conv2d(dark.tensor(x), dark.tensor(weight), padding=2)
    expected = F.conv2d(dark.tensor(x[:1]), dark.tensor(weight), padding=2)
    np.testing.assert_allclose(out.numpy()[:1], expected.numpy(), rtol=1e-5, atol=1e-4)
