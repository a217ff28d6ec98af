"""nn.Module, nn.Parameter, the containers, Flatten/Unflatten/Identity and nn.utils, against
torch.nn: each structure is built twice from the same code (``lib`` is dark or torch) and
names, orders, reprs, errors, hooks and values are compared."""
from __future__ import annotations

import copy
import math
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark


def classes(lib):
    """Test modules written once, subclassing lib.nn.Module (lib is dark or torch)."""
    nn = lib.nn

    class Affine(nn.Module):
        def __init__(self, n, bias=True):
            super().__init__()
            self.n = n
            self.weight = nn.Parameter(lib.rand(n, n) - 0.5)
            if bias:
                self.bias = nn.Parameter(lib.rand(n))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("running", lib.zeros(n))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.register_buffer("steps", lib.tensor(0))

        def forward(self, x):
            out = x @ self.weight.t()
            return out + self.bias if self.bias is not None else out

        def extra_repr(self):
            return f"n={self.n}, bias={self.bias is not None}"

    class Tanh(nn.Module):
        def forward(self, x):
            return x.tanh()

    class Block(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.scale = nn.Parameter(lib.ones(()))
            self.first = Affine(n)
            self.seq = nn.Sequential(Affine(n, bias=False), Affine(n))
            self.register_buffer("count", lib.zeros(()))

        def forward(self, x):
            return self.seq(self.first(x)) * self.scale

    class Model(nn.Module):
        def __init__(self, n=3):
            super().__init__()
            shared = Affine(n)
            self.features = nn.Sequential(OrderedDict([("block", Block(n)), ("act", Tanh()),
                                                       ("shared", shared)]))
            self.heads = nn.ModuleList([Affine(n), Affine(n), shared])
            self.table = nn.ModuleDict({"b": Affine(n), "a": nn.Identity()})
            self.plist = nn.ParameterList([lib.ones(n), nn.Parameter(lib.zeros(2, n))])
            self.pdict = nn.ParameterDict({"z": lib.ones(n), "y": lib.ones(1)})
            self.flat = nn.Flatten(0)

        def forward(self, x):
            x = self.features(x)
            for head in self.heads:
                x = head(x)
            x = self.table["b"](self.table["a"](x)) + self.plist[0] + self.pdict["z"]
            return self.flat(x)

    class Empty(nn.Module):
        pass

    return Affine, Block, Model, Empty


DARK = classes(dark)
TORCH = classes(torch) if torch is not None else None


def pair(index, *args):
    """The dark and the torch instance of test class ``index`` (torch values copied into
    dark through load_state_dict with numpy arrays)."""
    torch.manual_seed(0)
    mine, theirs = DARK[index](*args), TORCH[index](*args)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
        for b in theirs.buffers():
            if b.is_floating_point():
                b.uniform_(-1, 1)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return mine, theirs


def darkify(text: str) -> str:
    return text.replace("torch", "dark")


def names_shapes(pairs):
    return [(name, tuple(value.shape)) for name, value in pairs]


# ------------------------------------------------------------------ Parameter and Buffer
def test_parameter_is_a_tensor_sharing_memory():
    data = dark.ones(2, 3)
    p = dark.nn.Parameter(data)
    assert isinstance(p, dark.Tensor) and isinstance(p, dark.nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    data.add_(1)
    assert p[0, 0].item() == 2.0
    assert type(p * 2) is dark.Tensor and type(p.detach()) is dark.Tensor
    assert type(p.data) is dark.Tensor
    frozen = dark.nn.Parameter(dark.ones(2, dtype=dark.float64), requires_grad=False)
    assert not frozen.requires_grad
    assert dark.nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError):
        dark.nn.Parameter(dark.tensor([1, 2]))


@pytest.mark.parametrize("lib", LIBS)
def test_parameter_of_integers_raises(lib):
    with pytest.raises(RuntimeError):
        lib.nn.Parameter(lib.tensor([1, 2]))


@pytest.mark.parametrize("make", [lambda lib: lib.nn.Parameter(lib.tensor([1.0, 2.5])),
                                  lambda lib: lib.nn.Parameter(lib.tensor([[1.0], [2.0]],
                                                                          dtype=lib.float64),
                                                               requires_grad=False),
                                  lambda lib: lib.nn.Parameter()])
@requires_torch
def test_parameter_repr(make):
    assert repr(make(dark)) == darkify(repr(make(torch)))


def test_parameter_deepcopy_and_pickle():
    p = dark.nn.Parameter(dark.tensor([1.0, 2.0]))
    p.grad = dark.ones(2)
    clone = copy.deepcopy(p)
    assert type(clone) is dark.nn.Parameter and clone.requires_grad
    assert clone.grad is None  # as torch: a deep-copied Parameter has no grad
    clone.data.add_(1)
    assert p.tolist() == [1.0, 2.0]
    loaded = pickle.loads(pickle.dumps(dark.nn.Parameter(dark.ones(2), requires_grad=False)))
    assert type(loaded) is dark.nn.Parameter and not loaded.requires_grad
    assert loaded.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("lib", LIBS)
def test_buffer_marker(lib):
    buffer = lib.nn.Buffer(lib.ones(2), persistent=False)
    assert isinstance(buffer, lib.Tensor) and isinstance(buffer, lib.nn.Buffer)
    assert not isinstance(lib.ones(2), lib.nn.Buffer)
    module = lib.nn.Module()
    module.stat = buffer
    module.kept = lib.nn.Buffer(lib.zeros(1))
    assert list(module._buffers) == ["stat", "kept"]
    assert list(module.state_dict()) == ["kept"]


# ------------------------------------------------------------------ registration and errors
def _error_cases():
    def param_as_tensor(lib):
        m = classes(lib)[0](2)
        m.weight = lib.ones(2, 2)

    def param_before_init(lib):
        class Bad(lib.nn.Module):
            def __init__(self):
                self.w = lib.nn.Parameter(lib.ones(1))
        Bad()

    def module_before_init(lib):
        class Bad(lib.nn.Module):
            def __init__(self):
                self.child = lib.nn.Identity()
        Bad()

    def buffer_before_init(lib):
        class Bad(lib.nn.Module):
            def __init__(self):
                self.register_buffer("b", lib.ones(1))
        Bad()

    def bad_kwarg(lib):
        lib.nn.Module(foo=1)

    def missing_attribute(lib):
        return classes(lib)[0](2).foo

    def buffer_not_tensor(lib):
        lib.nn.Module().register_buffer("b", [1.0])

    def buffer_name_dot(lib):
        lib.nn.Module().register_buffer("a.b", lib.ones(1))

    def buffer_name_empty(lib):
        lib.nn.Module().register_buffer("", lib.ones(1))

    def buffer_name_taken(lib):
        m = lib.nn.Module()
        m.x = 1
        m.register_buffer("x", lib.ones(1))

    def buffer_name_not_str(lib):
        lib.nn.Module().register_buffer(3, lib.ones(1))

    def param_name_dot(lib):
        lib.nn.Module().register_parameter("a.b", None)

    def param_name_taken(lib):
        m = classes(lib)[0](2)
        m.register_parameter("running", lib.nn.Parameter(lib.ones(1)))

    def param_not_parameter(lib):
        lib.nn.Module().register_parameter("p", lib.ones(1))

    def module_not_module(lib):
        lib.nn.Module().add_module("m", 3)

    def module_name_dot(lib):
        lib.nn.Module().add_module("a.b", lib.nn.Identity())

    def child_as_int(lib):
        m = lib.nn.Sequential(lib.nn.Identity())
        setattr(m, "0", 5)

    def buffer_as_list(lib):
        m = classes(lib)[0](2)
        m.running = [1.0]

    def get_submodule_missing(lib):
        classes(lib)[1](2).get_submodule("seq.5")

    def get_submodule_not_module(lib):
        classes(lib)[1](2).get_submodule("first.weight")

    def get_parameter_buffer(lib):
        classes(lib)[1](2).get_parameter("first.running")

    def get_buffer_parameter(lib):
        classes(lib)[1](2).get_buffer("first.weight")

    def train_not_bool(lib):
        lib.nn.Module().train("yes")

    def to_integer_dtype(lib):
        lib.nn.Module().to(lib.int64)

    def forward_missing(lib):
        classes(lib)[3]()(1)

    def load_not_mapping(lib):
        lib.nn.Module().load_state_dict([1, 2])

    def sequential_index(lib):
        return lib.nn.Sequential(lib.nn.Identity())[3]

    def sequential_add_list(lib):
        return lib.nn.Sequential() + [lib.nn.Identity()]

    def sequential_mul_zero(lib):
        return lib.nn.Sequential(lib.nn.Identity()) * 0

    def sequential_insert(lib):
        lib.nn.Sequential(lib.nn.Identity()).insert(5, lib.nn.Identity())

    def modulelist_index(lib):
        return lib.nn.ModuleList([lib.nn.Identity()])[-2]

    def modulelist_extend(lib):
        lib.nn.ModuleList().extend(3)

    def moduledict_pairs(lib):
        lib.nn.ModuleDict([("a", lib.nn.Identity(), 1)])

    def parameterdict_key(lib):
        lib.nn.ParameterDict()[1] = lib.ones(1)

    def parameterlist_call(lib):
        lib.nn.ParameterList()(1)

    def parameterlist_extend(lib):
        lib.nn.ParameterList().extend(lib.ones(2))

    def unflatten_sizes(lib):
        lib.nn.Unflatten(1, 4)

    def unflatten_elements(lib):
        lib.nn.Unflatten(1, (2, 2.0))

    def vector_not_tensor(lib):
        lib.nn.utils.vector_to_parameters([1.0], [])

    return [v for k, v in sorted(locals().items())]


@pytest.mark.parametrize("case", _error_cases(), ids=lambda f: f.__name__)
@requires_torch
def test_errors_match_torch(case):
    with pytest.raises(Exception) as expected:
        case(torch)
    with pytest.raises(expected.type) as got:
        case(dark)
    assert str(got.value) == darkify(str(expected.value))


@pytest.mark.parametrize("lib", LIBS)
def test_setattr_routes_and_delattr(lib):
    m = classes(lib)[0](2)
    m.weight = None                      # a registered parameter may become None
    assert "weight" in m._parameters and m.weight is None
    m.extra = lib.nn.Parameter(lib.ones(1))
    m.child = lib.nn.Identity()
    m.running = lib.ones(2)              # a tensor on a buffer name stays a buffer
    m.plain = lib.ones(1)                # a tensor elsewhere is a plain attribute
    assert "extra" in m._parameters and "child" in m._modules
    assert "running" in m._buffers and "plain" in m.__dict__
    m.child = lib.nn.Parameter(lib.ones(1))  # re-assigning moves the name
    assert "child" in m._parameters and "child" not in m._modules
    del m.child, m.running, m.plain
    assert "child" not in m._parameters and "running" not in m._buffers
    assert "scratch" in dir(m) and "weight" in dir(m)
    with pytest.raises(AttributeError):
        del m.nothing


# ------------------------------------------------------------------ structure parity
@pytest.mark.parametrize("remove_duplicate", [True, False])
@requires_torch
def test_traversal_names_and_order_match_torch(remove_duplicate):
    mine, theirs = pair(2)
    kw = {"remove_duplicate": remove_duplicate}
    assert names_shapes(mine.named_parameters(**kw)) == names_shapes(
        theirs.named_parameters(**kw))
    assert names_shapes(mine.named_buffers(**kw)) == names_shapes(theirs.named_buffers(**kw))
    assert [n for n, _ in mine.named_modules(**kw)] == [n for n, _ in theirs.named_modules(**kw)]
    assert [n for n, _ in mine.named_parameters(prefix="net", recurse=False)] == [
        n for n, _ in theirs.named_parameters(prefix="net", recurse=False)]
    assert [n for n, _ in mine.named_parameters(prefix="net")] == [
        n for n, _ in theirs.named_parameters(prefix="net")]
    assert [n for n, _ in mine.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in mine.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    assert [type(m).__name__ for m in mine.children()] == [
        type(m).__name__ for m in theirs.children()]
    assert len(list(mine.buffers())) == len(list(theirs.buffers()))


def test_parameters_is_a_generator_of_parameters():
    params = DARK[2]().parameters()
    assert iter(params) is params  # a generator, as torch's
    assert all(isinstance(p, dark.nn.Parameter) for p in params)


@requires_torch
def test_state_dict_keys_and_values_match_torch():
    mine, theirs = pair(2)
    state = mine.state_dict()
    assert names_shapes(state.items()) == names_shapes(theirs.state_dict().items())
    assert list(state._metadata) == list(theirs.state_dict()._metadata)
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(state[key].numpy(), value.numpy())
    assert list(mine.state_dict(prefix="m.")) == list(theirs.state_dict(prefix="m."))


def test_state_dict_detached_sharing_memory():
    mine = DARK[2]()
    state = mine.state_dict()
    assert isinstance(state, OrderedDict)
    for key, value in state.items():
        assert type(value) is dark.Tensor and not value.requires_grad, key
    state["features.block.scale"].add_(1)  # detached, but the same memory
    assert mine.features.block.scale.item() == state["features.block.scale"].item()
    kept = mine.state_dict(keep_vars=True)
    assert kept["heads.0.weight"] is mine.heads[0].weight


@requires_torch
def test_forward_and_gradients_match_torch():
    mine, theirs = pair(2)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out_mine = mine(dark.tensor(x))
    out_theirs = theirs(torch.tensor(x))
    np.testing.assert_allclose(out_mine.detach().numpy(), out_theirs.detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    out_mine.sum().backward()
    out_theirs.sum().backward()
    grads = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        expected = grads[name].grad
        if expected is None:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=name)


# ------------------------------------------------------------------ load_state_dict
@requires_torch
def test_load_state_dict_strict_and_non_strict_match_torch():
    for strict in (True, False):
        results = []
        for lib, index in ((dark, 0), (torch, 0)):
            module = classes(lib)[index](3)
            state = {k: v for k, v in classes(lib)[index](3).state_dict().items()
                     if k != "bias"}
            state["extra"] = lib.ones(1)
            state["child.w"] = lib.ones(1)
            try:
                results.append(("ok", tuple(module.load_state_dict(state, strict=strict))))
            except RuntimeError as error:
                results.append(("error", darkify(str(error))))
        assert results[0] == results[1]


def test_load_state_dict_all_keys_matched():
    mine = DARK[0](3)
    ok = mine.load_state_dict(DARK[0](3).state_dict())
    assert repr(ok) == "<All keys matched successfully>"
    assert ok.missing_keys == [] and ok.unexpected_keys == []


@requires_torch
def test_load_state_dict_size_mismatch_and_nested_messages():
    for source_n in (2, 3):
        messages = []
        for lib in (dark, torch):
            Block = classes(lib)[1]
            state = Block(source_n).state_dict()
            del state["seq.1.bias"]
            state["seq.7.weight"] = lib.ones(1)
            with pytest.raises(RuntimeError) as error:
                Block(3).load_state_dict(state)
            messages.append(darkify(str(error.value)))
        assert messages[0] == messages[1]


def test_load_state_dict_copies_in_place():
    source, target = DARK[1](3), DARK[1](3)
    for p in source.parameters():
        dark.nn.init.uniform_(p)
    weight = target.first.weight
    version = weight._version
    target.load_state_dict(source.state_dict())
    assert target.first.weight is weight and weight._version > version
    np.testing.assert_array_equal(weight.detach().numpy(), source.first.weight.detach().numpy())
    # values are copied, not shared
    source.first.weight.data.add_(1)
    assert not np.array_equal(weight.detach().numpy(), source.first.weight.detach().numpy())


def test_load_state_dict_accepts_numpy_casts_and_scalars():
    mine = DARK[1](2)
    state = {k: v.numpy().astype(np.float64) for k, v in DARK[1](2).state_dict().items()}
    state["scale"] = np.array([7.0])  # a 1-element value loads into a 0-d parameter
    mine.load_state_dict(state)
    assert mine.scale.item() == 7.0 and mine.scale.dtype == dark.float32


@pytest.mark.parametrize("lib", LIBS)
def test_load_state_dict_assign(lib):
    module = classes(lib)[0](2)
    source = classes(lib)[0](2).state_dict()
    old = module.weight
    module.load_state_dict(source, assign=True)
    assert module.weight is not old and isinstance(module.weight, lib.nn.Parameter)
    assert module.weight.requires_grad
    assert module.running is source["running"]


def test_load_state_dict_post_hook():
    seen = []
    mine = DARK[1](2)
    mine.first.register_load_state_dict_post_hook(
        lambda module, keys: seen.append((type(module).__name__, list(keys.missing_keys))))
    state = mine.state_dict()
    del state["first.bias"]
    mine.load_state_dict(state, strict=False)
    assert seen == [("Affine", ["first.bias"])]


# ------------------------------------------------------------------ repr
def _repr_models(lib):
    nn = lib.nn
    Affine, Block, Model, Empty = classes(lib)
    return [
        Model(),
        Block(2),
        Empty(),
        nn.Sequential(),
        nn.ModuleList(),
        nn.ModuleList([Affine(2), Affine(2), Affine(2), Affine(3), nn.Identity(), Affine(3)]),
        nn.ModuleDict({"x": nn.Flatten(), "y": nn.Unflatten(1, (2, 3))}),
        nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(4, dtype=lib.float64)]),
        nn.ParameterDict({"a": lib.ones(2), "b": nn.Parameter(lib.ones(1, 1))}),
        nn.Sequential(nn.Sequential(nn.Identity(), Affine(1)), Block(1)),
    ]


