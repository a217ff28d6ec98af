"""Random numbers: seeding and determinism, generator state, distributions (statistical
bounds on many samples), dtypes/shapes against PyTorch, in-place methods and errors, and
PyTorch's CPU streams themselves: the same seed gives torch's values (a table of draws x
dtypes x sizes x seeds), and generator states pass between dark and torch."""
import math

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark import random as dark_random
from dark._kernels import random_numba

N = 100_000


def host(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- determinism

DRAWS = [
    lambda device, g=None: dark.rand(5, device=device, generator=g),
    lambda device, g=None: dark.randn(2, 3, device=device, generator=g),
    lambda device, g=None: dark.randint(0, 1000, (7,), device=device, generator=g),
    lambda device, g=None: dark.randperm(20, device=device, generator=g),
    lambda device, g=None: dark.normal(2.0, 3.0, (4,), device=device, generator=g),
    lambda device, g=None: dark.bernoulli(dark.full((50,), 0.5, device=device), generator=g),
    lambda device, g=None: dark.multinomial(dark.ones(3, 10, device=device), 4, generator=g),
    lambda device, g=None: dark.empty(6, device=device).uniform_(-1, 1, generator=g),
    lambda device, g=None: dark.empty(6, device=device).normal_(generator=g),
    lambda device, g=None: dark.empty(6, device=device).exponential_(generator=g),
]


@pytest.mark.parametrize("index", range(len(DRAWS)))
def test_manual_seed_repeats(index, device):
    draw = DRAWS[index]
    dark.manual_seed(1234)
    first = [host(draw(device)) for _ in range(2)]
    dark.manual_seed(1234)
    second = [host(draw(device)) for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    dark.manual_seed(4321)
    other = host(draw(device))
    assert not np.array_equal(first[0], other)


@pytest.mark.parametrize("index", range(len(DRAWS)))
def test_generator_argument(index, device):
    draw = DRAWS[index]
    a = dark.Generator(device).manual_seed(7)
    b = dark.Generator(device).manual_seed(7)
    dark.manual_seed(0)
    np.testing.assert_array_equal(host(draw(device, a)), host(draw(device, b)))
    # a private generator leaves the default one alone
    dark.manual_seed(0)
    expected = host(draw(device))
    dark.manual_seed(0)
    draw(device, dark.Generator(device).manual_seed(99))
    np.testing.assert_array_equal(host(draw(device)), expected)


def test_same_seed_same_numbers_across_runs():
    import subprocess
    import sys

    code = ("import dark; dark.manual_seed(42); "
            "print(dark.rand(3).tolist(), dark.randint(0, 100, (3,)).tolist())")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip()
    dark.manual_seed(42)
    assert runs[0].strip() == str(dark.rand(3).tolist()) + " " + str(
        dark.randint(0, 100, (3,)).tolist())


def test_seed_functions():
    generator = dark.manual_seed(5)
    assert generator is dark.default_generator
    assert isinstance(generator, dark.Generator)
    assert dark.initial_seed() == 5
    value = dark.seed()
    assert isinstance(value, int) and dark.initial_seed() == value
    g = dark.Generator()
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    assert g.seed() == g.initial_seed()
    assert g.device == dark.device("cpu")


@pytest.mark.parametrize("lib", LIBS)
def test_seeds_torch_gives(lib):
    """-1 wraps to 2**64 - 1; a new Generator starts from torch's default seed; 2**64 does
    not fit."""
    try:
        assert lib.manual_seed(-1).initial_seed() == 2 ** 64 - 1
        assert lib.Generator().initial_seed() == 67280421310721
        with pytest.raises(ValueError, match="Overflow"):
            lib.manual_seed(2 ** 64)
    finally:
        lib.manual_seed(0)


def test_get_set_state():
    g = dark.Generator().manual_seed(11)
    dark.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype is dark.uint8 and state.dim() == 1
    first = dark.rand(4, generator=g)
    g.manual_seed(0)
    dark.rand(10, generator=g)
    g.set_state(state)
    assert g.initial_seed() == 11
    np.testing.assert_array_equal(host(dark.rand(4, generator=g)), host(first))
    # the default generator through get_rng_state / set_rng_state
    saved = dark.get_rng_state()
    expected = dark.randn(5)
    dark.set_rng_state(saved)
    np.testing.assert_array_equal(host(dark.randn(5)), host(expected))
    # the state is a copy: drawing after get_rng_state leaves it as it was
    assert not np.array_equal(host(saved), host(dark.get_rng_state()))


def test_fork_rng():
    dark.manual_seed(3)
    expected = dark.rand(3)
    dark.manual_seed(3)
    with dark.random.fork_rng():
        dark.rand(100)
    np.testing.assert_array_equal(host(dark.rand(3)), host(expected))


def test_state_errors():
    g = dark.Generator()
    with pytest.raises(TypeError, match="ByteTensor"):
        g.set_state(dark.zeros(3))
    with pytest.raises(RuntimeError, match="size"):
        g.set_state(dark.zeros(3, dtype=dark.uint8))
    with pytest.raises(RuntimeError, match="device type for generator"):
        _generator_device_mismatch()


def _generator_device_mismatch():
    generator = dark.Generator()
    generator.device = dark.device("cuda", 0)  # a CUDA generator without needing a GPU
    dark.rand(2, generator=generator)


# ----------------------------------------------------------------------------- distributions

def test_rand_distribution(device):
    dark.manual_seed(0)
    x = host(dark.rand(N, device=device)).astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(x.var() - 1 / 12) < 0.003


def test_randn_distribution(device):
    dark.manual_seed(0)
    x = host(dark.randn(N, device=device)).astype(np.float64)
    assert abs(x.mean()) < 5 / math.sqrt(N)
    assert abs(x.std() - 1) < 0.01
    assert abs((np.abs(x) < 1).mean() - 0.6827) < 0.01


def test_complex_rand_randn():
    dark.manual_seed(0)
    z = host(dark.randn(N, dtype=dark.complex64))
    assert z.dtype == np.complex64
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 0.02  # E|z|^2 = 1, as PyTorch
    u = host(dark.rand(1000, dtype=dark.complex128))
    assert u.real.min() >= 0 and u.imag.max() < 1


def test_normal_overloads(device):
    dark.manual_seed(0)
    x = host(dark.normal(3.0, 2.0, (N,), device=device)).astype(np.float64)
    assert abs(x.mean() - 3) < 5 * 2 / math.sqrt(N) and abs(x.std() - 2) < 0.03
    mean = dark.tensor([[-10.0], [10.0]], device=device)
    std = dark.tensor([0.5, 1.0, 2.0], device=device)
    y = dark.normal(mean, std)
    assert y.shape == (2, 3)
    big = host(dark.normal(dark.full((N,), 5.0, device=device), 0.5))
    assert abs(big.mean() - 5) < 0.01 and abs(big.std() - 0.5) < 0.01
    spread = host(dark.normal(-1.0, dark.full((N,), 3.0, device=device)))
    assert abs(spread.mean() + 1) < 0.05 and abs(spread.std() - 3) < 0.05
    zero_std = host(dark.normal(dark.arange(4.0, device=device), 0.0))
    np.testing.assert_array_equal(zero_std, [0, 1, 2, 3])


def test_randint_range(device):
    dark.manual_seed(0)
    x = host(dark.randint(-3, 5, (N,), device=device))
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 4
    counts = np.bincount(x + 3, minlength=8)
    assert np.all(np.abs(counts / N - 1 / 8) < 0.01)
    assert host(dark.randint(1, (10,), device=device)).tolist() == [0] * 10


def test_randperm_is_permutation(device):
    dark.manual_seed(0)
    p = dark.randperm(1000, device=device)
    assert p.dtype is dark.int64
    assert sorted(host(p).tolist()) == list(range(1000))
    assert host(p).tolist() != list(range(1000))
    assert dark.randperm(0, device=device).shape == (0,)


def test_bernoulli_frequency(device):
    dark.manual_seed(0)
    probabilities = dark.full((N,), 0.3, device=device)
    x = host(dark.bernoulli(probabilities))
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert abs(x.mean() - 0.3) < 5 * math.sqrt(0.21 / N)
    edges = host(dark.bernoulli(dark.tensor([0.0, 1.0] * 50, device=device)))
    assert edges.tolist() == [0.0, 1.0] * 50
    fixed = host(dark.bernoulli(dark.zeros(N, device=device), 0.8))
    assert abs(fixed.mean() - 0.8) < 0.01
    t = dark.empty(N, device=device).bernoulli_(0.25)
    assert abs(host(t).mean() - 0.25) < 0.01
    per_element = dark.empty(2, N // 2, device=device).bernoulli_(
        dark.tensor([[0.1], [0.9]], device=device))
    assert np.allclose(host(per_element).mean(axis=1), [0.1, 0.9], atol=0.015)


def test_multinomial_without_replacement_distinct(device):
    dark.manual_seed(0)
    weights = dark.rand(50, 20, device=device) + 0.01
    samples = host(dark.multinomial(weights, 20))
    assert samples.shape == (50, 20) and samples.dtype == np.int64
    for row in samples:
        assert sorted(row.tolist()) == list(range(20))
    few = host(dark.multinomial(dark.tensor([1.0, 0.0, 0.0, 2.0], device=device), 2))
    assert sorted(few.tolist()) == [0, 3]


def test_multinomial_frequencies(device):
    dark.manual_seed(0)
    weights = dark.tensor([[1.0, 2.0, 0.0, 7.0], [5.0, 0.0, 5.0, 0.0]], device=device)
    samples = host(dark.multinomial(weights, N // 4, replacement=True))
    first = np.bincount(samples[0], minlength=4) / samples.shape[1]
    second = np.bincount(samples[1], minlength=4) / samples.shape[1]
    assert np.allclose(first, [0.1, 0.2, 0.0, 0.7], atol=0.015)
    assert np.allclose(second, [0.5, 0.0, 0.5, 0.0], atol=0.015)
    # first draw without replacement follows the weights too
    firsts = host(dark.multinomial(dark.tensor([[1.0, 3.0]] * 4000, device=device), 1))
    assert abs(firsts.mean() - 0.75) < 0.03


def test_inplace_distributions(device):
    dark.manual_seed(0)
    u = host(dark.empty(N, device=device).uniform_(-2, 3)).astype(np.float64)
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.03
    n = host(dark.empty(N, device=device).normal_(1.0, 0.5)).astype(np.float64)
    assert abs(n.mean() - 1) < 0.01 and abs(n.std() - 0.5) < 0.01
    e = host(dark.empty(N, device=device).exponential_(4.0)).astype(np.float64)
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.005
    r = host(dark.empty(N, dtype=dark.int64, device=device).random_(3, 7))
    assert r.min() == 3 and r.max() == 6
    r = host(dark.empty(N, device=device).random_(5))
    assert set(np.unique(r)) == {0, 1, 2, 3, 4}
    b = host(dark.empty(1000, dtype=dark.uint8, device=device).random_())
    assert b.max() > 200
    g = host(dark.empty(N, device=device).geometric_(0.25))
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.1
    ln = host(dark.empty(N, device=device).log_normal_(0.0, 0.25)).astype(np.float64)
    assert abs(np.log(ln).mean()) < 0.01
    c = host(dark.empty(N, device=device).cauchy_(1.0, 2.0)).astype(np.float64)
    assert abs(np.median(c) - 1) < 0.05


def test_inplace_random_keeps_dtype_and_memory(device):
    x = dark.zeros(4, 5, device=device)
    data = x._data
    version = x._version
    assert x.uniform_() is x
    assert x._data is data and x._version == version + 1 and x.dtype is dark.float32
    half = dark.zeros(10, dtype=dark.float16, device=device).normal_()
    assert half.dtype is dark.float16 and host(half).std() > 0.1
    base = dark.zeros(3, 4, device=device)
    transposed = dark.Tensor._make(base._data.T)  # a non-contiguous tensor on base's memory
    transposed.uniform_(1, 2)
    assert host(base).min() >= 1


def test_inplace_autograd_rules():
    leaf = dark.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.uniform_()
    with dark.no_grad():
        leaf.normal_()
        leaf.uniform_(-0.1, 0.1)
    assert leaf.requires_grad and leaf.is_leaf and host(leaf).max() <= 0.1
    base = dark.ones(3, requires_grad=True)
    y = base * 2
    y.uniform_()
    assert y.grad_fn.name() == "UniformBackward0"
    y.sum().backward()
    assert base.grad.tolist() == [0.0, 0.0, 0.0]


def test_sampling_gradients_are_zero():
    mean = dark.zeros(3, requires_grad=True)
    std = dark.ones(3, requires_grad=True)
    sample = dark.normal(mean, std)
    assert sample.grad_fn.name() == "NormalBackward3"
    sample.sum().backward()
    assert mean.grad.tolist() == [0.0] * 3 and std.grad.tolist() == [0.0] * 3
    assert dark.normal(mean, 1.0).grad_fn.name() == "NormalBackward1"
    assert dark.normal(0.0, std).grad_fn.name() == "NormalBackward2"
    p = dark.full((2,), 0.5, requires_grad=True)
    assert dark.bernoulli(p).grad_fn.name() == "BernoulliBackward0"


# ----------------------------------------------------------------------------- API vs torch

CALLS = {
    "rand": lambda L: L.rand(2, 3),
    "rand_tuple": lambda L: L.rand((4,)),
    "rand_size_kw": lambda L: L.rand(size=(2, 2)),
    "rand_0d": lambda L: L.rand(()),
    "rand_float64": lambda L: L.rand(3, dtype=L.float64),
    "rand_float16": lambda L: L.rand(3, dtype=L.float16),
    "rand_complex": lambda L: L.rand(3, dtype=L.complex64),
    "randn": lambda L: L.randn(2, 3),
    "randn_float64": lambda L: L.randn(3, dtype=L.float64),
    "randn_empty": lambda L: L.randn(0, 2),
    "randint_high": lambda L: L.randint(10, (3,)),
    "randint_low_high": lambda L: L.randint(3, 10, (2, 2)),
    "randint_size_kw": lambda L: L.randint(10, size=(2,)),
    "randint_keywords": lambda L: L.randint(low=2, high=10, size=(2,)),
    "randint_float": lambda L: L.randint(10, (3,), dtype=L.float32),
    "randint_uint8": lambda L: L.randint(0, 256, (3,), dtype=L.uint8),
    "randperm": lambda L: L.randperm(5),
    "randperm_float": lambda L: L.randperm(3, dtype=L.float32),
    "normal_floats": lambda L: L.normal(0, 1, (2,)),
    "normal_floats_dtype": lambda L: L.normal(0.0, 1.0, size=(2,), dtype=L.float64),
    "normal_tensor_float64": lambda L: L.normal(L.zeros(2, dtype=L.float64), 1.0),
    "normal_broadcast": lambda L: L.normal(L.zeros(2, 1), L.ones(3)),
    "normal_float_tensor": lambda L: L.normal(2.0, L.ones(3)),
    "bernoulli": lambda L: L.bernoulli(L.full((3,), 0.5, dtype=L.float64)),
    "bernoulli_p": lambda L: L.bernoulli(L.zeros(2), 0.3),
    "multinomial_1d": lambda L: L.multinomial(L.ones(3), 2),
    "multinomial_2d": lambda L: L.multinomial(L.ones(2, 3), 5, True),
    "poisson": lambda L: L.poisson(L.ones(4)),
    "rand_like": lambda L: L.rand_like(L.zeros(2, dtype=L.float64)),
    "randn_like": lambda L: L.randn_like(L.zeros(2, 3)),
    "randint_like_high": lambda L: L.randint_like(L.zeros(2), 5),
    "randint_like_low_high": lambda L: L.randint_like(L.zeros(2, dtype=L.int32), 2, 5),
    "uniform_": lambda L: L.zeros(3, dtype=L.float64).uniform_(),
    "normal_": lambda L: L.zeros(3).normal_(2, 3),
    "bernoulli_int": lambda L: L.ones(2, dtype=L.int64).bernoulli_(0.5),
    "random_uint8": lambda L: L.zeros(3, dtype=L.uint8).random_(),
    "random_bool": lambda L: L.zeros(3, dtype=L.bool).random_(),
    "exponential_": lambda L: L.zeros(2).exponential_(),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@requires_torch
def test_dtype_and_shape_match_torch(name):
    ours, theirs = CALLS[name](dark), CALLS[name](torch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize("factory", [
    lambda L, **k: L.rand(2, **k), lambda L, **k: L.randn(2, **k),
    lambda L, **k: L.normal(0.0, 1.0, (2,), **k),
    lambda L, **k: L.rand_like(L.zeros(2), **k), lambda L, **k: L.randn_like(L.zeros(2), **k),
])
def test_device_and_requires_grad(factory, device):
    t = factory(dark, device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.device.type == device
    assert t.dtype is dark.float32
    assert not factory(dark, device=device).requires_grad


def test_integer_factories_on_device(device):
    assert dark.randint(5, (3,), device=device).device.type == device
    assert dark.randperm(4, device=device).device.type == device
    like = dark.zeros(3, dtype=dark.int32, device=device)
    assert dark.randint_like(like, 4).device == like.device
    assert dark.multinomial(dark.ones(3, device=device), 2).device == like.device


ERRORS = {
    "rand_int_dtype": (lambda L: L.rand(2, dtype=L.int64), NotImplementedError,
                       "not implemented for 'Long'"),
    "randn_int_dtype": (lambda L: L.randn(2, dtype=L.int64), NotImplementedError,
                        "not implemented for 'Long'"),
    "rand_negative": (lambda L: L.rand(-1), RuntimeError, "negative dimension -1"),
    "randn_negative": (lambda L: L.randn(2, -1), RuntimeError,
                       r"negative dimension -1: \[2, -1\]"),
    "randint_empty_range": (lambda L: L.randint(5, 5, (2,)), RuntimeError,
                            "from=5 >= to=5"),
    "randint_reversed": (lambda L: L.randint(5, 2, (2,)), RuntimeError, "from=5 >= to=2"),
    "randint_int_size": (lambda L: L.randint(10, 3), TypeError, "size"),
    "randint_float_bound": (lambda L: L.randint(0.5, 10, (2,)), TypeError, "float"),
    "randint_requires_grad": (lambda L: L.randint(10, (2,), requires_grad=True), RuntimeError,
                              "floating point and complex dtype"),
    "randint_uint8_negative": (lambda L: L.randint(-5, -2, (3,), dtype=L.uint8),
                               RuntimeError, "from is out of bounds for unsigned char"),
    "randint_negative_size": (lambda L: L.randint(5, (-1,)), RuntimeError,
                              "negative dimension"),
    "randperm_negative": (lambda L: L.randperm(-1), RuntimeError, "negative dimension -1"),
    "normal_negative_std": (lambda L: L.normal(0.0, -1.0, (2,)), RuntimeError,
                            "normal expects std >= 0.0, but found std -1"),
    "normal_tensor_negative_std": (lambda L: L.normal(L.zeros(2), -1.0), RuntimeError,
                                   "std >= 0.0"),
    "normal_negative_std_tensor": (lambda L: L.normal(L.zeros(2), L.tensor([1.0, -1.0])),
                                   RuntimeError, "all elements of std >= 0.0"),
    "normal_no_size": (lambda L: L.normal(0, 1), TypeError, "normal"),
    "normal_int_mean": (lambda L: L.normal(L.zeros(2, dtype=L.int64), 1.0),
                        NotImplementedError, "Long"),
    "normal_bad_broadcast": (lambda L: L.normal(L.zeros(3), L.ones(2)), RuntimeError,
                             r"size of tensor a \(3\) must match the size of tensor b \(2\)"),
    "bernoulli_bad_probs": (lambda L: L.bernoulli(L.tensor([0.5, 1.5])), RuntimeError,
                            "p_in >= 0 && p_in <= 1"),
    "bernoulli_int_probs": (lambda L: L.bernoulli(L.ones(2, dtype=L.int64)),
                            NotImplementedError, "Long"),
    "bernoulli_bad_p": (lambda L: L.bernoulli(L.zeros(2), p=1.5), RuntimeError,
                        r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"),
    "bernoulli__bad_p": (lambda L: L.ones(2).bernoulli_(1.5), RuntimeError, "p=1.5"),
    "multinomial_too_many": (lambda L: L.multinomial(L.ones(3), 4), RuntimeError,
                             "cannot sample n_sample > prob_dist.size"),
    "multinomial_zero": (lambda L: L.multinomial(L.ones(3), 0), RuntimeError,
                         "cannot sample n_sample <= 0 samples"),
    "multinomial_3d": (lambda L: L.multinomial(L.ones(2, 2, 2), 1), RuntimeError,
                       "prob_dist must be 1 or 2 dim"),
    "multinomial_zero_sum": (lambda L: L.multinomial(L.zeros(3), 1), RuntimeError,
                             "sum of probabilities <= 0"),
    "multinomial_negative": (lambda L: L.multinomial(L.tensor([1.0, -1.0]), 1),
                             RuntimeError, "element < 0"),
    "multinomial_nan": (lambda L: L.multinomial(L.tensor([1.0, float("nan")]), 1),
                        RuntimeError, "`inf`, `nan`"),
    "multinomial_int": (lambda L: L.multinomial(L.ones(3, dtype=L.int64), 1), RuntimeError,
                        "floating-point dtypes for input, got: Long"),
    "uniform_int": (lambda L: L.ones(2, dtype=L.int64).uniform_(), NotImplementedError,
                    "Long"),
    "uniform_reversed": (lambda L: L.ones(2).uniform_(2, 1), RuntimeError,
                         r"\[from, to\) range, but found from=2 > to=1"),
    "normal__int": (lambda L: L.ones(2, dtype=L.int64).normal_(), NotImplementedError,
                    "Long"),
    "normal__negative_std": (lambda L: L.ones(2).normal_(0, -1), RuntimeError, "std -1"),
    "exponential_int": (lambda L: L.ones(2, dtype=L.int64).exponential_(), RuntimeError,
                        "dtype must be a floating point but you specified Long"),
    "exponential_zero": (lambda L: L.ones(2).exponential_(0), RuntimeError,
                         "lambda > 0.0, but found lambda=0"),
    "random_reversed": (lambda L: L.zeros(3).random_(5, 3), RuntimeError, "from=5 >= to=3"),
    "random_uint8_overflow": (lambda L: L.zeros(3, dtype=L.uint8).random_(300),
                              RuntimeError, "to - 1 is out of bounds for unsigned char"),
    "geometric_zero": (lambda L: L.ones(2).geometric_(0), RuntimeError, r"\(0, 1\)"),
    "log_normal_zero_std": (lambda L: L.ones(2).log_normal_(1, 0), RuntimeError,
                            "std > 0.0"),
    "cauchy_negative_sigma": (lambda L: L.ones(2).cauchy_(0, -1), RuntimeError,
                              "sigma > 0.0"),
    "poisson_negative": (lambda L: L.poisson(L.tensor([-1.0])), RuntimeError,
                         "expected rate to be non-negative"),
    "leaf_inplace": (lambda L: L.ones(2, requires_grad=True).normal_(), RuntimeError,
                     "a leaf Variable that requires grad"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    call, kind, pattern = ERRORS[name]
    with pytest.raises(kind, match=pattern):
        call(dark)


@pytest.mark.parametrize("name", sorted(ERRORS))
@requires_torch
def test_errors_torch_raises_the_same_type(name):
    call, kind, _ = ERRORS[name]
    with pytest.raises(kind):
        call(torch)


def test_random_bounds_name_the_type_as_torch():
    """random_'s bound errors spell the C++ type as torch 2.13 does ('short int')."""
    for dtype, word in ((dark.int16, "short int"), (dark.int8, "signed char"),
                        (dark.int32, "int"), (dark.uint8, "unsigned char")):
        with pytest.raises(RuntimeError, match=f"^from is out of bounds for {word}$"):
            dark.empty(3, dtype=dtype).random_(-2**40, 5)
        with pytest.raises(RuntimeError, match=f"^to - 1 is out of bounds for {word}$"):
            dark.empty(3, dtype=dtype).random_(0, 2**40)


# ----------------------------------------------------------------------------- torch's streams
# dark's CPU generator is torch's (mt19937 and ATen's CPU transforms), so a seed gives torch's
# numbers. Bit-equal everywhere below except float64 normals (ATen calls libm's log/log1p/
# cos/sin, dark numpy's: within 2 ulp); float32 normals are bit-equal (ATen's AVX2 kernel,
# avx_mathfun's polynomials, reproduced step by step).


def test_randn_literal_values():
    """torch.manual_seed(0); torch.randn(5) (torch 2.13, CPU)."""
    dark.manual_seed(0)
    np.testing.assert_allclose(host(dark.randn(5)),
                               [1.5410, -0.2934, -2.1788, 0.5684, -1.0845], atol=5e-5)


def test_linear_init_literal_values():
    """torch.manual_seed(1); torch.nn.Linear(4, 3) (torch 2.13, CPU)."""
    dark.manual_seed(1)
    layer = dark.nn.Linear(4, 3)
    np.testing.assert_allclose(host(layer.weight), [[0.2576, -0.2207, -0.0969, 0.2347],
                                                    [-0.4707, 0.2999, -0.1029, 0.2544],
                                                    [0.0695, -0.0612, 0.1387, 0.0247]],
                               atol=5e-5)
    np.testing.assert_allclose(host(layer.bias), [0.1826, -0.1949, -0.0365], atol=5e-5)


def test_rand_literal_values():
    """torch.manual_seed(0); torch.rand(3), torch.randint(0, 10, (5,)), torch.randperm(6)."""
    dark.manual_seed(0)
    np.testing.assert_allclose(host(dark.rand(3)), [0.4963, 0.7682, 0.0885], atol=5e-5)
    assert host(dark.randint(0, 10, (5,))).tolist() == [0, 3, 9, 7, 3]
    assert host(dark.randperm(6)).tolist() == [1, 4, 3, 5, 0, 2]


STREAM_SIZES = [0, 1, 15, 16, 17, 1000]
STREAM_SEEDS = [0, 1, 2 ** 40 + 7]
FLOATS = ["float32", "float64", "float16"]
POISSON_RATES = np.linspace(0.0, 40.0, 1000)  # both of torch's methods (rate < 10, >= 10)
STREAM_DRAWS = {
    "rand": (FLOATS, lambda L, n, dt: L.rand(n, dtype=dt)),
    "randn": (FLOATS, lambda L, n, dt: L.randn(n, dtype=dt)),
    "randn_after_odd": (FLOATS,
                        lambda L, n, dt: (L.randn(3, dtype=dt), L.randn(n, dtype=dt))[1]),
    "randn_2d": (["float32", "float16"], lambda L, n, dt: L.randn(2, n, dtype=dt)),
    "rand_like": (FLOATS, lambda L, n, dt: L.rand_like(L.zeros(n, dtype=dt))),
    "randn_like": (FLOATS, lambda L, n, dt: L.randn_like(L.zeros(n, dtype=dt))),
    "uniform_": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).uniform_(-0.3, 0.7)),
    "uniform_wide": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).uniform_(3, 1000.7)),
    "normal_": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).normal_(0.5, 2.0)),
    "normal_transposed": (FLOATS,
                          lambda L, n, dt: L.empty(n, 3, dtype=dt).t().normal_(1.0, 0.5)),
    "uniform_transposed": (FLOATS, lambda L, n, dt: L.empty(n, 3, dtype=dt).t().uniform_()),
    "normal_numbers": (FLOATS,
                       lambda L, n, dt: L.normal(0.5, 2.0, (n,), dtype=dt)),
    "normal_tensor_mean": (["float32", "float64"],
                           lambda L, n, dt: L.normal(L.arange(n, dtype=dt), 0.5)),
    "normal_tensor_std": (["float32", "float64"],
                          lambda L, n, dt: L.normal(0.5, L.arange(n, dtype=dt))),
    "normal_tensors": (["float32", "float64"],
                       lambda L, n, dt: L.normal(L.arange(n, dtype=dt), L.ones(n, dtype=dt))),
    "randn_complex": (["complex64"], lambda L, n, dt: L.randn(n, dtype=dt)),
    "randint": (["int64", "int32", "uint8", "float32", "float64"],
                lambda L, n, dt: L.randint(3, 100, (n,), dtype=dt)),
    "randint_wide": (["int64", "float64"],
                     lambda L, n, dt: L.randint(-2 ** 40, 2 ** 40, (n,), dtype=dt)),
    "randint_2_28": (["int64", "int32"], lambda L, n, dt: L.randint(0, 2 ** 28, (n,), dtype=dt)),
    "randint_like": (["int64", "float32"], lambda L, n, dt: L.randint_like(L.zeros(n, dtype=dt),
                                                                           2, 9)),
    "random_": (["int64", "int32", "int16", "uint8", "bool", "float32", "float64", "float16"],
                lambda L, n, dt: L.empty(n, dtype=dt).random_()),
    "random_range": (["int64", "float32"], lambda L, n, dt: L.empty(n, dtype=dt).random_(-4, 9)),
    "randperm": (["int64", "int32", "float32"], lambda L, n, dt: L.randperm(n, dtype=dt)),
    "bernoulli_p": (["float32", "float64", "int64", "bool"],
                    lambda L, n, dt: L.empty(n, dtype=dt).bernoulli_(0.3)),
    "bernoulli_tensor_p": (["float32", "float64"],
                           lambda L, n, dt: L.bernoulli(L.linspace(0, 1, n, dtype=dt))),
    "bernoulli_number_p": (["float32", "float64"],
                           lambda L, n, dt: L.bernoulli(L.zeros(n, dtype=dt), 0.7)),
    "bernoulli__tensor_p": (["float32", "float64"], lambda L, n, dt: L.empty(n).bernoulli_(
        L.linspace(0, 1, n, dtype=dt))),
    "dropout": (["float32", "float64"],
                lambda L, n, dt: L.nn.functional.dropout(L.ones(n, dtype=dt), 0.3)),
    "dropout2d": (["float32"], lambda L, n, dt: L.nn.functional.dropout2d(
        L.ones(2, n, 3, 3, dtype=dt), 0.4)),
    "alpha_dropout": (["float32"], lambda L, n, dt: L.nn.functional.alpha_dropout(
        L.ones(n, dtype=dt), 0.2, True)),
    # torch's serial *_distribution<double> kernels (libm's log1p / tan / exp in torch,
    # numpy's here: float64 within STREAM_ULPS, float32 and float16 equal)
    "exponential_": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).exponential_(2.5)),
    "cauchy_": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).cauchy_(0.5, 2.0)),
    "log_normal_": (FLOATS, lambda L, n, dt: L.empty(n, dtype=dt).log_normal_(0.5, 0.7)),
    "log_normal_after_odd": (FLOATS, lambda L, n, dt: (L.randn(3, dtype=L.float64),
                                                       L.empty(n, dtype=dt).log_normal_())[1]),
    "geometric_": (FLOATS + ["int64", "int32"],
                   lambda L, n, dt: L.empty(n, dtype=dt).geometric_(0.3)),
    "multinomial_replacement": (FLOATS, lambda L, n, dt: L.multinomial(
        L.linspace(0, 1, 7, dtype=dt).repeat(3, 1), n + 2, True)),
    "multinomial_one": (FLOATS, lambda L, n, dt: L.multinomial(
        L.linspace(0.1, 3, n + 2, dtype=dt), 1, True)),
    # float16 keys w / q tie often: torch's topk orders ties as libstdc++'s unstable sorts
    "multinomial_no_replacement": (FLOATS, lambda L, n, dt: L.multinomial(
        L.linspace(0.1, 3, n + 2, dtype=dt).repeat(2, 1), min(n + 1, 5))),
    "multinomial_ties": (FLOATS, lambda L, n, dt: L.multinomial(
        L.linspace(0.5, 2, 4, dtype=dt).repeat(n // 4 + 2).repeat(3, 1),
        min(n + 1, 40))),
    # q = empty_like(w).exponential_() keeps a transposed w's layout
    "multinomial_transposed": (FLOATS, lambda L, n, dt: L.multinomial(
        L.linspace(0.1, 3, 3 * n + 6, dtype=dt).reshape(n + 2, 3).t(), min(n + 2, 4))),
    "poisson": (FLOATS, lambda L, n, dt: L.poisson(L.tensor(POISSON_RATES[:n]).to(dt))),
}
# float64 ulp bounds where torch calls libm and dark numpy's SIMD functions (measured)
STREAM_ULPS = {"exponential_": 1, "cauchy_": 1,
               # the normal's 2 ulp (log/cos/sin), grown by exp by up to |log x| ulp
               "log_normal_": 8, "log_normal_after_odd": 8}
STREAM_CASES = [(name, dt, n) for name, (dtypes, _) in sorted(STREAM_DRAWS.items())
                for dt in dtypes for n in STREAM_SIZES]


def _ulp_close(ours, theirs, ulps: int) -> None:
    """Equal, or within ``ulps`` ulp of the value or of 2 (``mean + std * z`` cancels: the
    ulp of the sample z, not of the sum, is what libm's error moves)."""
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ulps == 0 or ours.dtype.kind != "f":
        np.testing.assert_array_equal(ours, theirs)
        return
    spacing = np.spacing(np.maximum(np.abs(theirs), 2.0).astype(theirs.dtype))
    assert np.all(np.abs(ours.astype(np.float64) - theirs) <= ulps * spacing.astype(np.float64))


@pytest.mark.parametrize("name,dtype,n", STREAM_CASES)
@requires_torch
def test_same_stream_as_torch(name, dtype, n):
    draw = STREAM_DRAWS[name][1]
    # float64 normals go through libm's log/cos/sin in torch, numpy's here
    ulps = 2 if dtype == "float64" and ("normal" in name or "randn" in name) else 0
    ulps = STREAM_ULPS.get(name, ulps) if dtype == "float64" else ulps
    for seed in STREAM_SEEDS:
        torch.manual_seed(seed)
        theirs = draw(torch, n, getattr(torch, dtype))
        dark.manual_seed(seed)
        ours = draw(dark, n, getattr(dark, dtype))
        _ulp_close(host(ours), theirs.numpy(), ulps)
        # and the generators are left in the same state
        np.testing.assert_array_equal(host(dark.get_rng_state()), torch.get_rng_state().numpy())


@pytest.fixture(params=["numpy", "numba"])
def draw_path(request, monkeypatch):
    """dark's numpy paths, or its compiled numba kernels (loaded) where numba is installed."""
    monkeypatch.setattr(random_numba, "_enabled", [request.param == "numba"])
    if request.param == "numba":
        pytest.importorskip("numba", reason="the compiled random kernels need numba")
        assert random_numba.normal_draw32() is not None and random_numba.randperm() is not None
    return request.param


@pytest.mark.parametrize("threads", [1, 2])
@requires_torch
def test_large_draws_as_torch(threads, draw_path):
    """Draws of several of the float32 normal kernel's passes (on dark's threads when there
    are two) and a large rand: torch's numbers, and the generators left in the same state,
    through dark's numpy paths and its compiled kernels."""
    n = 2 * 16 * dark_random._NORMAL_ROWS + 21
    before = dark.get_num_threads()
    dark.set_num_threads(threads)
    try:
        for draw in (lambda L: L.randn(n), lambda L: L.empty(n).normal_(0.5, 3.0),
                     lambda L: L.rand(n)):
            torch.manual_seed(3)
            dark.manual_seed(3)
            np.testing.assert_array_equal(host(draw(dark)), draw(torch).numpy())
            np.testing.assert_array_equal(host(dark.get_rng_state()),
                                          torch.get_rng_state().numpy())
    finally:
        dark.set_num_threads(before)


@pytest.mark.parametrize("n", [60000, 70000])
@requires_torch
def test_large_randperm_as_torch(n, draw_path):
    """randperm of a dataset's size (the swaps unrolled without a loop; above 2**16 the
    steps are grouped by two radix passes): torch's permutation and state."""
    torch.manual_seed(1)
    dark.manual_seed(1)
    np.testing.assert_array_equal(host(dark.randperm(n)), torch.randperm(n).numpy())
    np.testing.assert_array_equal(host(dark.get_rng_state()), torch.get_rng_state().numpy())


@pytest.mark.parametrize("n", [2, 3, 17, 1000, 65536, 65538])
def test_swaps_equal_the_swap_loop(n):
    """randperm's loop-free swaps equal torch's loop (order[i] <-> order[j_i], i <= j_i < n)
    for random targets and the extremes (no swaps, all swaps with the last, with the next)."""
    rng = np.random.default_rng(n)
    cases = [np.arange(n - 1) + rng.integers(0, np.arange(n, 1, -1)), np.arange(n - 1),
             np.full(n - 1, n - 1), np.arange(1, n)]
    for targets in cases:
        order = list(range(n))
        for i, j in enumerate(targets.tolist()):
            order[i], order[j] = order[j], order[i]
        assert dark_random._swaps(targets.astype(np.int64)).tolist() == order


@pytest.mark.parametrize("n", [2, 5, 16, 17, 65, 200, 1000])
@requires_torch
def test_stl_topk_orders_ties_as_torch(n):
    """The libstdc++ emulation behind multinomial's ties: torch.topk's indices on values with
    many ties, for k on both of torch's paths (partial_sort when k * 64 <= n, else
    nth_element + sort), NaN first."""
    from dark._kernels.stl_sort import topk_indices

    rng = np.random.default_rng(n)
    for k in sorted({1, 2, n // 2 or 1, n - 1 or 1, n, max(1, n // 64)}):
        for trial in range(6):
            values = rng.integers(0, 3 if trial % 2 else max(2, n // 3), n).astype(np.float32)
            if trial == 5:
                values[rng.integers(0, n, 2)] = np.nan
            theirs = torch.topk(torch.from_numpy(values), k).indices.tolist()
            assert topk_indices(values.tolist(), k) == theirs, (k, trial)


@pytest.mark.parametrize("seed", [0, 5, 2 ** 63 + 11])
@requires_torch
def test_rng_state_passes_between_torch_and_dark(seed):
    torch.manual_seed(seed)
    torch.randn(7, dtype=torch.float64)  # leaves a cached normal sample in the state
    torch.rand(700)  # and moves mt19937 past a regeneration
    dark.set_rng_state(dark.tensor(torch.get_rng_state().numpy()))
    assert dark.initial_seed() == torch.initial_seed()
    np.testing.assert_array_equal(host(dark.randn(5)), torch.randn(5).numpy())
    np.testing.assert_array_equal(host(dark.rand(20)), torch.rand(20).numpy())
    dark.randn(3, dtype=dark.float64)
    torch.set_rng_state(torch.from_numpy(host(dark.get_rng_state())))
    np.testing.assert_array_equal(host(dark.randn(3, dtype=dark.float64)),
                                  torch.randn(3, dtype=torch.float64).numpy())
    generator = torch.Generator().manual_seed(seed)
    ours = dark.Generator().manual_seed(seed)
    np.testing.assert_array_equal(host(ours.get_state()), generator.get_state().numpy())
    assert ours.initial_seed() == generator.initial_seed()
    np.testing.assert_array_equal(host(dark.rand(9, generator=ours)),
                                  torch.rand(9, generator=generator).numpy())


@requires_torch
def test_fork_rng_as_torch():
    torch.manual_seed(4)
    dark.manual_seed(4)
    with torch.random.fork_rng(), dark.random.fork_rng():
        torch.rand(10)
        dark.rand(10)
    np.testing.assert_array_equal(host(dark.rand(4)), torch.rand(4).numpy())


@pytest.mark.parametrize("module", ["Linear", "Conv2d", "LSTM", "Embedding"])
@requires_torch
def test_layer_initialisation_as_torch(module):
    make = {"Linear": lambda L: L.nn.Linear(20, 7), "Conv2d": lambda L: L.nn.Conv2d(3, 8, 5),
            "LSTM": lambda L: L.nn.LSTM(6, 5, num_layers=2),
            "Embedding": lambda L: L.nn.Embedding(30, 4)}[module]
    torch.manual_seed(3)
    theirs = make(torch).state_dict()
    dark.manual_seed(3)
    ours = make(dark).state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(host(ours[key]), theirs[key].numpy())
