"""nn.Transformer, TransformerEncoder(Layer) and TransformerDecoder(Layer) against PyTorch:
initial weights after manual_seed (bit-exact), state_dict keys and order, repr, outputs,
input and parameter gradients (float32 and float64), dropout masks in train mode, masks and
causal hints, the eval-mode nested-tensor padding, finite-difference gradients in float64,
and torch's errors and warnings."""
import pickle
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark.autograd import gradcheck

DTYPES = {"float32": (np.float32, 2e-5, 1e-4), "float64": (np.float64, 1e-10, 1e-9)}
E, HEADS, FF = 8, 2, 16


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _activation(lib, name):
    """Activations by name: strings pass through, 'silu' / 'module_gelu' are callables."""
    if name == "silu":
        return lib.nn.functional.silu
    if name == "module_gelu":
        return lib.nn.GELU()
    return name


def _build(lib, kind, dtype, perturb=True, **kwargs):
    """``kind`` of ``lib`` built after manual_seed(0) (so dark's and torch's start equal),
    then every parameter moved by the same seeded noise so that biases and LayerNorm
    weights are not their constant init."""
    kwargs = dict(kwargs)
    if "activation" in kwargs:
        kwargs["activation"] = _activation(lib, kwargs["activation"])
    lib.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor's notice
        if kind == "Transformer":
            module = lib.nn.Transformer(E, HEADS, 2, 2, FF, dtype=getattr(lib, dtype),
                                        **kwargs)
        elif kind in ("TransformerEncoder", "TransformerDecoder"):
            layer_kind = kind + "Layer"
            layer = getattr(lib.nn, layer_kind)(E, HEADS, FF, dtype=getattr(lib, dtype),
                                                **kwargs)
            norm = lib.nn.LayerNorm(E, dtype=getattr(lib, dtype))
            module = getattr(lib.nn, kind)(layer, 2, norm)
        else:
            module = getattr(lib.nn, kind)(E, HEADS, FF, dtype=getattr(lib, dtype), **kwargs)
    if perturb:
        rng = np.random.default_rng(5)
        with lib.no_grad():
            for _, parameter in module.named_parameters():
                noise = 0.2 * rng.standard_normal(tuple(parameter.shape))
                parameter.add_(lib.tensor(noise.astype(DTYPES[dtype][0])))
    return module


def _padding(rng, batch, length):
    mask = rng.random((batch, length)) < 0.3
    mask[:, 0] = False
    return mask


def _causal(n):
    return np.triu(np.full((n, n), -np.inf), 1)


