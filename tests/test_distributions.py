"""dark.distributions against torch.distributions (2.13): for each distribution x dtype x
batch shape the values of log_prob / entropy / mean / variance / cdf / icdf and their
gradients in the parameters; seeded samples (torch's draws: the CPU generator is torch's);
rsample's reparameterised gradients; validate_args errors (type and message); kl_divergence
for every pair torch registers among these; transforms, constraints, biject_to /
transform_to, utils. A few checks against closed forms run without torch.

Tolerances: float64 values to 1e-10 relative (torch and dark compute the same formulas with
different libm / BLAS rounding; lgamma and the triangular solves differ by a few ulps),
float32 values to 1e-5 relative (float32 rounding of the same formulas in another order)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
import dark.distributions as D
from dark.distributions import constraints as C

if torch is not None:
    pass

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}
BATCHES = [(), (3,), (2, 3)]


# ----------------------------------------------------------------------------- helpers

def _rng(seed):
    return np.random.default_rng(seed)


def _param(kind, shape, rng):
    if kind == "real":
        return rng.normal(size=shape)
    if kind == "pos":
        return rng.uniform(0.5, 3.0, size=shape)
    if kind == "unit":
        return rng.uniform(0.1, 0.9, size=shape)
    if kind == "simplex":
        p = rng.uniform(0.2, 1.0, size=shape)
        return p / p.sum(-1, keepdims=True)
    if kind == "count":
        return rng.integers(1, 12, size=shape).astype(np.float64)
    if kind == "tril":
        n = shape[-1]
        a = rng.normal(size=shape) * 0.3
        return np.tril(a, -1) + np.eye(n) * rng.uniform(0.8, 1.5, size=shape[:-1] + (1,))
    if kind == "pd":
        n = shape[-1]
        a = rng.normal(size=shape) * 0.4
        return a @ np.swapaxes(a, -1, -2) + np.eye(n)
    raise ValueError(kind)


class Spec:
    """A distribution built the same way in dark and torch from numpy parameters."""

    def __init__(self, name, build, params, value, event=(), grad=True, cdf=False,
                 icdf=False, entropy=True, moments=True, sample=None, rsample=False):
        self.name, self.build, self.params = name, build, params
        self.value, self.event, self.grad = value, event, grad
        self.cdf, self.icdf, self.entropy, self.moments = cdf, icdf, entropy, moments
        self.sample, self.rsample = sample, rsample

    def __str__(self):
        return self.name

    def arrays(self, batch, seed=0):
        rng = _rng(seed)
        return {k: _param(kind, tuple(batch) + tuple(extra), rng)
                for k, (kind, extra) in self.params.items()}


def _values(kind, shape, rng, arrays=None):
    if kind == "real":
        return rng.normal(size=shape)
    if kind == "pos":
        return rng.uniform(0.1, 4.0, size=shape)
    if kind == "unit":
        return rng.uniform(0.05, 0.95, size=shape)
    if kind == "simplex":
        p = rng.uniform(0.1, 1.0, size=shape)
        return p / p.sum(-1, keepdims=True)
    if kind == "bool":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if kind == "nat":
        return rng.integers(0, 8, size=shape).astype(np.float64)
    if kind.startswith("index"):
        return rng.integers(0, int(kind[5:]), size=shape).astype(np.float64)
    if kind.startswith("onehot"):
        k = int(kind[6:])
        idx = rng.integers(0, k, size=shape[:-1])
        return np.eye(k)[idx]
    if kind == "binom":
        return np.minimum(rng.integers(0, 12, size=shape), arrays["total_count"]) \
            .astype(np.float64)
    if kind == "uniform":
        u = rng.uniform(0.05, 0.95, size=shape)
        return arrays["low"] + u * (arrays["high"] - arrays["low"])
    raise ValueError(kind)


SPECS = [
    Spec("Normal", lambda m, p: m.distributions.Normal(p["loc"], p["scale"]),
         {"loc": ("real", ()), "scale": ("pos", ())}, "real", cdf=True, icdf=True,
         sample="exact", rsample=True),
    Spec("Uniform", lambda m, p: m.distributions.Uniform(p["low"], p["low"] + p["width"]),
         {"low": ("real", ()), "width": ("pos", ())}, "uniform", cdf=True, icdf=True,
         sample="exact", rsample=True),
    Spec("Bernoulli(probs)", lambda m, p: m.distributions.Bernoulli(probs=p["probs"]),
         {"probs": ("unit", ())}, "bool", sample="exact"),
    Spec("Bernoulli(logits)", lambda m, p: m.distributions.Bernoulli(logits=p["logits"]),
         {"logits": ("real", ())}, "bool", sample="exact"),
    Spec("Categorical(probs)", lambda m, p: m.distributions.Categorical(probs=p["probs"]),
         {"probs": ("simplex", (4,))}, "index4", sample="exact", moments=False),
    Spec("Categorical(logits)",
         lambda m, p: m.distributions.Categorical(logits=p["logits"]),
         {"logits": ("real", (4,))}, "index4", sample="exact", moments=False),
    Spec("OneHotCategorical",
         lambda m, p: m.distributions.OneHotCategorical(probs=p["probs"]),
         {"probs": ("simplex", (4,))}, "onehot4", event=(4,), sample="exact"),
    Spec("Beta", lambda m, p: m.distributions.Beta(p["a"], p["b"]),
         {"a": ("pos", ()), "b": ("pos", ())}, "unit", sample="exact", rsample=True),
    Spec("Gamma", lambda m, p: m.distributions.Gamma(p["c"], p["r"]),
         {"c": ("pos", ()), "r": ("pos", ())}, "pos", cdf=True, sample="exact",
         rsample=True),
    Spec("Dirichlet", lambda m, p: m.distributions.Dirichlet(p["c"]),
         {"c": ("pos", (3,))}, "simplex", event=(3,), sample="exact", rsample=True),
    Spec("Exponential", lambda m, p: m.distributions.Exponential(p["rate"]),
         {"rate": ("pos", ())}, "pos", cdf=True, icdf=True, sample="ulp", rsample=True),
    Spec("Laplace", lambda m, p: m.distributions.Laplace(p["loc"], p["scale"]),
         {"loc": ("real", ()), "scale": ("pos", ())}, "real", cdf=True, icdf=True,
         sample="ulp", rsample=True),
    Spec("Poisson", lambda m, p: m.distributions.Poisson(p["rate"]),
         {"rate": ("pos", ())}, "nat", entropy=False, sample="exact"),
    Spec("Binomial", lambda m, p: m.distributions.Binomial(p["total_count"], p["probs"]),
         {"total_count": ("count", ()), "probs": ("unit", ())}, "binom", entropy=False,
         sample="exact"),
    Spec("MultivariateNormal(cov)",
         lambda m, p: m.distributions.MultivariateNormal(p["loc"], covariance_matrix=p["cov"]),
         {"loc": ("real", (3,)), "cov": ("pd", (3, 3))}, "real", event=(3,),
         sample="ulp", rsample=True),
    Spec("MultivariateNormal(prec)",
         lambda m, p: m.distributions.MultivariateNormal(p["loc"], precision_matrix=p["prec"]),
         {"loc": ("real", (3,)), "prec": ("pd", (3, 3))}, "real", event=(3,),
         sample="ulp", rsample=True),
    Spec("MultivariateNormal(tril)",
         lambda m, p: m.distributions.MultivariateNormal(p["loc"], scale_tril=p["tril"]),
         {"loc": ("real", (3,)), "tril": ("tril", (3, 3))}, "real", event=(3,),
         sample="ulp", rsample=True),
    Spec("LowRankMultivariateNormal",
         lambda m, p: m.distributions.LowRankMultivariateNormal(p["loc"], p["W"], p["d"]),
         {"loc": ("real", (3,)), "W": ("real", (3, 2)), "d": ("pos", (3,))}, "real",
         event=(3,), sample="ulp", rsample=True),
    Spec("Independent(Normal)",
         lambda m, p: m.distributions.Independent(
             m.distributions.Normal(p["loc"], p["scale"]), 1),
         {"loc": ("real", (2,)), "scale": ("pos", (2,))}, "real", event=(2,),
         sample="exact", rsample=True),
    Spec("LogNormal", lambda m, p: m.distributions.LogNormal(p["loc"], p["scale"]),
         {"loc": ("real", ()), "scale": ("pos", ())}, "pos", cdf=True, icdf=True,
         sample="ulp", rsample=True),
    Spec("TransformedDistribution(Normal, Affine+Tanh)",
         lambda m, p: m.distributions.TransformedDistribution(
             m.distributions.Normal(p["loc"], p["scale"]),
             [m.distributions.AffineTransform(0.5, 2.0), m.distributions.TanhTransform()]),
         {"loc": ("real", ()), "scale": ("pos", ())}, "unit", entropy=False, moments=False,
         cdf=True, icdf=True, sample="ulp", rsample=True),
]


def _tensors(lib, arrays, dtype, grad):
    out = {}
    for k, a in arrays.items():
        t = lib.tensor(a, dtype=getattr(lib, dtype))
        if grad:
            t.requires_grad_(True)
        out[k] = t
    return out


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(mine, theirs, dtype, what):
    mine, theirs = _np(mine), _np(theirs)
    assert mine.shape == theirs.shape, (what, mine.shape, theirs.shape)
    assert str(mine.dtype) == str(theirs.dtype), (what, mine.dtype, theirs.dtype)
    np.testing.assert_allclose(mine, theirs, err_msg=what, equal_nan=True,
                               **TOL.get(dtype, dict(rtol=0, atol=0)))


def _value_array(spec, batch, arrays, seed=1):
    rng = _rng(seed)
    shape = (2,) + tuple(batch) + tuple(spec.event)
    if spec.value == "uniform":
        a = {"low": arrays["low"], "high": arrays["low"] + arrays["width"]}
        return _values("uniform", shape, rng, a)
    return _values(spec.value, shape, rng, arrays)


# ----------------------------------------------------------------------------- values + grads

@requires_torch
@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_values_and_gradients_match_torch(spec, dtype, batch):
    arrays = spec.arrays(batch)
    value = _value_array(spec, batch, arrays)
    results = {}
    for lib in (dark, torch):
        params = _tensors(lib, arrays, dtype, spec.grad)
        d = spec.build(lib, params)
        v = lib.tensor(value, dtype=getattr(lib, dtype))
        out = {"log_prob": d.log_prob(v)}
        if spec.entropy:
            out["entropy"] = d.entropy()
        if spec.moments:
            out["mean"], out["variance"], out["stddev"] = d.mean, d.variance, d.stddev
        if spec.cdf:
            out["cdf"] = d.cdf(v)
        if spec.icdf:
            q = lib.tensor(_rng(5).uniform(0.05, 0.95, size=value.shape),
                           dtype=getattr(lib, dtype))
            out["icdf"] = d.icdf(q)
        skip = {"mean", "variance", "stddev"} | ({"cdf"} if spec.name == "Gamma" else set())
        total = sum((o.sum() for k, o in out.items() if k not in skip),
                    lib.zeros((), dtype=getattr(lib, dtype)))
        grads = lib.autograd.grad(total, list(params.values()), allow_unused=True)
        results[lib] = (out, grads, d)
    (mine, my_grads, md), (theirs, their_grads, td) = results[dark], results[torch]
    assert tuple(md.batch_shape) == tuple(td.batch_shape)
    assert tuple(md.event_shape) == tuple(td.event_shape)
    assert mine.keys() == theirs.keys()
    for key in mine:
        _close(mine[key], theirs[key], dtype, f"{spec} {key}")
    for name, g, h in zip(arrays, my_grads, their_grads):
        if h is None:
            assert g is None or not np.any(_np(g)), name
            continue
        _close(g, h, dtype, f"{spec} d/d{name}")


# ----------------------------------------------------------------------------- sampling

@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", [s for s in SPECS if s.sample], ids=str)
def test_seeded_samples_equal_torch(spec, dtype):
    """The draws are torch's bit for bit; "exact" samples equal torch's, "ulp" ones are
    those draws pushed through float transcendental functions or matrix products (log1p,
    exp, tanh, a Cholesky factor), whose last bit can differ from torch's kernels."""
    arrays = spec.arrays((2,))
    draws = {}
    for lib in (dark, torch):
        lib.manual_seed(123)
        d = spec.build(lib, _tensors(lib, arrays, dtype, False))
        first = d.sample((5,))
        second = d.sample()
        after = lib.rand(3, dtype=getattr(lib, dtype))  # the generator moved on as torch's
        draws[lib] = (first, second, after)
    for mine, theirs in zip(draws[dark], draws[torch]):
        assert tuple(mine.shape) == tuple(theirs.shape)
        assert str(_np(mine).dtype) == str(_np(theirs).dtype)
        if spec.sample == "exact":
            np.testing.assert_array_equal(_np(mine), _np(theirs), err_msg=str(spec))
        else:
            ulps = {"float32": 2e-6, "float64": 1e-14}[dtype]
            np.testing.assert_allclose(_np(mine), _np(theirs), rtol=ulps, atol=ulps,
                                       err_msg=str(spec))


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", [s for s in SPECS if s.rsample], ids=str)
def test_rsample_values_and_reparameterised_gradients_match_torch(spec, dtype):
    arrays = spec.arrays((2,), seed=3)
    results = {}
    for lib in (dark, torch):
        lib.manual_seed(7)
        params = _tensors(lib, arrays, dtype, True)
        d = spec.build(lib, params)
        assert d.has_rsample
        x = d.rsample((4,))
        weights = lib.tensor(_rng(9).normal(size=tuple(x.shape)), dtype=getattr(lib, dtype))
        grads = lib.autograd.grad((x * weights).sum(), list(params.values()))
        results[lib] = (x, grads)
    (x, g), (y, h) = results[dark], results[torch]
    # float64 samples are bit-equal; float32 gradient formulas round in another order
    _close(x, y, dtype, f"{spec} rsample")
    for name, a, b in zip(arrays, g, h):
        _close(a, b, dtype, f"{spec} rsample d/d{name}")


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_standard_gamma_dirichlet_binomial_draws_equal_torch(dtype):
    alpha = np.array([0.01, 0.3, 0.999, 1.0, 2.5, 7.0, 30.0, 250.0])
    count = np.array([0, 1, 5, 20, 100, 1000, 3, 50.0])
    prob = np.array([0.3, 0.0, 0.7, 0.5, 0.01, 0.999, 0.9, 0.95])
    out = {}
    for lib in (dark, torch):
        lib.manual_seed(2024)
        dt = getattr(lib, dtype)
        g = lib.distributions.Gamma(lib.tensor(alpha, dtype=dt), 1.0).sample((50,))
        c = lib.distributions.Dirichlet(lib.tensor(alpha[:4], dtype=dt)).sample((20,))
        b = lib.distributions.Binomial(lib.tensor(count, dtype=dt),
                                       lib.tensor(prob, dtype=dt)).sample((30,))
        out[lib] = [g, c, b, lib.randn(5, dtype=dt)]
    for mine, theirs in zip(out[dark], out[torch]):
        np.testing.assert_array_equal(_np(mine), _np(theirs))


