"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm, orthogonal)
and the hook-based nn.utils.weight_norm / spectral_norm against torch: the state a
registration makes from the same weights (names, values), then, from the same state copied
both ways, outputs and parameter gradients over several SGD steps in float32 and float64,
the state after; gradcheck of each parametrization; assignment through right_inverse,
cached(), removal, and torch's errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest
from harness import LIBS, raises_like, requires_torch, torch

import dark
import dark.nn.utils.parametrizations
import dark.nn.utils.parametrize

if torch is not None:
    import torch.nn.utils.parametrizations  # noqa: F401
    import torch.nn.utils.parametrize  # noqa: F401

RNG = np.random.default_rng(0)


def _np(t):
    return t.detach().numpy()


def _to_dark(state):
    return {k: dark.tensor(v.detach().numpy()) for k, v in state.items()}


def _to_torch(state):
    return {k: torch.tensor(v.detach().numpy()) for k, v in state.items()}


def _register(lib, kind, module):
    P = lib.nn.utils.parametrizations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return {
            "weight_norm": lambda: P.weight_norm(module),
            "weight_norm_dim1": lambda: P.weight_norm(module, dim=1),
            "weight_norm_none": lambda: P.weight_norm(module, dim=None),
            "spectral_norm": lambda: P.spectral_norm(module),
            "spectral_norm_3it": lambda: P.spectral_norm(module, n_power_iterations=3,
                                                         eps=1e-6),
            "matrix_exp": lambda: P.orthogonal(module, orthogonal_map="matrix_exp"),
            "cayley": lambda: P.orthogonal(module, orthogonal_map="cayley"),
            "householder": lambda: P.orthogonal(module, orthogonal_map="householder"),
            "householder_no_triv": lambda: P.orthogonal(
                module, orthogonal_map="householder", use_trivialization=False),
            "matrix_exp_no_triv": lambda: P.orthogonal(
                module, orthogonal_map="matrix_exp", use_trivialization=False),
            "old_weight_norm": lambda: lib.nn.utils.weight_norm(module),
            "old_weight_norm_none": lambda: lib.nn.utils.weight_norm(module, dim=None),
            "old_spectral_norm": lambda: lib.nn.utils.spectral_norm(module),
            "old_spectral_norm_2it": lambda: lib.nn.utils.spectral_norm(
                module, n_power_iterations=2),
        }[kind]()


KINDS = ["weight_norm", "weight_norm_dim1", "weight_norm_none", "spectral_norm",
         "spectral_norm_3it", "matrix_exp", "cayley", "householder", "householder_no_triv",
         "matrix_exp_no_triv", "old_weight_norm", "old_weight_norm_none", "old_spectral_norm",
         "old_spectral_norm_2it"]
# registrations whose initial state depends on a random draw (power-method start; the
# completion of a non-square matrix to an orthogonal one)
RANDOM_INIT = {"spectral_norm", "spectral_norm_3it", "old_spectral_norm",
               "old_spectral_norm_2it"}


def _pair(kind, shape, dtype):
    """A torch and a dark Linear with the same weights, ``kind`` registered on both."""
    tm = torch.nn.Linear(shape[1], shape[0]).to(getattr(torch, dtype))
    dm = dark.nn.Linear(shape[1], shape[0]).to(getattr(dark, dtype))
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(RNG.standard_normal(shape)))
    dm.load_state_dict(_to_dark(tm.state_dict()))
    return _register(torch, kind, tm), _register(dark, kind, dm)