# name: (kind, module kwargs, batched, forward kwargs maker(rng, S, T, N) -> numpy dict)
CASES = {
    "enc_layer": ("TransformerEncoderLayer", {}, True, lambda rng, S, T, N: {}),
    "enc_layer_norm_first": ("TransformerEncoderLayer", {"norm_first": True}, True,
                             lambda rng, S, T, N: {}),
    "enc_layer_batch_first_gelu": ("TransformerEncoderLayer",
                                   {"batch_first": True, "activation": "gelu"}, True,
                                   lambda rng, S, T, N: {}),
    "enc_layer_callable": ("TransformerEncoderLayer", {"activation": "silu"}, True,
                           lambda rng, S, T, N: {}),
    "enc_layer_module_activation": ("TransformerEncoderLayer",
                                    {"activation": "module_gelu"}, True,
                                    lambda rng, S, T, N: {}),
    "enc_layer_no_bias_eps": ("TransformerEncoderLayer",
                              {"bias": False, "layer_norm_eps": 1e-3}, True,
                              lambda rng, S, T, N: {}),
    "enc_layer_unbatched": ("TransformerEncoderLayer", {}, False,
                            lambda rng, S, T, N: {"src_mask": rng.standard_normal((S, S))}),
    "enc_layer_masks": ("TransformerEncoderLayer", {}, True, lambda rng, S, T, N: {
        "src_mask": rng.random((S, S)) < 0.2, "src_key_padding_mask": _padding(rng, N, S)}),
    "enc_layer_causal": ("TransformerEncoderLayer", {}, True, lambda rng, S, T, N: {
        "src_mask": _causal(S), "is_causal": True}),
    "encoder_padding": ("TransformerEncoder", {"batch_first": True}, True,
                        lambda rng, S, T, N: {"src_key_padding_mask": _padding(rng, N, S)}),
    "encoder_detected_causal": ("TransformerEncoder", {}, True,
                                lambda rng, S, T, N: {"mask": _causal(S)}),
    "dec_layer": ("TransformerDecoderLayer", {}, True, lambda rng, S, T, N: {}),
    "dec_layer_norm_first_masks": ("TransformerDecoderLayer", {"norm_first": True}, True,
                                   lambda rng, S, T, N: {
                                       "tgt_mask": _causal(T), "tgt_is_causal": True,
                                       "memory_mask": rng.standard_normal((T, S)),
                                       "tgt_key_padding_mask": _padding(rng, N, T),
                                       "memory_key_padding_mask": _padding(rng, N, S)}),
    "dec_layer_batch_first": ("TransformerDecoderLayer",
                              {"batch_first": True, "activation": "gelu"}, True,
                              lambda rng, S, T, N: {"tgt_mask": _causal(T)}),
    "decoder": ("TransformerDecoder", {}, True, lambda rng, S, T, N: {
        "tgt_mask": _causal(T), "memory_key_padding_mask": _padding(rng, N, S)}),
    "transformer": ("Transformer", {}, True, lambda rng, S, T, N: {
        "src_mask": rng.standard_normal((S, S)), "tgt_mask": _causal(T),
        "src_key_padding_mask": _padding(rng, N, S)}),
    "transformer_batch_first_norm_first": (
        "Transformer", {"batch_first": True, "norm_first": True, "bias": False}, True,
        lambda rng, S, T, N: {"tgt_mask": _causal(T), "tgt_is_causal": True,
                              "memory_mask": rng.random((T, S)) < 0.2}),
    "transformer_unbatched": ("Transformer", {"activation": "gelu"}, False,
                              lambda rng, S, T, N: {"tgt_mask": _causal(T)}),
}


def _inputs(name, module_kwargs, batched, np_dtype):
    """The case's input arrays (src or tgt first, then memory / tgt) and its numpy masks."""
    kind, _, _, make = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    S, T, N = 5, 4, 3

    def shape(length):
        if not batched:
            return (length, E)
        return (N, length, E) if module_kwargs.get("batch_first") else (length, N, E)

    if kind.startswith("TransformerEncoder"):
        arrays = [rng.standard_normal(shape(S))]
    elif kind.startswith("TransformerDecoder"):
        arrays = [rng.standard_normal(shape(T)), rng.standard_normal(shape(S))]
    else:
        arrays = [rng.standard_normal(shape(S)), rng.standard_normal(shape(T))]
    options = make(rng, S, T, N)
    if not batched:
        options = {k: v for k, v in options.items() if "padding" not in k}
    arrays = [a.astype(np_dtype) for a in arrays]
    options = {k: v.astype(np_dtype) if getattr(v, "dtype", None) == np.float64 else v
               for k, v in options.items()}
    return arrays, options