@requires_torch
def test_poisson_and_categorical_draws_and_sample_n():
    out = {}
    for lib in (dark, torch):
        lib.manual_seed(5)
        rate = lib.tensor([0.5, 4.0, 30.0])
        p = lib.distributions.Poisson(rate).sample((10,))
        logits = lib.tensor([[0.1, 2.0, -1.0], [0.0, 0.0, 3.0]])
        c = lib.distributions.Categorical(logits=logits).sample((7, 2))
        with pytest.warns(FutureWarning):
            n = lib.distributions.Normal(0.0, 1.0).sample_n(3)
        out[lib] = [p, c, n]
    for mine, theirs in zip(out[dark], out[torch]):
        assert str(_np(mine).dtype) == str(_np(theirs).dtype)
        np.testing.assert_array_equal(_np(mine), _np(theirs))


# ----------------------------------------------------------------------------- validate_args

def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return type(error), str(error)
    return None


ERRORS = [
    ("Normal scale", lambda m: m.distributions.Normal(m.tensor([0.0]), m.tensor([-1.0]))),
    ("Normal log_prob nan", lambda m: m.distributions.Normal(0.0, 1.0).log_prob(
        m.tensor([float("nan")]))),
    ("Bernoulli probs", lambda m: m.distributions.Bernoulli(probs=m.tensor([1.5]))),
    ("Bernoulli both", lambda m: m.distributions.Bernoulli(m.tensor(0.5), m.tensor(0.0))),
    ("Bernoulli value", lambda m: m.distributions.Bernoulli(m.tensor([0.3])).log_prob(
        m.tensor([0.5]))),
    ("Categorical probs", lambda m: m.distributions.Categorical(m.tensor([0.5, -0.1]))),
    ("Categorical value", lambda m: m.distributions.Categorical(
        m.tensor([0.5, 0.5])).log_prob(m.tensor(2))),
    ("Categorical 0-dim", lambda m: m.distributions.Categorical(m.tensor(1.0))),
    ("Uniform bounds", lambda m: m.distributions.Uniform(m.tensor([1.0]), m.tensor([0.0]))),
    ("Uniform value", lambda m: m.distributions.Uniform(0.0, 1.0).log_prob(m.tensor(2.0))),
    ("Gamma value", lambda m: m.distributions.Gamma(1.0, 1.0).log_prob(m.tensor([-1.0]))),
    ("Beta value", lambda m: m.distributions.Beta(1.0, 2.0).log_prob(m.tensor([1.5]))),
    ("Dirichlet concentration", lambda m: m.distributions.Dirichlet(m.tensor([1.0, 0.0]))),
    ("Dirichlet value", lambda m: m.distributions.Dirichlet(m.tensor([1.0, 2.0])).log_prob(
        m.tensor([0.5, 0.6]))),
    ("Exponential rate", lambda m: m.distributions.Exponential(m.tensor([0.0]))),
    ("Poisson value", lambda m: m.distributions.Poisson(m.tensor([2.0])).log_prob(
        m.tensor([1.5]))),
    ("Binomial count", lambda m: m.distributions.Binomial(m.tensor([2.5]), m.tensor([0.5]))),
    ("Laplace scale", lambda m: m.distributions.Laplace(0.0, m.tensor([0.0]))),
    ("MVN covariance", lambda m: m.distributions.MultivariateNormal(
        m.zeros(2), covariance_matrix=m.tensor([[1.0, 2.0], [2.0, 1.0]]))),
    ("MVN scale_tril", lambda m: m.distributions.MultivariateNormal(
        m.zeros(2), scale_tril=m.tensor([[1.0, 0.0], [0.5, -1.0]]))),
    ("MVN two", lambda m: m.distributions.MultivariateNormal(
        m.zeros(2), covariance_matrix=m.eye(2), scale_tril=m.eye(2))),
    ("LowRank shapes", lambda m: m.distributions.LowRankMultivariateNormal(
        m.zeros(2), m.zeros(3, 1), m.ones(2))),
    ("Independent ndims", lambda m: m.distributions.Independent(
        m.distributions.Normal(m.zeros(2), m.ones(2)), 2)),
    ("event shape", lambda m: m.distributions.Dirichlet(m.ones(3)).log_prob(m.ones(2) / 2)),
    ("batch shape", lambda m: m.distributions.Normal(m.zeros(3), m.ones(3)).log_prob(
        m.zeros(2))),
    ("kl not implemented", lambda m: m.distributions.kl_divergence(
        m.distributions.Poisson(1.0), m.distributions.Normal(0.0, 1.0))),
    ("Gamma cdf grad in concentration", lambda m: m.autograd.grad(m.distributions.Gamma(
        m.tensor([2.0], requires_grad=True), 1.0).cdf(m.tensor([1.0])).sum(),
        m.tensor(0.0))),
    ("log_prob not tensor", lambda m: m.distributions.Normal(0.0, 1.0).log_prob(0.5)),
]