@requires_torch
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("kind", KINDS)
def test_registration_state_as_torch(kind, shape):
    tm, dm = _pair(kind, shape, "float64")
    assert type(dm).__name__ == type(tm).__name__
    ts, ds = tm.state_dict(), dm.state_dict()
    assert list(ds) == list(ts)
    assert [n for n, _ in dm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in dm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    random_init = kind in RANDOM_INIT or (shape[0] != shape[1] and kind in (
        "matrix_exp", "cayley", "householder"))
    for key in ts:
        assert ds[key].shape == tuple(ts[key].shape), key
        assert ds[key].dtype == getattr(dark, str(ts[key].dtype).split(".")[1]), key
        if not random_init:
            np.testing.assert_allclose(_np(ds[key]), _np(ts[key]), rtol=1e-10, atol=1e-12,
                                       err_msg=key)
    if not random_init:
        np.testing.assert_allclose(_np(dm.weight), _np(tm.weight), rtol=1e-10, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("kind", KINDS)
def test_training_matches_torch(kind, shape, dtype):
    tm, dm = _pair(kind, shape, dtype)
    dm.load_state_dict(_to_dark(tm.state_dict()))  # the random parts of the state too
    rtol, atol = (1e-10, 1e-11) if dtype == "float64" else (2e-4, 2e-5)
    x = RNG.standard_normal((6, shape[1]))
    topt = torch.optim.SGD(tm.parameters(), lr=0.05)
    dopt = dark.optim.SGD(dm.parameters(), lr=0.05)
    for step in range(4):
        if step == 3:
            tm.eval()  # spectral norm: no power iteration
            dm.eval()
        yt = tm(torch.tensor(x, dtype=getattr(torch, dtype)))
        yd = dm(dark.tensor(x, dtype=getattr(dark, dtype)))
        np.testing.assert_allclose(_np(yd), _np(yt), rtol=rtol, atol=atol)
        (yt ** 2).sum().backward()
        (yd ** 2).sum().backward()
        for (name, pt), (dname, pd) in zip(tm.named_parameters(), dm.named_parameters()):
            assert dname == name
            np.testing.assert_allclose(_np(pd.grad), _np(pt.grad), rtol=rtol,
                                       atol=atol * 10, err_msg=f"step {step} {name}")
        topt.step()
        dopt.step()
        topt.zero_grad()
        dopt.zero_grad()
    for (key, vt), (dkey, vd) in zip(tm.state_dict().items(), dm.state_dict().items()):
        assert dkey == key
        np.testing.assert_allclose(_np(vd), _np(vt), rtol=rtol, atol=atol, err_msg=key)
    # and back: dark's state loads into torch and gives dark's weight
    tm.load_state_dict(_to_torch(dm.state_dict()))
    np.testing.assert_allclose(_np(dm.weight), _np(tm.weight), rtol=rtol, atol=atol)


@requires_torch
@pytest.mark.parametrize("module", ["conv", "conv_transpose"])
@pytest.mark.parametrize("new", [True, False])
def test_spectral_norm_of_convolutions(module, new):
    """A 4-D weight seen as a matrix with ``dim`` first (1 for ConvTranspose)."""
    def make(lib):
        if module == "conv":
            m = lib.nn.Conv2d(3, 4, 3).double()
        else:
            m = lib.nn.ConvTranspose2d(3, 4, 3).double()
        return m

    tm, dm = make(torch), make(dark)
    dm.load_state_dict(_to_dark(tm.state_dict()))
    sn = torch.nn.utils.parametrizations.spectral_norm if new else torch.nn.utils.spectral_norm
    dsn = (dark.nn.utils.parametrizations.spectral_norm if new
           else dark.nn.utils.spectral_norm)
    sn(tm, n_power_iterations=2)
    dsn(dm, n_power_iterations=2)
    dm.load_state_dict(_to_dark(tm.state_dict()))
    x = RNG.standard_normal((2, 3, 6, 6))
    for _ in range(2):
        yt, yd = tm(torch.tensor(x)), dm(dark.tensor(x))
        np.testing.assert_allclose(_np(yd), _np(yt), rtol=1e-10, atol=1e-12)
        yt.sum().backward()
        yd.sum().backward()
    for (name, pt), (_, pd) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(_np(pd.grad), _np(pt.grad), rtol=1e-9, atol=1e-11,
                                   err_msg=name)
    for (key, vt), (_, vd) in zip(tm.state_dict().items(), dm.state_dict().items()):
        np.testing.assert_allclose(_np(vd), _np(vt), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("new", [True, False])
def test_spectral_norm_estimates_the_top_singular_value(new):
    """The power method from the registered start gives W / sigma_max (15 iterations at
    registration for the parametrization, more steps in training for both); eval mode
    leaves u and v alone."""
    dark.manual_seed(0)
    m = dark.nn.Linear(6, 5).double()
    w = m.weight.detach().numpy().copy()
    if new:
        dark.nn.utils.parametrizations.spectral_norm(m)
        u = m.parametrizations.weight[0]._u
    else:
        dark.nn.utils.spectral_norm(m)
        u = m.weight_u
    for _ in range(30):
        m(dark.zeros(1, 6, dtype=dark.float64))
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(m.weight.detach().numpy(), w / sigma, rtol=1e-8)
    m.eval()
    before = u.numpy().copy()
    m(dark.zeros(1, 6, dtype=dark.float64))
    np.testing.assert_array_equal(u.numpy(), before)


def test_orthogonal_weights_are_orthogonal():
    for shape, orthogonal_map in [((5, 5), "matrix_exp"), ((6, 3), "cayley"),
                                  ((3, 6), "householder"), ((4, 4), None)]:
        m = dark.nn.Linear(shape[1], shape[0])
        dark.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map)
        q = m.weight.detach().numpy()
        gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
        np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)


def _gradcheck_parametrization(module_factory, register, householder=False):
    """gradcheck of the map from the original tensor(s) to the parametrized weight (for
    householder, of the reflectors below the diagonal: the diagonal holds signs, cast to
    int without gradient, as torch does, so it is held fixed)."""
    m = module_factory()
    register(m)
    plist = m.parametrizations.weight
    names = [n for n, _ in plist.named_parameters(recurse=False)]
    # contiguous copies: dark.autograd.gradcheck perturbs a strided input's copy, not it
    originals = [getattr(plist, n).detach().contiguous().clone().requires_grad_()
                 for n in names]
    fixed = [o.detach().clone() for o in originals]

    def function(*tensors):
        for name, t, f in zip(names, tensors, fixed):
            if householder:
                mask = dark.ones_like(f).tril(-1) if f.shape[-2] >= f.shape[-1] else (
                    dark.ones_like(f).triu(1))
                t = t * mask + f * (1 - mask)
            plist._parameters[name] = t
        return m.weight

    assert dark.autograd.gradcheck(function, originals)


@pytest.mark.parametrize("kind", ["weight_norm", "weight_norm_none", "spectral_norm",
                                  "matrix_exp", "cayley", "householder",
                                  "householder_no_triv"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_gradcheck(kind, shape):
    def factory():
        return dark.nn.Linear(shape[1], shape[0]).double()

    def register(m):
        _register(dark, kind, m)
        m.eval()  # spectral norm: u, v fixed, so the map is a function

    _gradcheck_parametrization(factory, register, householder=kind.startswith("householder"))


def test_gradcheck_hook_based():
    for register in (dark.nn.utils.spectral_norm,
                     lambda m: dark.nn.utils.weight_norm(m, dim=1)):
        m = dark.nn.Linear(3, 4).double().eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            register(m)
        names = [n for n, _ in m.named_parameters() if n.startswith("weight")]
        x = dark.tensor(RNG.standard_normal((2, 3)))

        def function(*tensors, m=m, names=names, x=x):
            for name, t in zip(names, tensors):
                m._parameters[name] = t
            return m(x)

        originals = [getattr(m, n).detach().clone().requires_grad_() for n in names]
        assert dark.autograd.gradcheck(function, originals)


# ----------------------------------------------------------------------------- parametrize


def _lib_modules(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class Scale(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, X):
            self.calls += 1
            return X * 2

        def right_inverse(self, A):
            return A / 2

    class RankOne(lib.nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            return Z[:, 0].clone(), Z[0, :].clone() / Z[0, 0]

    class Flatten(lib.nn.Module):  # changes the shape: unsafe only
        def forward(self, X):
            return X.reshape(-1)

    class ToFloat32(lib.nn.Module):
        def forward(self, X):
            return X.float()

    return Symmetric, Scale, RankOne, Flatten, ToFloat32


@pytest.mark.parametrize("lib", LIBS)
def test_register_parametrization_semantics(lib):
    P = lib.nn.utils.parametrize
    Symmetric, Scale, RankOne, _, _ = _lib_modules(lib)
    m = lib.nn.Linear(3, 3)
    weight = m.weight
    original_value = weight.detach().clone()
    P.register_parametrization(m, "weight", Scale())
    assert type(m).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(m) is lib.nn.Linear
    assert isinstance(m, lib.nn.Linear)
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    # right_inverse at registration: original = A / 2 is the same Parameter object
    assert m.parametrizations.weight.original is weight
    assert lib.allclose(weight, original_value / 2)
    assert lib.allclose(m.weight, original_value)
    assert "weight" not in dict(m.named_parameters(recurse=False))
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    # assignment goes through right_inverse
    value = lib.arange(9.0).reshape(3, 3)
    m.weight = value
    assert lib.allclose(m.parametrizations.weight.original, value / 2)
    assert lib.allclose(m.weight, value)
    # chained: Symmetric after Scale
    P.register_parametrization(m, "weight", Symmetric())
    assert len(m.parametrizations.weight) == 2
    w = m.weight
    assert lib.allclose(w, w.T)
    # cached(): one evaluation inside the block
    scale = m.parametrizations.weight[0]
    scale.calls = 0
    with P.cached():
        a, b = m.weight, m.weight
        assert a is b
    assert scale.calls == 1
    assert lib.allclose(m.weight, a)
    assert scale.calls == 2
    # gradients reach the original
    m(lib.ones(2, 3)).sum().backward()
    assert weight.grad is not None
    # remove, leaving the value (same object)
    expected = m.weight.detach().clone()
    P.remove_parametrizations(m, "weight")
    assert type(m) is lib.nn.Linear and not hasattr(m, "parametrizations")
    assert m.weight is weight and lib.allclose(m.weight, expected)
    assert list(m.state_dict()) == ["bias", "weight"]
    # leave_parametrized=False: the original comes back
    P.register_parametrization(m, "weight", Scale())
    original = m.parametrizations.weight.original.detach().clone()
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert lib.allclose(m.weight, original)
    # several original tensors: original0, original1
    m = lib.nn.Linear(3, 3)
    with lib.no_grad():
        m.weight.copy_(lib.outer(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, -1.0, 0.5])))
    P.register_parametrization(m, "weight", RankOne())
    assert [n for n, _ in m.named_parameters()] == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert lib.allclose(m.weight, lib.outer(lib.tensor([1.0, 2.0, 3.0]),
                                            lib.tensor([1.0, -1.0, 0.5])))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, lib.nn.Parameter)
    # buffers are parametrized as buffers
    bn = lib.nn.BatchNorm1d(3)
    P.register_parametrization(bn, "running_var", Scale())
    assert "parametrizations.running_var.original" in bn.state_dict()
    assert [n for n, _ in bn.named_buffers()][-1] == "parametrizations.running_var.original"


@pytest.mark.parametrize("lib", LIBS)
def test_parametrized_module_copy_and_pickle(lib):
    P = lib.nn.utils.parametrize
    Symmetric = _lib_modules(lib)[0]
    m = P.register_parametrization(lib.nn.Linear(3, 3), "weight", Symmetric())
    c = copy.deepcopy(m)
    assert type(c).__name__ == "ParametrizedLinear" and lib.allclose(c.weight, m.weight)
    assert c.parametrizations.weight.original is not m.parametrizations.weight.original
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only "
                       "supported through state_dict"):
        pickle.dumps(m)


@requires_torch
def test_parametrize_errors_as_torch():
    def both(program):
        raises_like(lambda: program(dark), lambda: program(torch))

    def mods(lib):
        return _lib_modules(lib)

    both(lambda lib: lib.nn.utils.parametrize.register_parametrization(
        lib.nn.Linear(2, 2), "weight", mods(lib)[3]()))              # shape change
    both(lambda lib: lib.nn.utils.parametrize.register_parametrization(
        lib.nn.Linear(2, 2).double(), "weight", mods(lib)[4]()))     # dtype change

    def chained_shape(lib):
        m = lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "weight",
                                                              mods(lib)[0]())
        lib.nn.utils.parametrize.register_parametrization(m, "weight", mods(lib)[3]())

    both(chained_shape)
    both(lambda lib: lib.nn.utils.parametrize.register_parametrization(
        lib.nn.Linear(2, 2), "nothing", mods(lib)[0]()))
    both(lambda lib: lib.nn.utils.parametrize.remove_parametrizations(
        lib.nn.Linear(2, 2), "weight"))

    def assign_without_right_inverse(lib):
        m = lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "weight",
                                                              mods(lib)[0]())
        m.weight = lib.ones(2, 2)

    both(assign_without_right_inverse)

    def unsafe_ok(lib):
        m = lib.nn.utils.parametrize.register_parametrization(
            lib.nn.Linear(2, 2), "weight", mods(lib)[3](), unsafe=True)
        return tuple(m.weight.shape)

    assert unsafe_ok(dark) == unsafe_ok(torch) == (4,)
    P = "nn.utils.parametrizations"
    both(lambda lib: eval(f"lib.{P}.orthogonal")(lib.nn.Linear(2, 2), orthogonal_map="x"))
    both(lambda lib: eval(f"lib.{P}.orthogonal")(lib.nn.BatchNorm1d(2)))
    both(lambda lib: eval(f"lib.{P}.orthogonal")(lib.nn.Linear(2, 2), "nothing"))
    both(lambda lib: eval(f"lib.{P}.spectral_norm")(lib.nn.Linear(2, 2), dim=2))
    both(lambda lib: eval(f"lib.{P}.spectral_norm")(lib.nn.Linear(2, 2),
                                                    n_power_iterations=0))

    def orthogonal_assign(lib, shape, use_trivialization):
        m = eval(f"lib.{P}.orthogonal")(lib.nn.Linear(2, 2), orthogonal_map="cayley",
                                        use_trivialization=use_trivialization)
        m.weight = lib.eye(*shape)

    both(lambda lib: orthogonal_assign(lib, (3, 2), True))
    both(lambda lib: orthogonal_assign(lib, (2, 2), False))