def _convert(options, make):
    return {k: make(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(CASES))
@requires_torch
def test_matches_torch(name, dtype, device):
    kind, kwargs, batched, _ = CASES[name]
    np_dtype, tol, grad_tol = DTYPES[dtype]
    module = _build(dark, kind, dtype, dropout=0.0, **kwargs).to(device)
    reference = _build(torch, kind, dtype, dropout=0.0, **kwargs)
    arrays, options = _inputs(name, kwargs, batched, np_dtype)
    mine = [dark.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = module(*mine, **_convert(options, lambda a: dark.tensor(a, device=device)))
    expected = reference(*theirs, **_convert(options, torch.tensor))
    assert out.dtype == getattr(dark, dtype)
    np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=tol, atol=tol)
    grad = np.random.default_rng(1).standard_normal(tuple(expected.shape)).astype(np_dtype)
    (out * dark.tensor(grad, device=device)).sum().backward()
    (expected * torch.tensor(grad)).sum().backward()
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(_numpy(a.grad), b.grad.numpy(), rtol=grad_tol,
                                   atol=grad_tol)
    reference_parameters = dict(reference.named_parameters())
    assert [n for n, _ in module.named_parameters()] == list(reference_parameters)
    for parameter_name, parameter in module.named_parameters():
        np.testing.assert_allclose(_numpy(parameter.grad),
                                   reference_parameters[parameter_name].grad.numpy(),
                                   rtol=grad_tol, atol=grad_tol, err_msg=parameter_name)


@pytest.mark.parametrize("name", ["enc_layer_masks", "dec_layer_norm_first_masks",
                                  "transformer_unbatched"])
def test_gradcheck(name, device):
    kind, kwargs, batched, _ = CASES[name]
    module = _build(dark, kind, "float64", dropout=0.0, **kwargs).to(device)
    arrays, options = _inputs(name, kwargs, batched, np.float64)
    options = _convert(options, lambda a: dark.tensor(a, device=device))
    inputs = [dark.tensor(a, device=device, requires_grad=True) for a in arrays]
    assert gradcheck(lambda *xs: module(*xs, **options), inputs)
    weight = module.linear1.weight if hasattr(module, "linear1") else \
        module.encoder.layers[0].self_attn.in_proj_weight

    assert gradcheck(lambda w: _functional(module, weight, w, inputs, options),
                     [weight.detach().clone().requires_grad_(True)])


def _functional(module, parameter, value, inputs, options):
    """module(*inputs) as a function of ``value`` standing in for ``parameter``."""
    for owner in module.modules():
        for key, held in list(owner._parameters.items()):
            if held is parameter:
                owner._parameters[key] = value
                try:
                    return module(*[x.detach() for x in inputs], **options)
                finally:
                    owner._parameters[key] = parameter
    raise AssertionError("parameter not found")


@pytest.mark.parametrize("batch_first", [False, True])
@requires_torch
def test_dropout_masks_match_torch_in_train_mode(batch_first):
    """dropout > 0 in train mode: the same seed drops the same attention weights and
    activations in dark as in torch (dark's dropout draws torch's masks)."""
    dark_model = _build(dark, "Transformer", "float32", dropout=0.3, batch_first=batch_first)
    torch_model = _build(torch, "Transformer", "float32", dropout=0.3,
                         batch_first=batch_first)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((3, 5, E)).astype(np.float32)
    tgt = rng.standard_normal((3, 4, E)).astype(np.float32)
    if not batch_first:
        src, tgt = src.transpose(1, 0, 2).copy(), tgt.transpose(1, 0, 2).copy()
    for seed in (3, 4):
        dark.manual_seed(seed)
        torch.manual_seed(seed)
        out = dark_model(dark.tensor(src), dark.tensor(tgt),
                         tgt_mask=dark.nn.Transformer.generate_square_subsequent_mask(4))
        expected = torch_model(torch.tensor(src), torch.tensor(tgt),
                               tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4))
        np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=2e-5,
                                   atol=2e-5)
    dark_model.eval()
    evaluated = dark_model(dark.tensor(src), dark.tensor(tgt))
    assert not np.allclose(_numpy(evaluated), _numpy(out), atol=1e-3)


def test_dropout_is_seeded_and_off_in_eval(device):
    model = _build(dark, "TransformerEncoder", "float32", dropout=0.5).to(device)
    x = dark.tensor(np.random.default_rng(2).standard_normal((5, 3, E)).astype(np.float32),
                    device=device)
    dark.manual_seed(1)
    first = _numpy(model(x))
    dark.manual_seed(1)
    np.testing.assert_array_equal(_numpy(model(x)), first)
    dark.manual_seed(2)
    assert not np.allclose(_numpy(model(x)), first)
    model.eval()
    np.testing.assert_array_equal(_numpy(model(x)), _numpy(model(x)))


@pytest.mark.parametrize("kwargs", [
    {}, {"bias": False, "norm_first": True}, {"batch_first": True, "activation": "gelu"},
    {"dim_feedforward": 24, "layer_norm_eps": 1e-3, "num_encoder_layers": 1}])