@requires_torch
@pytest.mark.parametrize("name, program", ERRORS, ids=[e[0] for e in ERRORS])
def test_validate_args_errors_equal_torch(name, program):
    mine, theirs = _error(lambda: program(dark)), _error(lambda: program(torch))
    assert theirs is not None and mine is not None, (mine, theirs)
    assert mine[0] is theirs[0], (mine, theirs)
    assert mine[1].replace("dark.", "torch.") == theirs[1]


def test_validate_args_switch_without_torch():
    assert D.Distribution._validate_args is True
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(1,\)\)"
                                         r" of distribution Normal\(loc: tensor\(\[0.\]\), "
                                         r"scale: tensor\(\[-1.\]\)\) to satisfy the "
                                         r"constraint GreaterThan\(lower_bound=0.0\), but "
                                         r"found invalid values:\ntensor\(\[-1.\]\)"):
        D.Normal(dark.tensor([0.0]), dark.tensor([-1.0]))
    D.Normal(dark.tensor([0.0]), dark.tensor([-1.0]), validate_args=False)
    try:
        D.Distribution.set_default_validate_args(False)
        d = D.Normal(dark.tensor([0.0]), dark.tensor([-1.0]))
        assert math.isnan(d.log_prob(dark.tensor([1.0])).item())
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