@requires_torch
@pytest.mark.parametrize("kind", ["householder", "matrix_exp", "householder_no_triv"])
def test_orthogonal_assignment_as_torch(kind):
    """Assigning a (non-orthogonal) square matrix: orthogonalized into base (or the
    reflectors) as torch does."""
    tm, dm = _pair(kind, (4, 4), "float64")
    value = RNG.standard_normal((4, 4))
    tm.weight = torch.tensor(value)
    dm.weight = dark.tensor(value)
    for (key, vt), (_, vd) in zip(tm.state_dict().items(), dm.state_dict().items()):
        np.testing.assert_allclose(_np(vd), _np(vt), rtol=1e-10, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(_np(dm.weight), _np(tm.weight), rtol=1e-10, atol=1e-12)


@requires_torch
def test_weight_norm_assignment_and_old_state_dict():
    tm, dm = _pair("weight_norm", (3, 4), "float64")
    value = RNG.standard_normal((3, 4))
    tm.weight = torch.tensor(value)
    dm.weight = dark.tensor(value)
    for (key, vt), (_, vd) in zip(tm.state_dict().items(), dm.state_dict().items()):
        np.testing.assert_allclose(_np(vd), _np(vt), rtol=1e-12, err_msg=key)
    # a state_dict of the hook-based weight_norm loads into the parametrized one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3).double())
    assert sorted(old.state_dict()) == ["bias", "weight_g", "weight_v"]
    dm.load_state_dict(_to_dark(old.state_dict()))
    np.testing.assert_allclose(_np(dm.weight), _np(old.weight), rtol=1e-12)


# ----------------------------------------------------------------------------- hook-based


@pytest.mark.parametrize("lib", LIBS)
def test_old_weight_norm_names_and_removal(lib):
    m = lib.nn.Linear(4, 3)
    weight = m.weight.detach().clone()
    with pytest.warns(FutureWarning, match=f"`{lib.__name__}.nn.utils.weight_norm` is "
                      "deprecated in favor of "
                      f"`{lib.__name__}.nn.utils.parametrizations.weight_norm`"):
        lib.nn.utils.weight_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert tuple(m.weight_g.shape) == (3, 1) and tuple(m.weight_v.shape) == (3, 4)
    assert not isinstance(m.weight, lib.nn.Parameter)
    assert lib.allclose(m.weight, weight, atol=1e-6)
    with lib.no_grad():
        m.weight_g.mul_(2)
    m(lib.ones(1, 4))  # the pre-hook recomputes the weight
    assert lib.allclose(m.weight, 2 * weight, atol=1e-6)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the "
                       "same parameter weight"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lib.nn.utils.weight_norm(m)
    lib.nn.utils.remove_weight_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight"]
    assert lib.allclose(m.weight, 2 * weight, atol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        lib.nn.utils.remove_weight_norm(m)


@pytest.mark.parametrize("lib", LIBS)
def test_old_spectral_norm_names_metadata_and_removal(lib):
    m = lib.nn.Linear(4, 3)
    lib.nn.utils.spectral_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert m.state_dict()._metadata[""]["spectral_norm"] == {"weight.version": 1}
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        lib.nn.utils.spectral_norm(m)
    m(lib.ones(1, 4))
    m.eval()
    expected = m(lib.ones(1, 4)).detach()
    lib.nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert "spectral_norm" not in m.state_dict()._metadata[""]
    assert lib.allclose(m(lib.ones(1, 4)), expected)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in Linear"):
        lib.nn.utils.remove_spectral_norm(m)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but "
                       "got n_power_iterations=0"):
        lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)