@pytest.mark.parametrize("index", range(10))
@requires_torch
def test_repr_matches_torch(index):
    assert repr(_repr_models(dark)[index]) == darkify(repr(_repr_models(torch)[index]))


@requires_torch
def test_repr_with_linear_layers():
    if not hasattr(dark.nn, "Linear") or not hasattr(dark.nn, "ReLU"):
        pytest.skip("dark.nn.Linear / ReLU not written yet")

    def build(lib):
        return lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(784, 128), lib.nn.ReLU(),
                                 lib.nn.Linear(128, 10, bias=False))

    assert repr(build(dark)) == repr(build(torch))
    assert names_shapes(build(dark).state_dict().items()) == names_shapes(
        build(torch).state_dict().items())


# ------------------------------------------------------------------ hooks
def _hook_log(lib):
    log = []
    module = classes(lib)[0](2)
    with lib.no_grad():
        module.weight.copy_(lib.eye(2))
        module.bias.zero_()
    handles = [
        module.register_forward_pre_hook(lambda m, args: log.append(("pre", len(args)))),
        module.register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
        module.register_forward_pre_hook(lambda m, args, kwargs: log.append(("kw", dict(kwargs)))
                                         or None, with_kwargs=True),
        module.register_forward_pre_hook(lambda m, args: log.append(("first",)), prepend=True),
        module.register_forward_hook(lambda m, args, out: out + 1),
        module.register_forward_hook(lambda m, args, out: log.append(("post", out.tolist()))),
        module.register_forward_hook(lambda m, args, kwargs, out: log.append(("postkw",
                                                                              sorted(kwargs))),
                                     with_kwargs=True),
    ]
    out = module(lib.tensor([[1.0, 2.0]]))
    log.append(("out", out.tolist()))
    handles[1].remove()
    handles[4].remove()
    log.append(("again", module(lib.tensor([[1.0, 2.0]])).tolist()))
    for handle in handles:
        handle.remove()
    log.append(("bare", module(lib.tensor([[1.0, 2.0]])).tolist()))
    return log