# ----------------------------------------------------------------------------- kl

def _kl_instances(lib, dtype, grad):
    rng = _rng(11)
    dt = getattr(lib, dtype)

    def t(a):
        x = lib.tensor(np.asarray(a), dtype=dt)
        return x.requires_grad_(True) if grad else x

    B = lib.distributions
    pos = lambda: rng.uniform(0.5, 2.5, size=3)  # noqa: E731
    unit = lambda: rng.uniform(0.1, 0.9, size=3)  # noqa: E731
    real = lambda: rng.normal(size=3)  # noqa: E731
    simplex = lambda: (lambda p: p / p.sum(-1, keepdims=True))(  # noqa: E731
        rng.uniform(0.2, 1.0, size=(3, 4)))
    tril = lambda: _param("tril", (3, 3), rng)  # noqa: E731
    low = rng.uniform(0.05, 0.3, size=3)
    return {
        "Bernoulli": lambda: B.Bernoulli(probs=t(unit())),
        "Beta": lambda: B.Beta(t(pos()), t(pos())),
        "Binomial": lambda: B.Binomial(t([5.0, 5.0, 5.0]), t(unit())),
        "Categorical": lambda: B.Categorical(probs=t(simplex())),
        "Dirichlet": lambda: B.Dirichlet(t(rng.uniform(0.5, 2.5, size=(3, 4)))),
        "Exponential": lambda: B.Exponential(t(pos())),
        "Gamma": lambda: B.Gamma(t(pos()), t(pos())),
        "Laplace": lambda: B.Laplace(t(real()), t(pos())),
        "LowRankMultivariateNormal": lambda: B.LowRankMultivariateNormal(
            t(rng.normal(size=(2, 3))), t(rng.normal(size=(2, 3, 2))),
            t(rng.uniform(0.5, 2.0, size=(2, 3)))),
        "MultivariateNormal": lambda: B.MultivariateNormal(
            t(rng.normal(size=(2, 3))), scale_tril=t(np.stack([tril(), tril()]))),
        "Normal": lambda: B.Normal(t(real()), t(pos())),
        "OneHotCategorical": lambda: B.OneHotCategorical(probs=t(simplex())),
        "Poisson": lambda: B.Poisson(t(pos())),
        "Uniform": lambda: B.Uniform(t(low), t(low + rng.uniform(0.3, 0.6, size=3))),
        "Independent": lambda: B.Independent(B.Normal(t(rng.normal(size=(3, 2))),
                                                      t(rng.uniform(0.5, 2, (3, 2)))), 1),
        "LogNormal": lambda: B.LogNormal(t(real()), t(pos())),
        "TransformedDistribution": lambda: B.TransformedDistribution(
            B.Normal(t(real()), t(pos())), [B.AffineTransform(1.0, 2.0)]),
    }


def _registered_pairs():
    if torch is None:
        return []
    from torch.distributions.kl import _KL_REGISTRY
    ours = {"Bernoulli", "Beta", "Binomial", "Categorical", "Dirichlet", "Exponential",
            "ExponentialFamily", "Gamma", "Laplace", "LowRankMultivariateNormal",
            "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson", "Uniform",
            "Independent", "TransformedDistribution"}
    return sorted((p.__name__, q.__name__) for p, q in _KL_REGISTRY
                  if p.__name__ in ours and q.__name__ in ours)


KL_PAIRS = _registered_pairs()


def test_kl_registry_holds_torchs_pairs_among_these():
    from dark.distributions.kl import _KL_REGISTRY
    mine = sorted((p.__name__, q.__name__) for p, q in _KL_REGISTRY)
    assert len(mine) == 48
    if torch is not None:
        assert mine == KL_PAIRS


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", KL_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_kl_divergence_matches_torch(pair, dtype):
    p_name, q_name = pair
    if p_name == "ExponentialFamily":  # the Bregman fallback: same family, not registered
        p_name = q_name = "Poisson"
        fallback = True
    else:
        fallback = False
    results = {}
    for lib in (dark, torch):
        made = _kl_instances(lib, dtype, True)
        p, q = made[p_name](), made[q_name]()
        if fallback:
            kl = lib.distributions.kl._kl_expfamily_expfamily(p, q)
        else:
            kl = lib.distributions.kl_divergence(p, q)
        leaves = _leaves(lib, p) + _leaves(lib, q)
        finite = lib.isfinite(kl)
        grads = []
        if kl.requires_grad:  # not for the pairs whose KL is infinite everywhere
            grads = lib.autograd.grad(kl.masked_fill(~finite, 0).sum(), leaves,
                                      allow_unused=True)
        results[lib] = (kl, grads)
    (mine, g), (theirs, h) = results[dark], results[torch]
    _close(mine, theirs, dtype, f"KL{pair}")
    assert len(g) == len(h) and mine.requires_grad == theirs.requires_grad
    for a, b in zip(g, h):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            _close(a, b, dtype, f"KL{pair} grad")


def _leaves(lib, d):
    found = []
    seen = set()

    def walk(obj):
        for value in vars(obj).values():
            if isinstance(value, (lib.Tensor,)) and value.is_leaf and value.requires_grad:
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif isinstance(value, lib.distributions.Distribution):
                walk(value)
            elif isinstance(value, lib.Tensor) and value.grad_fn is not None:
                _roots(value, found, seen)

    walk(d)
    return found