@requires_torch
def test_old_spectral_norm_version0_state_dict_loads_as_torch():
    """A version-0 checkpoint (the normalized ``weight`` saved, no ``weight_v``): v is
    solved from u and sigma, as torch does."""
    tm = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3).double())
    dm = dark.nn.utils.spectral_norm(dark.nn.Linear(4, 3).double())
    tm(torch.ones(1, 4, dtype=torch.float64))
    state = tm.state_dict()
    state["weight"] = tm.weight.detach()
    del state["weight_v"]
    state._metadata[""]["spectral_norm"] = {"weight.version": 0}
    dstate = _to_dark(state)
    dstate = type(state)(dstate)
    dstate._metadata = copy.deepcopy(state._metadata)
    tm.load_state_dict(state)
    dm.load_state_dict(dstate)
    np.testing.assert_allclose(_np(dm.weight_v), _np(tm.weight_v), rtol=1e-8)


def _batched(lib, shape):
    class Batched(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.zeros(shape, dtype=lib.float64))

        def forward(self, x):
            return x @ self.weight

    return Batched()


@requires_torch
@pytest.mark.parametrize("shape", [(2, 4, 4), (3, 5, 2), (2, 2, 5)])
@pytest.mark.parametrize("kind", ["matrix_exp", "cayley", "householder", "householder_no_triv",
                                  "spectral_norm", "weight_norm"])