@requires_torch
def test_initial_weights_state_dict_and_repr_match_torch(kwargs):
    """manual_seed(0); nn.Transformer(...) gives torch's exact weights, keys and order."""
    kwargs = {"d_model": 16, "nhead": 4, "num_decoder_layers": 2, "dim_feedforward": 32,
              **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dark.manual_seed(0)
        model = dark.nn.Transformer(**kwargs)
        torch.manual_seed(0)
        reference = torch.nn.Transformer(**kwargs)
    mine, theirs = model.state_dict(), reference.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        np.testing.assert_array_equal(_numpy(mine[key]), value.numpy(), err_msg=key)
        assert mine[key].dtype == dark.float32
    assert repr(model) == repr(reference)
    for attribute in ("d_model", "nhead", "batch_first"):
        assert getattr(model, attribute) == getattr(reference, attribute)
    layer, reference_layer = model.encoder.layers[0], reference.encoder.layers[0]
    for attribute in ("norm_first", "activation_relu_or_gelu"):
        assert getattr(layer, attribute) == getattr(reference_layer, attribute)
    assert model.encoder.use_nested_tensor == reference.encoder.use_nested_tensor


@requires_torch
def test_layers_initial_weights_match_torch():
    for kind in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        dark.manual_seed(0)
        mine = getattr(dark.nn, kind)(16, 4, 32).state_dict()
        torch.manual_seed(0)
        theirs = getattr(torch.nn, kind)(16, 4, 32).state_dict()
        assert list(mine) == list(theirs)
        for key, value in theirs.items():
            np.testing.assert_array_equal(_numpy(mine[key]), value.numpy(), err_msg=key)


def test_stack_layers_are_deep_copies():
    layer = dark.nn.TransformerEncoderLayer(E, HEADS, FF)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = dark.nn.TransformerEncoder(layer, 3)
    assert encoder.num_layers == 3 and len(encoder.layers) == 3 and encoder.norm is None
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(_numpy(first.linear1.weight), _numpy(second.linear1.weight))
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


@pytest.mark.parametrize("lib", LIBS)
def test_generate_square_subsequent_mask(lib, device):
    if lib is torch and device == "cuda":
        pytest.skip("torch here is CPU-only")
    mask = lib.nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype == lib.float32 and tuple(mask.shape) == (3, 3)
    np.testing.assert_array_equal(_numpy(mask), [[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                                 [0, 0, 0]])
    mask = lib.nn.Transformer.generate_square_subsequent_mask(2, device=device,
                                                             dtype=lib.float64)
    assert mask.dtype == lib.float64 and mask.device.type == device
    assert lib.nn.Transformer.generate_square_subsequent_mask(0).shape == (0, 0)


@requires_torch
def test_eval_encoder_returns_zeros_at_padding_as_torch_nested_path():
    """torch runs an eval-mode batch_first encoder under no_grad with a left-aligned padding
    mask on nested tensors, whose padded outputs come back as 0 (then the final norm)."""
    mine = _build(dark, "TransformerEncoder", "float32", dropout=0.0, batch_first=True)
    theirs = _build(torch, "TransformerEncoder", "float32", dropout=0.0, batch_first=True)
    mine.eval()
    theirs.eval()
    x = np.random.default_rng(3).standard_normal((3, 5, E)).astype(np.float32)
    padding = np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    scattered = np.array([[False, True, False, False, False]] * 3)
    for mask, grad in ((padding, False), (padding, True), (scattered, False)):
        with dark.set_grad_enabled(grad), torch.set_grad_enabled(grad):
            out = mine(dark.tensor(x), src_key_padding_mask=dark.tensor(mask))
            expected = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(mask))
        np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
    with dark.no_grad():
        out = _numpy(mine(dark.tensor(x), src_key_padding_mask=dark.tensor(padding)))
    bias = _numpy(mine.norm.bias)
    np.testing.assert_allclose(out[1, 3:], np.broadcast_to(bias, (2, E)), atol=1e-6)


@pytest.mark.parametrize("lib", LIBS)
def test_errors(lib):
    def build(**kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lib.nn.Transformer(8, 2, 1, 1, 16, **kwargs)

    model = build()
    with pytest.raises(RuntimeError, match="^the feature number of src and tgt must be "
                                           "equal to d_model$"):
        model(lib.zeros(3, 2, 6), lib.zeros(4, 2, 6))
    with pytest.raises(RuntimeError, match="^the batch number of src and tgt must be equal$"):
        model(lib.zeros(3, 2, 8), lib.zeros(4, 3, 8))
    with pytest.raises(RuntimeError, match="^the batch number of src and tgt must be equal$"):
        build(batch_first=True)(lib.zeros(2, 3, 8), lib.zeros(3, 3, 8))
    with pytest.raises(RuntimeError, match="^activation should be relu/gelu, not tanh$"):
        lib.nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(RuntimeError, match="^activation should be relu/gelu, not tanh$"):
        lib.nn.TransformerDecoderLayer(8, 2, activation="tanh")
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        lib.nn.TransformerEncoderLayer(8, 3)
    layer = lib.nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(AssertionError, match="only bool and floating types of "
                                             "src_key_padding_mask are supported"):
        layer(lib.zeros(3, 2, 8), src_key_padding_mask=lib.zeros(2, 3, dtype=lib.int64))
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is"):
        layer(lib.zeros(3, 2, 8), src_mask=lib.zeros(4, 4))


@pytest.mark.parametrize("lib", LIBS)
def test_enable_nested_tensor_warning(lib):
    layer = lib.nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.warns(UserWarning, match=r"enable_nested_tensor is True, but "
                      r"self.use_nested_tensor is False because encoder_layer.self_attn."
                      r"batch_first was not True"):
        encoder = lib.nn.TransformerEncoder(layer, 2)
    assert encoder.enable_nested_tensor and not encoder.use_nested_tensor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False, mask_check=False)
        fast = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16,
                                                                        batch_first=True), 1)
    assert not quiet.use_nested_tensor and not quiet.mask_check
    assert fast.use_nested_tensor
    with pytest.warns(UserWarning, match="self_attn.num_heads is odd"):
        lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(9, 3, batch_first=True), 1)
    with pytest.warns(UserWarning, match="encoder_layer.norm_first was True"):
        lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, norm_first=True), 1)