@requires_torch
def test_forward_hooks_match_torch():
    assert _hook_log(dark) == _hook_log(torch)


def _always_call_log(lib):
    log = []

    class Fails(lib.nn.Module):
        def forward(self, x, scale=1):
            if scale == 0:
                raise ValueError("boom")
            return x * scale

    module = Fails()
    module.register_forward_hook(lambda m, a, out: log.append("always"), always_call=True)
    module.register_forward_pre_hook(lambda m, a, k: (a, {"scale": k.get("scale", 1) + 1}),
                                     with_kwargs=True)
    log.append(module(lib.ones(1), scale=2).tolist())
    with pytest.raises(ValueError):
        module(lib.ones(1), scale=-1)
    return log


@pytest.mark.parametrize("lib", LIBS)
def test_forward_hook_always_call_and_kwargs_replacement(lib):
    assert _always_call_log(lib) == ["always", [3.0], "always"]


def _backward_hook_run(lib, modify: bool, input_requires_grad: bool = True):
    Affine = classes(lib)[0]
    module = Affine(3)
    with lib.no_grad():
        module.weight.copy_(lib.tensor(np.arange(9.0).reshape(3, 3) / 10))
        module.bias.fill_(0.5)
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen["grad_input"] = [None if g is None else g.tolist() for g in grad_input]
        seen["grad_output"] = [None if g is None else g.tolist() for g in grad_output]
        if modify:
            return tuple(None if g is None else g * 3 for g in grad_input)
        return None

    def pre_hook(mod, grad_output):
        seen["pre"] = [g.tolist() for g in grad_output]
        return (grad_output[0] * 2,) if modify else None

    module.register_full_backward_hook(hook)
    module.register_full_backward_pre_hook(pre_hook)
    x = lib.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 2.0]], requires_grad=input_requires_grad)
    out = module(x)
    (out * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    seen["x_grad"] = x.grad.tolist() if input_requires_grad else None
    seen["w_grad"] = module.weight.grad.tolist()
    return seen


@pytest.mark.parametrize("modify,input_requires_grad", [(False, True), (True, True),
                                                         (False, False)])
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@requires_torch
def test_full_backward_hooks_match_torch(modify, input_requires_grad):
    mine = _backward_hook_run(dark, modify, input_requires_grad)
    theirs = _backward_hook_run(torch, modify, input_requires_grad)
    assert mine.keys() == theirs.keys()
    for key in theirs:
        np.testing.assert_allclose(np.array(mine[key], dtype=float),
                                   np.array(theirs[key], dtype=float), rtol=1e-6, err_msg=key)


def test_backward_hook_handle_removal():
    module = DARK[0](2)
    calls = []
    handle = module.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    module(dark.ones(1, 2, requires_grad=True)).sum().backward()
    handle.remove()
    module(dark.ones(1, 2, requires_grad=True)).sum().backward()
    with dark.no_grad():
        module(dark.ones(1, 2))
    assert calls == [1]


# ------------------------------------------------------------------ modes, grads, apply
@pytest.mark.parametrize("lib", LIBS)
def test_train_eval_propagate(lib):
    model = classes(lib)[2]()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model.features.train(False)
    assert [m.training for m in model.modules()][:4] == [True, False, False, False]


def test_zero_grad_requires_grad_and_apply():
    model = DARK[1](2)
    model(dark.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    grad = model.first.weight.grad
    model.zero_grad(set_to_none=False)
    assert model.first.weight.grad is grad and not grad.any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert sorted(visited) == sorted(type(m).__name__ for m in model.modules())
    assert model.share_memory() is model


@requires_torch
def test_apply_order_matches_torch():
    visited, expected = [], []
    DARK[1](2).apply(lambda m: visited.append(type(m).__name__))
    TORCH[1](2).apply(lambda m: expected.append(type(m).__name__))
    assert visited == expected


# ------------------------------------------------------------------ to / dtype / device
def test_to_dtype_keeps_parameter_objects():
    model = DARK[1](2)
    model(dark.ones(1, 2)).sum().backward()
    params = list(model.parameters())
    buffers_before = dict(model.named_buffers())
    assert model.to(dark.float64) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == dark.float64 and p.grad.dtype == dark.float64 for p in params)
    assert model.first.steps.dtype == dark.int64  # integer buffers keep their dtype
    assert model.first.running.dtype == dark.float64
    assert buffers_before["first.steps"] is model.first.steps  # unchanged ones stay
    out = model(dark.ones(1, 2, dtype=dark.float64))
    assert out.dtype == dark.float64
    out.sum().backward()
    assert all(p.is_leaf and p.requires_grad for p in params)
    model.float()
    assert all(p.dtype == dark.float32 for p in params)
    model.half()
    assert model.first.weight.dtype == dark.float16
    model.double()
    assert model.first.weight.dtype == dark.float64
    model.type(dark.float32)
    assert model.first.weight.dtype == dark.float32 and model.first.steps.dtype == dark.float32
    model.to(dark.zeros(1, dtype=dark.float64))
    assert model.first.weight.dtype == dark.float64
    model.to("cpu", dark.float32, non_blocking=True)
    model.to(device="cpu", dtype=dark.float64)
    assert model.first.weight.dtype == dark.float64


def test_to_device(device):
    model = DARK[1](2)
    model(dark.ones(1, 2)).sum().backward()
    weight = model.first.weight
    model.to(device)
    assert model.first.weight is weight and weight.device.type == device
    assert weight.grad.device.type == device
    assert all(b.device.type == device for b in model.buffers())
    out = model(dark.ones(1, 2, device=device))
    assert out.device.type == device
    model.cpu()
    assert weight.device.type == "cpu" and weight.grad.device.type == "cpu"
    if device == "cuda":
        model.cuda()
        assert weight.device.type == "cuda"


# ------------------------------------------------------------------ copy and pickle
class Leaf(dark.nn.Module):
    """A module-level class, so that pickle can find it."""

    def __init__(self, n):
        super().__init__()
        self.weight = dark.nn.Parameter(dark.rand(n, n))
        self.register_buffer("running", dark.rand(n))
        self.register_buffer("scratch", dark.ones(1), persistent=False)

    def forward(self, x):
        return x @ self.weight


def _picklable_model():
    shared = Leaf(2)
    return dark.nn.Sequential(OrderedDict([
        ("first", shared), ("rest", dark.nn.ModuleList([Leaf(2), shared])),
        ("table", dark.nn.ModuleDict({"a": Leaf(2)})),
        ("plist", dark.nn.ParameterList([dark.ones(2)])),
        ("pdict", dark.nn.ParameterDict({"p": dark.ones(2)}))]))


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_model_copy(clone):
    model = _picklable_model().double()
    copied = clone(model)
    assert list(copied.state_dict()) == list(model.state_dict())
    for (name, a), b in zip(model.state_dict().items(), copied.state_dict().values()):
        assert b.dtype == a.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert all(type(p) is dark.nn.Parameter and p.requires_grad for p in copied.parameters())
    assert copied.first is copied.rest[1]  # sharing survives
    copied.first.weight.data.fill_(3)
    assert not (model.first.weight == 3).all()
    assert copied.first._non_persistent_buffers_set == {"scratch"}
    assert copied.training and len(copied.rest) == 2


# ------------------------------------------------------------------ submodule access
@pytest.mark.parametrize("lib", LIBS)
def test_get_and_set_submodule(lib):
    model = classes(lib)[1](2)
    assert model.get_submodule("") is model
    assert model.get_submodule("seq.1") is model.seq[1]
    assert model.get_parameter("seq.1.bias") is model.seq[1].bias
    assert model.get_buffer("first.running") is model.first.running
    model.set_submodule("seq.0", lib.nn.Identity())
    assert type(model.seq[0]).__name__ == "Identity"
    model.set_submodule("seq.extra", lib.nn.Identity())
    assert "extra" in model.seq._modules
    with pytest.raises(AttributeError):
        model.set_submodule("seq.other", lib.nn.Identity(), strict=True)


# ------------------------------------------------------------------ containers
def _sig(container):
    """(key, module identity tag) pairs of a container's submodules."""
    return [(k, getattr(m, "n", type(m).__name__)) for k, m in container._modules.items()]


def _sequential_ops(lib):
    Affine = classes(lib)[0]
    seq = lib.nn.Sequential(*[Affine(i) for i in range(1, 6)])
    out = [_sig(seq), seq[-1].n, seq[1].n, _sig(seq[1:4]), _sig(seq[::-2]), len(seq),
           type(seq[1:]).__name__]
    seq.append(Affine(6)).insert(0, Affine(7)).insert(-1, Affine(8))
    out.append(_sig(seq))
    del seq[2]
    out.append(_sig(seq))
    del seq[1:3]
    out.append(_sig(seq))
    out.append(seq.pop(0).n)
    seq[0] = Affine(9)
    seq.extend([Affine(10)])
    out.append(_sig(seq))
    out.append(_sig(seq + lib.nn.Sequential(Affine(11))))
    out.append(_sig(seq[:2] * 2))
    seq += lib.nn.Sequential(Affine(12))
    out.append(_sig(seq))
    out.append([m.n for m in seq])
    named = lib.nn.Sequential(OrderedDict([("a", Affine(1)), ("b", lib.nn.Identity())]))
    out.append((_sig(named), _sig(named[1:]), [k for k in dir(seq) if k.isdigit()]))
    return out


@requires_torch
def test_sequential_api_matches_torch():
    assert _sequential_ops(dark) == _sequential_ops(torch)


def test_sequential_forward():
    seq = dark.nn.Sequential(dark.nn.Flatten(), dark.nn.Unflatten(1, (2, 6)),
                             dark.nn.Identity(1, key=2))
    assert seq(dark.ones(2, 3, 4)).shape == (2, 2, 6)


def _modulelist_ops(lib):
    Affine = classes(lib)[0]
    modules = lib.nn.ModuleList([Affine(1), Affine(2)])
    out = [_sig(modules)]
    modules.append(Affine(3))
    modules.extend([Affine(4), Affine(5)])
    modules.insert(1, Affine(6))
    modules += [Affine(7)]
    out.append(_sig(modules))
    out.append((modules[-1].n, _sig(modules[1:3]), len(modules), [m.n for m in modules]))
    modules[0] = Affine(8)
    del modules[-2:]
    del modules[0]
    out.append(_sig(modules))
    out.append(modules.pop(1).n)
    out.append(_sig(modules + lib.nn.ModuleList([Affine(9)])))
    out.append(_sig(modules))
    return out


@requires_torch
def test_modulelist_api_matches_torch():
    assert _modulelist_ops(dark) == _modulelist_ops(torch)


def _moduledict_ops(lib):
    Affine = classes(lib)[0]
    table = lib.nn.ModuleDict(OrderedDict([("z", Affine(1)), ("a", Affine(2))]))
    table.update([("m", Affine(3))])
    table.update({"b": Affine(4), "a": Affine(5)})
    table["c"] = Affine(6)
    out = [_sig(table), list(table), list(table.keys()), [m.n for m in table.values()],
           [(k, m.n) for k, m in table.items()], "m" in table, len(table)]
    out.append(table.pop("m").n)
    del table["z"]
    out.append(_sig(table))
    table.clear()
    out.append(len(table))
    return out


@requires_torch
def test_moduledict_api_matches_torch():
    assert _moduledict_ops(dark) == _moduledict_ops(torch)


def _parameter_containers(lib):
    values = lib.nn.ParameterList([lib.ones(2), lib.nn.Parameter(lib.zeros(3)), "text"])
    values.append(lib.ones(1))
    values.extend([lib.ones(4)])
    values[0] = lib.full((2,), 5.0)
    out = [len(values), [type(v).__name__ for v in values],
           [n for n, _ in values.named_parameters()], [v.shape[0] for v in values[1::2]
                                                       if hasattr(v, "shape")]]
    table = lib.nn.ParameterDict({"b": lib.ones(1), "a": lib.ones(2)})
    table.update(OrderedDict([("z", lib.ones(3)), ("c", "text")]))
    table.update([("y", lib.nn.Parameter(lib.ones(4)))])
    out.append([n for n, _ in table.named_parameters()])
    out.append((list(table), list(reversed(table)), "a" in table, len(table)))
    out.append(table.setdefault("new", lib.ones(5)).shape[0])
    out.append(table.get("missing", 7))
    out.append((table.pop("b").shape[0], table.popitem()[0], list(table)))
    out.append(list((table | lib.nn.ParameterDict({"q": lib.ones(1)})).keys()))
    out.append(type(table["a"]).__name__)
    out.append(list(table.fromkeys(["k1", "k2"], lib.ones(1)).keys()))
    table.clear()
    out.append(len(table))
    return out


@requires_torch
def test_parameter_containers_match_torch():
    assert _parameter_containers(dark) == _parameter_containers(torch)


def test_parameter_list_registers_parameters_in_models():
    model = DARK[2]()
    assert isinstance(model.plist[0], dark.nn.Parameter)
    assert isinstance(model.pdict["y"], dark.nn.Parameter)
    assert any(p is model.plist[0] for p in model.parameters())


# ------------------------------------------------------------------ Flatten / Unflatten / Identity
@pytest.mark.parametrize("build,shape", [
    (lambda nn: nn.Flatten(), (2, 3, 4)),
    (lambda nn: nn.Flatten(0, 1), (2, 3, 4)),
    (lambda nn: nn.Flatten(-2), (2, 3, 4, 5)),
    (lambda nn: nn.Unflatten(1, (3, 4)), (2, 12)),
    (lambda nn: nn.Unflatten(-1, [2, -1]), (2, 3, 8)),
    (lambda nn: nn.Identity(54, unused="x"), (2, 3)),
])
@requires_torch
def test_reshaping_modules(build, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    mine, theirs = build(dark.nn), build(torch.nn)
    assert repr(mine) == repr(theirs)
    xd = dark.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_mine, out_theirs = mine(xd), theirs(xt)
    assert tuple(out_mine.shape) == tuple(out_theirs.shape)
    np.testing.assert_array_equal(out_mine.detach().numpy(), out_theirs.detach().numpy())
    (out_mine * out_mine).sum().backward()
    (out_theirs * out_theirs).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


# ------------------------------------------------------------------ nn.utils
def _grads(lib, rng_seed, dtype=np.float32, scale=1.0):
    rng = np.random.default_rng(rng_seed)
    params = []
    for shape in [(3, 4), (5,), (2, 2, 2)]:
        p = lib.nn.Parameter(lib.tensor(rng.standard_normal(shape).astype(dtype)))
        p.grad = lib.tensor((rng.standard_normal(shape) * scale).astype(dtype))
        params.append(p)
    params.append(lib.nn.Parameter(lib.ones(2)))  # no grad: skipped
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@requires_torch
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    mine, theirs = _grads(dark, 0), _grads(torch, 0)
    total_mine = dark.nn.utils.clip_grad_norm_(mine, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total_mine.shape == () and total_mine.dtype == dark.float32
    np.testing.assert_allclose(total_mine.item(), total_theirs.item(), rtol=1e-5)
    for a, b in zip(mine, theirs):
        if b.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


@requires_torch
def test_clip_grad_norm_of_one_tensor_matches_torch():
    single = _grads(dark, 1)[0]
    expected = torch.nn.utils.clip_grad_norm_(_grads(torch, 1)[0], 0.1)
    np.testing.assert_allclose(dark.nn.utils.clip_grad_norm_(single, 0.1).item(),
                               expected.item(), rtol=1e-6)


def test_clip_grad_norm_forms_and_errors():
    assert dark.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        dark.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    bad = _grads(dark, 2)
    bad[0].grad[0, 0] = math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        dark.nn.utils.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    model = DARK[1](2)
    model(dark.ones(1, 2)).sum().backward()
    total = dark.nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
    assert total.item() > 1e-3
    clipped = dark.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    np.testing.assert_allclose(clipped.item(), 1e-3, rtol=1e-3)


@requires_torch
def test_clip_grad_value_matches_torch():
    mine, theirs = _grads(dark, 3, scale=2.0), _grads(torch, 3, scale=2.0)
    assert dark.nn.utils.clip_grad_value_(mine, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for a, b in zip(mine, theirs):
        if b.grad is not None:
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@requires_torch
def test_parameters_to_vector_matches_torch():
    vec_mine = dark.nn.utils.parameters_to_vector(_grads(dark, 4))
    vec_theirs = torch.nn.utils.parameters_to_vector(_grads(torch, 4))
    np.testing.assert_array_equal(vec_mine.detach().numpy(), vec_theirs.detach().numpy())


def test_parameters_vector_roundtrip():
    mine = _grads(dark, 4)
    vec_mine = dark.nn.utils.parameters_to_vector(mine)
    vec_mine.sum().backward()  # differentiable, as torch's
    assert mine[0].grad is not None
    new = dark.arange(float(vec_mine.numel()))
    dark.nn.utils.vector_to_parameters(new, mine)
    assert mine[1].tolist() == [12.0, 13.0, 14.0, 15.0, 16.0]
    assert isinstance(mine[1], dark.nn.Parameter) and mine[1].requires_grad


def test_public_names_exist():
    for name in ["Module", "Parameter", "Buffer", "Sequential", "ModuleList", "ModuleDict",
                 "ParameterList", "ParameterDict", "Flatten", "Unflatten", "Identity"]:
        assert hasattr(dark.nn, name), name
    for name in ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
                 "vector_to_parameters", "get_total_norm", "clip_grads_with_norm_"]:
        assert hasattr(dark.nn.utils, name), name
    assert re.match(r"<class 'dark\.nn\.modules\.module\.Module'>", str(dark.nn.Module))