def _roots(t, found, seen):
    stack = [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        var = getattr(node, "variable", None)
        if var is not None and id(var) not in seen:
            seen.add(id(var))
            found.append(var)
        stack.extend(n for n, _ in getattr(node, "next_functions", ()))


# ----------------------------------------------------------------------------- transforms

TRANSFORMS = [
    ("Exp", lambda m: m.distributions.ExpTransform(), "real"),
    ("Affine", lambda m: m.distributions.AffineTransform(0.5, -2.0), "real"),
    ("Affine(tensor, event_dim=1)", lambda m: m.distributions.AffineTransform(
        m.tensor([0.5, 1.0, -1.0]), m.tensor([2.0, -0.5, 3.0]), event_dim=1), "real"),
    ("Sigmoid", lambda m: m.distributions.SigmoidTransform(), "real"),
    ("Tanh", lambda m: m.distributions.TanhTransform(), "real"),
    ("Power", lambda m: m.distributions.PowerTransform(m.tensor(2.5)), "pos"),
    ("Softplus", lambda m: m.distributions.SoftplusTransform(), "real"),
    ("StickBreaking", lambda m: m.distributions.StickBreakingTransform(), "real"),
    ("Softmax", lambda m: m.distributions.SoftmaxTransform(), "real"),
    ("LowerCholesky", lambda m: m.distributions.LowerCholeskyTransform(), "square"),
    ("Compose(Affine, Exp)", lambda m: m.distributions.ComposeTransform(
        [m.distributions.AffineTransform(0.1, 0.5), m.distributions.ExpTransform()]), "real"),
    ("identity", lambda m: m.distributions.identity_transform, "real"),
    ("Exp.inv", lambda m: m.distributions.ExpTransform().inv, "pos"),
    ("Independent(Sigmoid, 1)", lambda m: m.distributions.transforms.IndependentTransform(
        m.distributions.SigmoidTransform(), 1), "real"),
]


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, build, domain", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transforms_match_torch(name, build, domain, dtype):
    rng = _rng(4)
    x = rng.normal(size=(2, 3, 3)) if domain == "square" else rng.normal(size=(2, 3))
    if domain == "pos":
        x = np.abs(x) + 0.2
    out = {}
    for lib in (dark, torch):
        t = build(lib)
        xt = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        y = t(xt)
        back = t.inv(y)
        parts = [y, back]
        if name not in ("Softmax", "LowerCholesky"):  # torch has no log det for these
            parts.append(t.log_abs_det_jacobian(xt, y))
        total = sum(p.sum() for p in parts)
        g = lib.autograd.grad(total, xt)[0]
        out[lib] = (parts, g, t)
    (mine, g, mt), (theirs, h, tt) = out[dark], out[torch]
    for a, b in zip(mine, theirs):
        _close(a, b, dtype, name)
    _close(g, h, dtype, name + " grad")
    assert mt.bijective == tt.bijective
    assert repr(mt.domain) == repr(tt.domain) and repr(mt.codomain) == repr(tt.codomain)
    assert repr(mt) == repr(tt)


CONSTRAINTS = [
    ("real", lambda m: m.distributions.constraints.real),
    ("positive", lambda m: m.distributions.constraints.positive),
    ("nonnegative", lambda m: m.distributions.constraints.nonnegative),
    ("unit_interval", lambda m: m.distributions.constraints.unit_interval),
    ("simplex", lambda m: m.distributions.constraints.simplex),
    ("interval(-1, 2)", lambda m: m.distributions.constraints.interval(-1.0, 2.0)),
    ("greater_than(1)", lambda m: m.distributions.constraints.greater_than(1.0)),
    ("greater_than_eq(1)", lambda m: m.distributions.constraints.greater_than_eq(1.0)),
    ("less_than(1)", lambda m: m.distributions.constraints.less_than(1.0)),
    ("half_open_interval", lambda m: m.distributions.constraints.half_open_interval(0., 1.)),
    ("integer_interval(0, 3)", lambda m: m.distributions.constraints.integer_interval(0, 3)),
    ("nonnegative_integer", lambda m: m.distributions.constraints.nonnegative_integer),
    ("positive_integer", lambda m: m.distributions.constraints.positive_integer),
    ("boolean", lambda m: m.distributions.constraints.boolean),
    ("one_hot", lambda m: m.distributions.constraints.one_hot),
    ("real_vector", lambda m: m.distributions.constraints.real_vector),
    ("independent(positive, 1)",
     lambda m: m.distributions.constraints.independent(m.distributions.constraints.positive,
                                                       1)),
    ("lower_cholesky", lambda m: m.distributions.constraints.lower_cholesky),
    ("lower_triangular", lambda m: m.distributions.constraints.lower_triangular),
    ("positive_definite", lambda m: m.distributions.constraints.positive_definite),
    ("positive_semidefinite", lambda m: m.distributions.constraints.positive_semidefinite),
    ("symmetric", lambda m: m.distributions.constraints.symmetric),
    ("square", lambda m: m.distributions.constraints.square),
]


@requires_torch
@pytest.mark.parametrize("name, build", CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_constraints_match_torch(name, build):
    rng = _rng(8)
    values = [rng.normal(size=(4, 3)), np.abs(rng.normal(size=(4, 3))),
              rng.integers(-1, 4, size=(4, 3)).astype(float), np.eye(3)[[0, 2, 1, 1]],
              _param("simplex", (4, 3), rng), np.zeros((4, 3)), np.ones((4, 3)),
              np.array([[0.5, 0.5, float("nan")]] * 4)]
    matrices = [_param("pd", (2, 3, 3), rng), _param("tril", (2, 3, 3), rng),
                rng.normal(size=(2, 3, 3)), -_param("pd", (2, 3, 3), rng), np.zeros((2, 3, 3))]
    mine, theirs = build(dark), build(torch)
    assert repr(mine) == repr(theirs)
    assert mine.event_dim == theirs.event_dim and mine.is_discrete == theirs.is_discrete
    for v in (matrices if mine.event_dim == 2 else values):
        a = mine.check(dark.tensor(v))
        b = theirs.check(torch.tensor(v))
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=f"{name} {v}")


@requires_torch
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name, build", [c for c in CONSTRAINTS if c[0] in {
    "real", "positive", "nonnegative", "unit_interval", "simplex", "interval(-1, 2)",
    "greater_than(1)", "greater_than_eq(1)", "less_than(1)", "half_open_interval",
    "real_vector", "independent(positive, 1)", "lower_cholesky"}], ids=lambda c: str(c))