def test_batched_weights_as_torch(kind, shape):
    """A batch of matrices: orthogonal maps each one (householder_product and geqrf
    batched), spectral norm and weight norm see the 3-D tensor as torch does."""
    tm, dm = _batched(torch, shape), _batched(dark, shape)
    value = RNG.standard_normal(shape)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(value))
    dm.load_state_dict(_to_dark(tm.state_dict()))
    _register(torch, kind, tm)
    _register(dark, kind, dm)
    random_init = kind in RANDOM_INIT or (shape[1] != shape[2] and kind in (
        "matrix_exp", "cayley", "householder"))
    if not random_init:
        for (key, vt), (_, vd) in zip(tm.state_dict().items(), dm.state_dict().items()):
            np.testing.assert_allclose(_np(vd), _np(vt), rtol=1e-10, atol=1e-12, err_msg=key)
    dm.load_state_dict(_to_dark(tm.state_dict()))
    x = RNG.standard_normal((shape[0], 3, shape[1]))
    yt, yd = tm(torch.tensor(x)), dm(dark.tensor(x))
    np.testing.assert_allclose(_np(yd), _np(yt), rtol=1e-10, atol=1e-12)
    (yt ** 2).sum().backward()
    (yd ** 2).sum().backward()
    for (name, pt), (_, pd) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(_np(pd.grad), _np(pt.grad), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


@requires_torch
def test_spectral_norm_of_a_vector_and_transfer():
    """A 1-D tensor is just normalized; transfer_parametrizations_and_params registers the
    same parametrizations with the same originals on another module."""
    for lib in (torch, dark):
        m = lib.nn.Linear(3, 4).double()
        with lib.no_grad():
            m.bias.copy_(lib.tensor([3.0, 0.0, 4.0, 0.0], dtype=lib.float64))
        lib.nn.utils.parametrizations.spectral_norm(m, "bias")
        assert lib.allclose(m.bias, lib.tensor([0.6, 0.0, 0.8, 0.0], dtype=lib.float64))
        assert [n for n, _ in m.named_buffers()] == []
    source = dark.nn.utils.parametrizations.weight_norm(dark.nn.Linear(3, 4))
    target = dark.nn.Linear(3, 4)
    dark.nn.utils.parametrize.transfer_parametrizations_and_params(source, target)
    assert type(target).__name__ == "ParametrizedLinear"
    assert (target.parametrizations.weight.original1
            is source.parametrizations.weight.original1)
    assert dark.allclose(target.weight, source.weight)


@requires_torch
def test_hook_based_errors_as_torch():
    def lazy(lib, register):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            register(lib)(lib.nn.LazyLinear(3))

    raises_like(lambda: lazy(dark, lambda lib: lib.nn.utils.weight_norm),
                lambda: lazy(torch, lambda lib: lib.nn.utils.weight_norm))
    raises_like(lambda: lazy(dark, lambda lib: lib.nn.utils.spectral_norm),
                lambda: lazy(torch, lambda lib: lib.nn.utils.spectral_norm))
    raises_like(lambda: dark.nn.utils.spectral_norm(dark.nn.Linear(2, 2, bias=False), "bias"),
                lambda: torch.nn.utils.spectral_norm(torch.nn.Linear(2, 2, bias=False),
                                                     "bias"))


@pytest.mark.parametrize("lib", LIBS)
def test_module_state_dict_hooks(lib):
    """The Module hooks the parametrizations use: a state_dict hook sees the module's
    local metadata; a load_state_dict pre-hook (with the module, public) may rename keys
    before the module copies them."""
    m = lib.nn.Linear(2, 3)
    seen = []

    def state_hook(module, state_dict, prefix, local_metadata):
        local_metadata["mark"] = prefix
        seen.append(module)

    def load_hook(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
                  errors):
        if prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")

    outer = lib.nn.Sequential(m)
    handle = m._register_state_dict_hook(state_hook)
    state = outer.state_dict()
    assert seen == [m] and state._metadata["0"]["mark"] == "0."
    handle.remove()
    outer.state_dict()
    assert seen == [m]
    m.register_load_state_dict_pre_hook(load_hook)
    outer.load_state_dict({"0.w": lib.ones(3, 2), "0.bias": lib.zeros(3)})
    assert lib.equal(m.weight, lib.ones(3, 2))