def test_multihead_attention_from_modules_activation():
    from dark.nn.modules.activation import MultiheadAttention
    from dark.nn.modules.transformer import Transformer
    assert MultiheadAttention is dark.nn.MultiheadAttention
    assert Transformer is dark.nn.Transformer


def test_pickle_round_trip():
    model = _build(dark, "Transformer", "float32", dropout=0.0, activation="gelu")
    copy = pickle.loads(pickle.dumps(model))
    src = dark.tensor(np.ones((3, 2, E), np.float32))
    tgt = dark.tensor(np.ones((2, 2, E), np.float32))
    np.testing.assert_array_equal(_numpy(copy(src, tgt)), _numpy(model(src, tgt)))


@requires_torch
def test_torch_pickled_transformer_loads(tmp_path):
    """A whole nn.Transformer saved by torch.save loads as dark's (its pickle names
    torch.nn.modules.activation.MultiheadAttention) and computes torch's outputs."""
    reference = _build(torch, "Transformer", "float32", dropout=0.0)
    path = tmp_path / "model.pt"
    torch.save(reference, path)
    model = dark.load(str(path), weights_only=False)
    assert isinstance(model, dark.nn.Transformer)
    assert isinstance(model.encoder.layers[0].self_attn, dark.nn.MultiheadAttention)
    rng = np.random.default_rng(0)
    src, tgt = (rng.standard_normal(s).astype(np.float32) for s in ((5, 2, E), (3, 2, E)))
    np.testing.assert_allclose(_numpy(model(dark.tensor(src), dark.tensor(tgt))),
                               reference(torch.tensor(src), torch.tensor(tgt)).detach().numpy(),
                               rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("view", ["transpose", "permute", "strided", "size_one"])
@requires_torch
def test_dropout_mask_follows_memory_layout_as_torch(view):
    """torch draws a dropout mask in its input's memory order (empty_like keeps a permuted
    dense layout): the batch_first layers drop a transposed attention output."""
    make = {"transpose": lambda lib: lib.ones(4, 3, 8).transpose(0, 1),
            "permute": lambda lib: lib.ones(2, 3, 4, 5).permute(2, 0, 3, 1),
            "strided": lambda lib: lib.ones(4, 6, 8)[:, ::2],
            "size_one": lambda lib: lib.ones(5, 1, 4).transpose(0, 2)}[view]
    torch.manual_seed(0)
    expected = torch.nn.functional.dropout(make(torch), 0.3)
    dark.manual_seed(0)
    np.testing.assert_array_equal(_numpy(dark.nn.functional.dropout(make(dark), 0.3)),
                                  expected.numpy())