def test_biject_to_and_transform_to_match_torch(registry, name, build):
    if registry == "biject_to" and name == "lower_cholesky":
        with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky"):
            dark.distributions.biject_to(build(dark))
        return
    x = _rng(2).normal(size=(2, 3, 3) if name == "lower_cholesky" else (2, 3))
    out = {}
    for lib in (dark, torch):
        t = getattr(lib.distributions, registry)(build(lib))
        xt = lib.tensor(x)
        y = t(xt)
        exact = name not in ("lower_cholesky",) and (name != "simplex"
                                                     or registry == "biject_to")
        out[lib] = (y, t.log_abs_det_jacobian(xt, y) if exact else y, repr(t))
        assert bool(build(lib).check(y).all())
    (y, j, r), (z, k, s) = out[dark], out[torch]
    _close(y, z, "float64", name)
    _close(j, k, "float64", name)
    assert r == s


# ----------------------------------------------------------------------------- utils, api

@requires_torch
def test_utils_match_torch():
    from torch.distributions import utils as tu

    from dark.distributions import utils as du
    x = _rng(3).normal(size=(2, 4))
    p = _rng(3).uniform(0, 1, size=(2, 4))
    for fn in ("logits_to_probs", "probs_to_logits"):
        for binary in (False, True):
            arg = x if fn == "logits_to_probs" else p
            a = getattr(du, fn)(dark.tensor(arg), is_binary=binary)
            b = getattr(tu, fn)(torch.tensor(arg), is_binary=binary)
            _close(a, b, "float64", fn)
    _close(du.clamp_probs(dark.tensor([0.0, 1.0])), tu.clamp_probs(torch.tensor([0.0, 1.0])),
           "float32", "clamp_probs")
    a = du.broadcast_all(dark.tensor([1.0, 2.0], dtype=dark.float64), 3, 0.5)
    b = tu.broadcast_all(torch.tensor([1.0, 2.0], dtype=torch.float64), 3, 0.5)
    for u, v in zip(a, b):
        _close(u, v, "float64", "broadcast_all")
    assert [t.dtype for t in du.broadcast_all(1, 2.0)] == [dark.float32] * 2
    with pytest.raises(ValueError, match="Input arguments must all be instances of Number"):
        du.broadcast_all("a", 1.0)
    m = _rng(1).normal(size=(2, 3, 3))
    _close(du.tril_matrix_to_vec(dark.tensor(m)), tu.tril_matrix_to_vec(torch.tensor(m)),
           "float64", "tril_matrix_to_vec")
    v = _rng(1).normal(size=(2, 6))
    _close(du.vec_to_tril_matrix(dark.tensor(v)), tu.vec_to_tril_matrix(torch.tensor(v)),
           "float64", "vec_to_tril_matrix")


@requires_torch
def test_expand_perplexity_mode_enumerate_support_match_torch():
    out = {}
    for lib in (dark, torch):
        B = lib.distributions
        n = B.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 2.0])).expand((3, 2))
        c = B.Categorical(logits=lib.tensor([[0.1, 0.5, -0.2]])).expand((4,))
        b = B.Bernoulli(probs=lib.tensor([0.2, 0.5, 0.9]))
        g = B.Gamma(lib.tensor([0.5, 3.0]), 2.0)
        di = B.Dirichlet(lib.tensor([[0.5, 0.7, 0.9], [2.0, 3.0, 1.5]]))
        lib.manual_seed(0)
        out[lib] = [n.batch_shape, n.sample((2,)), n.perplexity(), c.batch_shape,
                    c.log_prob(lib.tensor([0, 1, 2, 1])), b.mode, b.enumerate_support(),
                    g.mode, di.mode, c.enumerate_support(), c.entropy(),
                    B.Binomial(4, lib.tensor([0.3, 0.6])).entropy(),
                    B.OneHotCategorical(logits=lib.tensor([0.1, 0.2, 0.3])).mode]
    for mine, theirs in zip(out[dark], out[torch]):
        if isinstance(theirs, torch.Size):
            assert tuple(mine) == tuple(theirs)
        else:
            _close(mine, theirs, str(_np(theirs).dtype), "api")


@requires_torch
def test_lognormal_and_transformed_cdf_icdf_and_kl_transformed():
    out = {}
    for lib in (dark, torch):
        B = lib.distributions
        base = B.Normal(lib.tensor([0.2, -0.3]), lib.tensor([1.0, 0.5]))
        t = B.TransformedDistribution(base, [B.AffineTransform(1.0, -2.0), B.ExpTransform()])
        v = lib.tensor([0.5, 3.0])
        p = B.LogNormal(0.0, 1.0)
        q = B.LogNormal(0.5, 2.0)
        out[lib] = [t.log_prob(v), t.cdf(v), t.icdf(lib.tensor([0.2, 0.7])),
                    B.kl_divergence(p, q), p.mean, p.variance, p.entropy(), p.mode]
    for mine, theirs in zip(out[dark], out[torch]):
        _close(mine, theirs, "float32", "transformed")


# ----------------------------------------------------------------------------- without torch

def test_closed_forms_without_torch():
    loc, scale = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    x = np.array([1.0, 0.25])
    n = D.Normal(dark.tensor(loc), dark.tensor(scale))
    ref = -((x - loc) ** 2) / (2 * scale ** 2) - np.log(scale) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(n.log_prob(dark.tensor(x)).numpy(), ref, rtol=1e-6)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(n.cdf(dark.tensor(x)).numpy(),
                               0.5 * (1 + erf((x - loc) / (scale * math.sqrt(2)))), rtol=1e-6)
    np.testing.assert_allclose(n.icdf(n.cdf(dark.tensor(x))).numpy(), x, rtol=1e-5)
    g = D.Gamma(dark.tensor([2.0], dtype=dark.float64), dark.tensor([3.0], dtype=dark.float64))
    v = 0.7
    ref = 2 * math.log(3) + math.log(v) - 3 * v - math.lgamma(2.0)
    np.testing.assert_allclose(g.log_prob(dark.tensor([v], dtype=dark.float64)).numpy(), [ref])
    np.testing.assert_allclose(g.cdf(dark.tensor([v], dtype=dark.float64)).numpy(),
                               [1 - math.exp(-2.1) * (1 + 2.1)], rtol=1e-12)
    kl = D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 2.0))
    np.testing.assert_allclose(kl.item(), math.log(2) + (1 + 1) / 8 - 0.5, rtol=1e-6)
    c = D.Categorical(probs=dark.tensor([0.25, 0.25, 0.5]))
    np.testing.assert_allclose(c.entropy().item(), -(2 * 0.25 * math.log(0.25)
                                                     + 0.5 * math.log(0.5)), rtol=1e-6)
    mvn = D.MultivariateNormal(dark.zeros(2), covariance_matrix=dark.tensor([[2.0, 0.0],
                                                                            [0.0, 0.5]]))
    np.testing.assert_allclose(mvn.log_prob(dark.tensor([1.0, 1.0])).item(),
                               -math.log(2 * math.pi) - 0.5 * (0.5 + 2.0), rtol=1e-6)


def test_sample_shapes_and_support_without_torch():
    dark.manual_seed(0)
    cases = [D.Normal(dark.zeros(3), dark.ones(3)), D.Gamma(dark.ones(3), 2.0),
             D.Beta(dark.ones(3), 2.0), D.Dirichlet(dark.ones(2, 3)),
             D.Binomial(10, dark.tensor([0.2, 0.5, 0.9])), D.Poisson(dark.ones(3)),
             D.Categorical(logits=dark.zeros(3, 4)), D.Uniform(0.0, dark.ones(3)),
             D.LowRankMultivariateNormal(dark.zeros(3), dark.ones(3, 1), dark.ones(3))]
    for d in cases:
        x = d.sample((4, 2))
        assert tuple(x.shape) == (4, 2) + tuple(d.batch_shape) + tuple(d.event_shape)
        assert bool(d.support.check(x).all()), d
    g = D.Gamma(dark.tensor([0.5, 4.0], dtype=dark.float64), 1.0).sample((4000,))
    np.testing.assert_allclose(g.mean(0).numpy(), [0.5, 4.0], rtol=0.06)
    np.testing.assert_allclose(g.var(0).numpy(), [0.5, 4.0], rtol=0.12)


def test_gamma_rsample_gradient_is_the_quantile_derivative_without_torch():
    # d/dalpha of x(alpha, u) at a fixed CDF value: finite difference of the inverse CDF
    # (bisection on gammainc) at the sample's own quantile.
    from dark.distributions._functions import gammainc
    dark.manual_seed(3)
    alpha = dark.tensor([0.7, 2.0, 9.0], dtype=dark.float64, requires_grad=True)
    x = D.Gamma(alpha, 1.0).rsample()
    (grad,) = dark.autograd.grad(x.sum(), alpha)
    for a, xi, gi in zip(alpha.tolist(), x.tolist(), grad.tolist()):
        level = gammainc(dark.tensor(a, dtype=dark.float64),
                         dark.tensor(xi, dtype=dark.float64)).item()

        def quantile(shape, u=level):
            lo, hi = 0.0, 100.0
            for _ in range(200):
                mid = (lo + hi) / 2
                val = gammainc(dark.tensor(shape, dtype=dark.float64),
                               dark.tensor(mid, dtype=dark.float64)).item()
                lo, hi = (mid, hi) if val < u else (lo, mid)
            return lo

        h = 1e-5
        fd = (quantile(a + h) - quantile(a - h)) / (2 * h)
        assert abs(fd - gi) < 2e-3 * max(1, abs(fd)), (a, fd, gi)


def test_constraints_and_registry_without_torch():
    assert repr(C.interval(0, 1)) == "Interval(lower_bound=0, upper_bound=1)"
    assert repr(C.independent(C.positive, 1)) == \
        "IndependentConstraint(GreaterThan(lower_bound=0.0), 1)"
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    assert C.simplex.check(dark.tensor([0.2, 0.8])).item()
    assert not C.positive_definite.check(dark.tensor([[1.0, 2.0], [2.0, 1.0]])).item()
    t = D.biject_to(C.interval(-1.0, 1.0))
    assert isinstance(t, D.ComposeTransform)
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        D.transform_to(C.boolean)

    class Mine(D.Normal):
        pass

    @D.register_kl(Mine, D.Normal)
    def _kl(p, q):
        return dark.tensor(42.0)

    try:
        assert D.kl_divergence(Mine(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0
    finally:
        from dark.distributions.kl import _KL_MEMOIZE, _KL_REGISTRY
        del _KL_REGISTRY[Mine, D.Normal]
        _KL_MEMOIZE.clear()


@requires_torch
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_repr_support_flags_and_expand_match_torch(spec):
    arrays = spec.arrays((2,))
    out = {}
    for lib in (dark, torch):
        d = spec.build(lib, _tensors(lib, arrays, "float32", False))
        try:
            support = repr(d.support)
        except NotImplementedError:
            support = "NotImplementedError"
        e = d.expand((3, 2))
        lib.manual_seed(0)
        x = e.sample()
        out[lib] = (repr(d).replace("torch.", "dark."), support, d.has_rsample,
                    d.has_enumerate_support, tuple(e.batch_shape), tuple(e.event_shape),
                    tuple(x.shape), str(e.log_prob(x).dtype).split(".")[-1])
    assert out[dark] == out[torch]


def test_distributions_on_device(device):
    """Parameters on ``device`` give results on it, equal to the CPU's (the CUDA samplers
    draw their own stream, so only shapes and support are checked for samples)."""
    loc = np.array([0.5, -1.0, 2.0])
    scale = np.array([1.0, 0.5, 2.0])
    conc = np.array([[0.5, 1.5, 3.0], [2.0, 2.0, 2.0]])
    cov = _param("pd", (3, 3), _rng(0))
    values = {}
    for dev in ("cpu", device):
        t = lambda a, dev=dev: dark.tensor(a, dtype=dark.float64, device=dev)  # noqa: E731
        n = D.Normal(t(loc), t(scale))
        g = D.Gamma(t(loc ** 2 + 0.5), t(scale))
        di = D.Dirichlet(t(conc))
        mvn = D.MultivariateNormal(t(loc), covariance_matrix=t(cov))
        x = t(np.array([0.3, 0.2, 1.1]))
        results = [n.log_prob(x), n.cdf(x), n.icdf(t(np.array([0.1, 0.5, 0.9]))),
                   g.log_prob(x), g.entropy(), di.entropy(), mvn.log_prob(x), mvn.entropy(),
                   D.kl_divergence(n, D.Normal(t(scale), t(loc ** 2 + 1))),
                   D.kl_divergence(di, D.Dirichlet(t(conc[::-1].copy())))]
        for r in results:
            assert r.device.type == dark.device(dev).type
        for d in (g, di, mvn, D.Binomial(t(np.array([3.0, 20.0, 50.0])),
                                        t(np.array([0.2, 0.5, 0.9])))):
            s = d.sample((100,))
            assert s.device.type == dark.device(dev).type
            assert bool(d.support.check(s).all())
        values[dev] = [r.cpu().numpy() for r in results]
    for a, b in zip(values["cpu"], values[device]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_vectorised_samplers_of_the_cuda_path_on_numpy():
    """The CUDA path's samplers (vectorised Marsaglia-Tsang over whole arrays, and the
    binomial over an array-drawing engine), run here on numpy with a CPU engine: their
    moments are the distribution's."""
    from dark.distributions import _functions
    from dark.random import engine_for
    dark.manual_seed(0)
    engine = engine_for(None, dark.device("cpu"))
    alpha = np.repeat(np.array([0.0, 0.3, 1.0, 4.5]), 20000).reshape(4, -1).T.copy()
    draws = _functions._gamma_vectorised(engine, alpha, np.float64)
    assert draws.dtype == np.float64 and (draws[:, 0] == 0).all() and (draws >= 0).all()
    np.testing.assert_allclose(draws[:, 1:].mean(0), [0.3, 1.0, 4.5], rtol=0.05)
    np.testing.assert_allclose(draws[:, 1:].var(0), [0.3, 1.0, 4.5], rtol=0.1)
    stream = _functions._VectorStream(engine)
    counts = [_functions._binomial_one(n, p, float, stream)
              for n, p in [(30.0, 0.4), (5.0, 0.2)] * 3000]
    counts = np.array(counts).reshape(-1, 2)
    np.testing.assert_allclose(counts.mean(0), [12.0, 1.0], rtol=0.05)
    np.testing.assert_allclose(counts.var(0), [7.2, 0.8], rtol=0.12)


@requires_torch
@pytest.mark.parametrize("batched", [False, True])
def test_mvn_of_a_matrix_that_is_not_positive_definite_raises_torchs_linalg_error(batched):
    bad = [[1.0, 2.0], [2.0, 1.0]]
    cov = [[[1.0, 0.0], [0.0, 1.0]], bad] if batched else bad
    errors = {}
    for lib in (dark, torch):
        with pytest.raises(lib.linalg.LinAlgError) as caught:
            lib.distributions.MultivariateNormal(lib.zeros(2), covariance_matrix=lib.tensor(cov),
                                                 validate_args=False)
        errors[lib] = caught.value
    assert isinstance(errors[dark], RuntimeError)
    assert str(errors[dark]) == str(errors[torch])


# ----------------------------------------------------------------------------- special functions

def test_special_function_gradients_pass_gradcheck():
    from dark.distributions import _functions as f
    x = dark.tensor([0.3, 1.7, 4.2, 11.5], dtype=dark.float64, requires_grad=True)
    y = dark.tensor([-0.9, -0.2, 0.4, 0.95], dtype=dark.float64, requires_grad=True)
    a = dark.tensor([0.5, 2.0, 3.0, 7.0], dtype=dark.float64)
    assert dark.autograd.gradcheck(f.lgamma, (x,))
    assert dark.autograd.gradcheck(f.digamma, (x,))
    assert dark.autograd.gradgradcheck(f.digamma, (x,))
    assert dark.autograd.gradgradcheck(f.lgamma, (x,))
    assert dark.autograd.gradcheck(f.erfinv, (y,))
    assert dark.autograd.gradcheck(lambda v: f.gammainc(a, v), (x,))
    y_of_xlogy = dark.tensor([0.2, 1.0, 3.0, 0.7], dtype=dark.float64)
    assert dark.autograd.gradcheck(lambda v: f.xlogy(v, y_of_xlogy), (x,))
    assert dark.autograd.gradcheck(lambda v: f.xlogy(y_of_xlogy, v), (x,))


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_functions_match_torch(dtype):
    from dark.distributions import _functions as f
    grid = np.concatenate([np.linspace(-4.5, 25, 61), [0.0, -1.0, -2.0, 1e-8, 150.0,
                                                         float("nan"), float("inf")]])
    unit = np.concatenate([np.linspace(-0.999, 0.999, 41), [-1.0, 1.0, 1.5, float("nan")]])
    pos = np.linspace(0.05, 30, 25)
    # torch's float32 trigamma is computed in float32: off by 1e-5 relative below 0, and
    # finite garbage at the poles; dark's is float64 rounded, so float32 compares on x > 0
    positive = grid[grid > 0] if dtype == "float32" else grid
    pairs = [("lgamma", torch.lgamma, grid), ("digamma", torch.digamma, grid),
             ("trigamma", lambda v: torch.polygamma(1, v), positive),
             ("tetragamma", lambda v: torch.polygamma(2, v), positive),
             ("erfinv", torch.erfinv, unit)]
    for name, theirs, values in pairs:
        function = f.Tetragamma.apply if name == "tetragamma" else getattr(f, name)
        mine = function(dark.tensor(values, dtype=getattr(dark, dtype)))
        want = theirs(torch.tensor(values, dtype=getattr(torch, dtype)))
        tol = {"float32": 3e-6, "float64": 1e-12}[dtype]
        np.testing.assert_allclose(mine.numpy(), want.numpy(), rtol=tol, atol=tol,
                                   err_msg=name)
    a, x = np.meshgrid(pos[:12], pos[::2])
    mine = f.gammainc(dark.tensor(a, dtype=getattr(dark, dtype)),
                      dark.tensor(x, dtype=getattr(dark, dtype)))
    want = torch.special.gammainc(torch.tensor(a, dtype=getattr(torch, dtype)),
                                  torch.tensor(x, dtype=getattr(torch, dtype)))
    np.testing.assert_allclose(mine.numpy(), want.numpy(), rtol=1e-5 if dtype == "float32"
                               else 1e-9, atol=1e-7 if dtype == "float32" else 1e-12)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_reparameterisation_gradients_match_atens_on_every_branch(dtype):
    """_standard_gamma_grad (Taylor series for x < 0.8, Rice saddle point for alpha > 8, the
    bivariate rational approximation) and _dirichlet_grad (small-x and near-1 series, the
    large alpha-and-beta expansion, the rational correction) over a grid reaching each."""
    from dark.distributions import _functions as f
    alpha = np.array([0.05, 0.5, 1.0, 3.0, 7.9, 8.5, 20.0, 200.0])
    x = np.array([0.01, 0.3, 0.79, 1.5, 5.0, 8.0, 18.0, 21.0, 190.0, 230.0])
    A, X = np.meshgrid(alpha, x)
    dt, tt = getattr(dark, dtype), getattr(torch, dtype)
    mine = f.standard_gamma_grad(dark.tensor(A, dtype=dt), dark.tensor(X, dtype=dt))
    theirs = torch._standard_gamma_grad(torch.tensor(A, dtype=tt), torch.tensor(X, dtype=tt))
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=tol, atol=tol)
    conc = np.array([0.3, 1.0, 2.5, 7.0, 12.0, 40.0])
    total = np.array([1.0, 3.0, 14.0, 30.0, 100.0])
    xs = np.array([0.001, 0.05, 0.2, 0.45, 0.5, 0.55, 0.8, 0.97, 0.999])
    C3, T3, X3 = np.meshgrid(conc, total, xs, indexing="ij")
    keep = C3 < T3
    args = [C3[keep], T3[keep], X3[keep]]
    mine = f.dirichlet_grad(*(dark.tensor(a, dtype=dt) for a in (args[2], args[0], args[1])))
    theirs = torch._dirichlet_grad(*(torch.tensor(a, dtype=tt)
                                     for a in (args[2], args[0], args[1])))
    tol = {"float32": 2e-5, "float64": 1e-11}[dtype]
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=tol, atol=tol)
