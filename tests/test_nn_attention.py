"""F.scaled_dot_product_attention, F.multi_head_attention_forward and nn.MultiheadAttention
against PyTorch: values, input / parameter gradients, finite-difference gradients in float64,
errors, state_dict layout and repr."""
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.nn.functional as F
from dark.autograd import gradcheck, gradgradcheck

# numpy dtype, dark dtype, torch dtype's name, tolerance
DTYPES = {"float32": (np.float32, dark.float32, "float32", 1e-5),
          "float64": (np.float64, dark.float64, "float64", 1e-12)}


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _pair(array, device, grad=True):
    """The same values as a dark tensor on ``device`` and a torch tensor."""
    return (dark.tensor(array, device=device, requires_grad=grad),
            torch.tensor(array, requires_grad=grad))


def _close(dark_tensor, torch_tensor, tol):
    np.testing.assert_allclose(_numpy(dark_tensor), torch_tensor.detach().numpy(),
                               rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- SDPA cases

def _bool_mask(rng, shape, dead_row=False):
    mask = rng.random(shape) < 0.7
    mask[..., 0] = True
    if dead_row:
        mask[..., 1, :] = False
    return mask


SDPA_CASES = {
    # name: (q shape, k shape, v shape, kwargs maker(rng) -> dict of numpy masks / options)
    "2d": ((4, 8), (5, 8), (5, 6), lambda rng: {}),
    "3d": ((2, 4, 8), (2, 5, 8), (2, 5, 3), lambda rng: {}),
    "4d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), lambda rng: {}),
    "5d_broadcast_kv": ((2, 2, 3, 4, 8), (1, 2, 3, 5, 8), (1, 2, 3, 5, 6), lambda rng: {}),
    "bool_mask_2d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                     lambda rng: {"attn_mask": _bool_mask(rng, (4, 5))}),
    "bool_mask_4d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                     lambda rng: {"attn_mask": _bool_mask(rng, (2, 1, 4, 5))}),
    "bool_mask_dead_row": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                           lambda rng: {"attn_mask": _bool_mask(rng, (2, 3, 4, 5), True)}),
    "float_mask": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                   lambda rng: {"attn_mask": rng.standard_normal((3, 4, 5))}),
    "float_mask_inf": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                       lambda rng: {"attn_mask": np.where(_bool_mask(rng, (4, 5)), 0.5,
                                                          -np.inf)}),
    "causal_square": ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                      lambda rng: {"is_causal": True}),
    "causal_wide": ((2, 3, 3, 8), (2, 3, 6, 8), (2, 3, 6, 6),
                    lambda rng: {"is_causal": True}),
    "causal_tall": ((2, 6, 8), (2, 4, 8), (2, 4, 6), lambda rng: {"is_causal": True}),
    "scale": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), lambda rng: {"scale": 0.37}),
    "negative_scale": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                       lambda rng: {"scale": -1.3}),
    "gqa": ((2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6), lambda rng: {"enable_gqa": True}),
    "gqa_mixed": ((2, 6, 4, 8), (2, 3, 5, 8), (2, 1, 5, 6),
                  lambda rng: {"enable_gqa": True, "is_causal": True}),
    "gqa_equal_heads": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                        lambda rng: {"enable_gqa": True}),
}


def _sdpa_inputs(name, np_dtype):
    rng = np.random.default_rng(sum(map(ord, name)))
    q_shape, k_shape, v_shape, options = SDPA_CASES[name]
    arrays = [rng.standard_normal(s).astype(np_dtype) for s in (q_shape, k_shape, v_shape)]
    kwargs = options(rng)
    mask = kwargs.get("attn_mask")
    if mask is not None and mask.dtype != np.bool_:
        kwargs["attn_mask"] = mask.astype(np_dtype)
    return arrays, kwargs


def _options(kwargs, make):
    return {k: make(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(SDPA_CASES))
@requires_torch
def test_sdpa_matches_torch(name, dtype, device):
    np_dtype, dark_dtype, _, tol = DTYPES[dtype]
    arrays, kwargs = _sdpa_inputs(name, np_dtype)
    dark_inputs, torch_inputs = zip(*(_pair(a, device) for a in arrays))
    out = F.scaled_dot_product_attention(
        *dark_inputs, **_options(kwargs, lambda a: dark.tensor(a, device=device)))
    expected = torch.nn.functional.scaled_dot_product_attention(
        *torch_inputs, **_options(kwargs, torch.tensor))
    assert out.dtype == dark_dtype
    assert tuple(out.shape) == tuple(expected.shape)
    _close(out, expected, tol)
    grad = np.random.default_rng(1).standard_normal(tuple(expected.shape)).astype(np_dtype)
    out.backward(dark.tensor(grad, device=device))
    expected.backward(torch.tensor(grad))
    for mine, theirs in zip(dark_inputs, torch_inputs):
        assert np.isfinite(_numpy(mine.grad)).all()
        _close(mine.grad, theirs.grad, tol * 10)


@pytest.mark.parametrize("name", ["2d", "bool_mask_dead_row", "float_mask", "causal_wide",
                                  "negative_scale", "gqa_mixed"])
def test_sdpa_gradcheck(name, device):
    arrays, kwargs = _sdpa_inputs(name, np.float64)
    inputs = [dark.tensor(a[..., :3, :], device=device, requires_grad=True) if i == 0 else
              dark.tensor(a, device=device, requires_grad=True) for i, a in enumerate(arrays)]
    options = _options(kwargs, lambda a: dark.tensor(a[..., :3, :], device=device))

    def function(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **options)

    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


def test_sdpa_float_mask_gradcheck(device):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 8), (2, 4, 8), (2, 4, 5), (3, 4))]
    dark_inputs = [dark.tensor(a, device=device, requires_grad=True) for a in arrays]
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                     dark_inputs)


@requires_torch
def test_sdpa_float_mask_gradient(device):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 8), (2, 4, 8), (2, 4, 5), (3, 4))]
    dark_inputs, torch_inputs = zip(*(_pair(a, device) for a in arrays))
    out = F.scaled_dot_product_attention(*dark_inputs[:3], attn_mask=dark_inputs[3])
    expected = torch.nn.functional.scaled_dot_product_attention(
        *torch_inputs[:3], attn_mask=torch_inputs[3])
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    _close(dark_inputs[3].grad, torch_inputs[3].grad, 1e-12)


def _float32_mask_with_float64_inputs(device):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((3, 8), (4, 8), (4, 5))]
    mask = rng.standard_normal((3, 4)).astype(np.float32)
    out = F.scaled_dot_product_attention(*(dark.tensor(a, device=device) for a in arrays),
                                         attn_mask=dark.tensor(mask, device=device))
    return arrays, mask, out


def test_sdpa_float32_mask_with_float64_inputs_is_float64(device):
    assert _float32_mask_with_float64_inputs(device)[2].dtype == dark.float64


@requires_torch
def test_sdpa_float32_mask_with_float64_inputs(device):
    arrays, mask, out = _float32_mask_with_float64_inputs(device)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in arrays), attn_mask=torch.tensor(mask))
    assert out.dtype == dark.float64
    _close(out, expected, 1e-12)


def test_sdpa_dropout_drops_attention_weights(device):
    rng = np.random.default_rng(5)
    q, k, v = (dark.tensor(rng.standard_normal(s).astype(np.float32), device=device)
               for s in ((2, 3, 6, 8), (2, 3, 7, 8), (2, 3, 7, 4)))
    dark.manual_seed(11)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    dark.manual_seed(11)
    weights = F.softmax(q @ k.transpose(-2, -1) / np.sqrt(8), dim=-1)
    dropped = F.dropout(weights, 0.4, training=True)
    np.testing.assert_allclose(_numpy(out), _numpy(dropped @ v), rtol=1e-5, atol=1e-6)
    zero_fraction = (_numpy(dropped) == 0).mean()
    assert 0.25 < zero_fraction < 0.55
    again = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    assert not np.allclose(_numpy(again), _numpy(out))
    everything = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(_numpy(everything), np.zeros((2, 3, 6, 4), np.float32))


def test_sdpa_dropout_gradient_uses_the_same_mask(device):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in ((4, 8), (5, 8), (5, 3))]
    inputs = [dark.tensor(a, device=device, requires_grad=True) for a in arrays]

    def function(q, k, v):
        dark.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    assert gradcheck(function, inputs)


SDPA_ERRORS = [
    # (call(sdpa, make, q, k, v), error, message); make(*shape, dtype='float32')
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, attn_mask=make(4, 5, dtype="bool"),
                                      is_causal=True),
     RuntimeError, "_scaled_dot_product_attention: Explicit attn_mask should not be set "
                   "when is_causal=True"),
    (lambda sdpa, make, q, k, v: sdpa(q, make(2, 3, 5, 8, dtype="float64"), v), RuntimeError,
     "Expected query, key, and value to have the same dtype, but got query.dtype: float "
     "key.dtype: double and value.dtype: float instead."),
    (lambda sdpa, make, q, k, v: sdpa(make(8), k, v), RuntimeError,
     "Expected query, key, and value to all be  at least 2 dimensional, but got "
     "query.dim: 1 key.dim: 4 and value.dim: 4 instead."),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, attn_mask=make(4, 5, dtype="int64")),
     RuntimeError, "Expected attn_mask dtype to be bool or float or to match query dtype, but "
                   "got attn_mask.dtype: long int and  query.dtype: float instead."),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, attn_mask=make(4, 5, dtype="float64")),
     RuntimeError, "Expected attn_mask dtype to be bool or float or to match query dtype, but "
                   "got attn_mask.dtype: double and  query.dtype: float instead."),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, attn_mask=make(4, 6)), RuntimeError,
     "The size of tensor a (5) must match the size of tensor b (6) at non-singleton "
     "dimension 3"),
    (lambda sdpa, make, q, k, v: sdpa(make(4, 5), make(5, 5), make(5, 5),
                                      attn_mask=make(2, 4, 5)),
     RuntimeError, "output with shape [4, 5] doesn't match the broadcast shape [2, 4, 5]"),
    (lambda sdpa, make, q, k, v: sdpa(q, make(2, 2, 5, 8), make(2, 2, 5, 6), enable_gqa=True),
     RuntimeError, "Number of heads in key and value must divide the number of heads in "),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, dropout_p=1.5), RuntimeError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, 0.5), TypeError,
     "scaled_dot_product_attention(): argument 'attn_mask' (position 4) must be Tensor, "
     "not float"),
    (lambda sdpa, make, q, k, v: sdpa(q, k, v, None, 0.0, False, 0.5), TypeError,
     "scaled_dot_product_attention() takes from 3 to 6 positional arguments but 7 were "
     "given"),
    (lambda sdpa, make, q, k, v: sdpa([1.0], k, v), TypeError,
     "scaled_dot_product_attention(): argument 'query' (position 1) must be Tensor, "
     "not list"),
]


@pytest.mark.parametrize("index", range(len(SDPA_ERRORS)))
@pytest.mark.parametrize("lib", LIBS)
def test_sdpa_errors_match_torch(lib, index, device):
    call, error, message = SDPA_ERRORS[index]
    options = {"device": device} if lib is dark else {}

    def make(*shape, dtype="float32"):
        return lib.zeros(*shape, dtype=getattr(lib, dtype), **options)

    with pytest.raises(error) as raised:
        call(lib.nn.functional.scaled_dot_product_attention, make, make(2, 3, 4, 8),
             make(2, 3, 5, 8), make(2, 3, 5, 6))
    assert str(raised.value) == message


# ----------------------------------------------------------------------------- MHA

def _dark_module(dtype, **kwargs):
    """dark's module alone, its biases made to count as _modules does with torch's."""
    dark.manual_seed(0)
    module = dark.nn.MultiheadAttention(8, 2, dtype=DTYPES[dtype][1], **kwargs)
    if module.bias_k is None and module.in_proj_bias is not None:
        with dark.no_grad():
            module.in_proj_bias.normal_()
            module.out_proj.bias.normal_()
    return module


def _modules(dtype, **kwargs):
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(8, 2, dtype=getattr(torch, DTYPES[dtype][2]),
                                            **kwargs)
    module = dark.nn.MultiheadAttention(8, 2, dtype=DTYPES[dtype][1], **kwargs)
    if reference.bias_k is None:
        with torch.no_grad():  # torch leaves the biases at 0: make them count
            if reference.in_proj_bias is not None:
                reference.in_proj_bias.normal_()
                reference.out_proj.bias.normal_()
    module.load_state_dict({k: dark.tensor(v.detach().numpy())
                            for k, v in reference.state_dict().items()})
    return module, reference


MHA_CASES = {
    # name: (module kwargs, (L, S, N or None), forward kwargs maker(rng, L, S, N) -> dict,
    #        self-attention)
    "self": ({}, (4, 4, 3), lambda rng, L, S, N: {}, True),
    "self_unbatched": ({}, (4, 4, None), lambda rng, L, S, N: {}, True),
    "cross": ({}, (4, 6, 3), lambda rng, L, S, N: {}, False),
    "cross_kdim_vdim": ({"kdim": 5, "vdim": 3}, (4, 6, 3), lambda rng, L, S, N: {}, False),
    "batch_first": ({"batch_first": True}, (4, 4, 3), lambda rng, L, S, N: {}, True),
    "batch_first_cross": ({"batch_first": True, "kdim": 5, "vdim": 3}, (4, 6, 2),
                          lambda rng, L, S, N: {}, False),
    "key_padding_mask": ({}, (4, 5, 3), lambda rng, L, S, N: {
        "key_padding_mask": _padding(rng, N, S)}, False),
    "key_padding_mask_float": ({}, (4, 5, 3), lambda rng, L, S, N: {
        "key_padding_mask": np.where(_padding(rng, N, S), -np.inf, 0.0)}, False),
    "attn_mask_bool": ({}, (4, 5, 3), lambda rng, L, S, N: {
        "attn_mask": ~_bool_mask(rng, (L, S))}, False),
    "attn_mask_3d_float": ({}, (4, 5, 3), lambda rng, L, S, N: {
        "attn_mask": rng.standard_normal((N * 2, L, S))}, False),
    "both_masks": ({}, (4, 5, 3), lambda rng, L, S, N: {
        "attn_mask": ~_bool_mask(rng, (L, S)), "key_padding_mask": _padding(rng, N, S)},
        False),
    "unbatched_masks": ({}, (4, 5, None), lambda rng, L, S, N: {
        "attn_mask": rng.standard_normal((2, L, S)),
        "key_padding_mask": np.array([False, False, True, False, True])}, False),
    "add_bias_kv": ({"add_bias_kv": True}, (4, 5, 3), lambda rng, L, S, N: {
        "key_padding_mask": _padding(rng, N, S), "attn_mask": ~_bool_mask(rng, (L, S))},
        False),
    "add_zero_attn": ({"add_zero_attn": True}, (4, 5, 3), lambda rng, L, S, N: {
        "key_padding_mask": _padding(rng, N, S)}, False),
    "bias_kv_zero_attn": ({"add_bias_kv": True, "add_zero_attn": True, "kdim": 5,
                           "vdim": 3}, (4, 5, 2), lambda rng, L, S, N: {
        "attn_mask": rng.standard_normal((L, S))}, False),
    "no_bias": ({"bias": False}, (4, 5, 3), lambda rng, L, S, N: {}, False),
    "causal_hint": ({}, (5, 5, 2), lambda rng, L, S, N: {
        "attn_mask": np.triu(np.ones((L, S), bool), 1), "is_causal": True}, True),
}


def _padding(rng, batch, length):
    mask = rng.random((batch, length)) < 0.3
    mask[:, 0] = False
    return mask


def _mha_inputs(name, module, np_dtype):
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    _, (L, S, N), options, self_attention = MHA_CASES[name]

    def shape(length, features):
        if N is None:
            return (length, features)
        return (N, length, features) if module.batch_first else (length, N, features)

    query = rng.standard_normal(shape(L, 8)).astype(np_dtype)
    if self_attention:
        arrays = [query]
    else:
        arrays = [query, rng.standard_normal(shape(S, module.kdim)).astype(np_dtype),
                  rng.standard_normal(shape(S, module.vdim)).astype(np_dtype)]
    kwargs = options(rng, L, S, N)
    return arrays, {k: v.astype(np_dtype) if getattr(v, "dtype", None) == np.float64 else v
                    for k, v in kwargs.items()}


def _call(module, tensors, kwargs, make, **more):
    query, key, value = tensors * 3 if len(tensors) == 1 else tensors
    return module(query, key, value, **_options(kwargs, make), **more)


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(MHA_CASES))
@requires_torch
def test_multihead_attention_matches_torch(name, dtype, need_weights, average, device):
    np_dtype, _, _, tol = DTYPES[dtype]
    module, reference = _modules(dtype, **MHA_CASES[name][0])
    module.to(device)
    arrays, kwargs = _mha_inputs(name, module, np_dtype)
    dark_inputs, torch_inputs = zip(*(_pair(a, device) for a in arrays))
    more = {"need_weights": need_weights, "average_attn_weights": average}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float key_padding_mask with bool attn_mask
        out, weights = _call(module, dark_inputs, kwargs,
                             lambda a: dark.tensor(a, device=device), **more)
        expected, expected_weights = _call(reference, torch_inputs, kwargs, torch.tensor,
                                           **more)
    _close(out, expected, tol)
    if expected_weights is None:
        assert weights is None
    else:
        assert tuple(weights.shape) == tuple(expected_weights.shape)
        _close(weights, expected_weights, tol)
    rng = np.random.default_rng(2)
    grad = rng.standard_normal(tuple(expected.shape)).astype(np_dtype)
    loss = (out * dark.tensor(grad, device=device)).sum()
    expected_loss = (expected * torch.tensor(grad)).sum()
    if expected_weights is not None:
        weight_grad = rng.standard_normal(tuple(expected_weights.shape)).astype(np_dtype)
        loss = loss + (weights * dark.tensor(weight_grad, device=device)).sum()
        expected_loss = expected_loss + (expected_weights * torch.tensor(weight_grad)).sum()
    loss.backward()
    expected_loss.backward()
    for mine, theirs in zip(dark_inputs, torch_inputs):
        _close(mine.grad, theirs.grad, tol * 10)
    theirs = dict(reference.named_parameters())
    for parameter_name, parameter in module.named_parameters():
        _close(parameter.grad, theirs[parameter_name].grad, tol * 10)


@pytest.mark.parametrize("name", ["cross_kdim_vdim", "both_masks", "bias_kv_zero_attn",
                                  "self_unbatched"])
def test_multihead_attention_gradcheck(name, device):
    module = _dark_module("float64", **MHA_CASES[name][0])
    module.to(device)
    arrays, kwargs = _mha_inputs(name, module, np.float64)
    inputs = [dark.tensor(a, device=device, requires_grad=True) for a in arrays]

    def function(*tensors):
        out, weights = _call(module, list(tensors), kwargs,
                             lambda a: dark.tensor(a, device=device))
        return out, weights

    assert gradcheck(function, inputs)


def test_multihead_attention_dropout(device):
    module = _dark_module("float32", dropout=0.5)
    module.to(device)
    x = dark.tensor(np.random.default_rng(7).standard_normal((4, 2, 8)).astype(np.float32),
                    device=device)
    dark.manual_seed(1)
    first, first_weights = module(x, x, x)
    dark.manual_seed(1)
    second, _ = module(x, x, x)
    np.testing.assert_array_equal(_numpy(first), _numpy(second))
    per_head = module(x, x, x, average_attn_weights=False)[1]
    assert (_numpy(per_head) == 0).mean() > 0.2
    module.eval()
    eval_out, eval_weights = module(x, x, x)
    np.testing.assert_allclose(_numpy(eval_weights.sum(-1)), np.ones((2, 4)), rtol=1e-5)
    assert not np.allclose(_numpy(eval_out), _numpy(first))


@requires_torch
def test_multihead_attention_state_dict_and_repr():
    for kwargs in ({}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True, "bias": False},
                   {"add_zero_attn": True, "batch_first": True, "dropout": 0.1}):
        reference = torch.nn.MultiheadAttention(8, 2, **kwargs)
        module = dark.nn.MultiheadAttention(8, 2, **kwargs)
        assert [(k, tuple(v.shape)) for k, v in module.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
        assert [n for n, _ in module.named_parameters()] == \
            [n for n, _ in reference.named_parameters()]
        assert repr(module) == repr(reference)
        for attribute in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "dropout",
                          "batch_first", "add_zero_attn", "_qkv_same_embed_dim"):
            assert getattr(module, attribute) == getattr(reference, attribute)
        for attribute in ("in_proj_weight", "q_proj_weight", "k_proj_weight",
                          "v_proj_weight", "in_proj_bias", "bias_k", "bias_v"):
            assert (getattr(module, attribute) is None) == \
                (getattr(reference, attribute) is None)


def test_multihead_attention_initialisation():
    dark.manual_seed(0)
    module = dark.nn.MultiheadAttention(64, 4, add_bias_kv=True, kdim=32, vdim=48)
    for name, fan_in in (("q_proj_weight", 64), ("k_proj_weight", 32),
                         ("v_proj_weight", 48)):
        weight = _numpy(getattr(module, name))
        bound = np.sqrt(6.0 / (64 + fan_in))
        assert np.abs(weight).max() <= bound
        assert np.abs(weight).max() > 0.9 * bound
    np.testing.assert_array_equal(_numpy(module.in_proj_bias), np.zeros(192, np.float32))
    np.testing.assert_array_equal(_numpy(module.out_proj.bias), np.zeros(64, np.float32))
    assert module.in_proj_weight is None
    out_bound = 1 / np.sqrt(64)
    assert np.abs(_numpy(module.out_proj.weight)).max() <= out_bound
    # xavier_normal_ on a (1, 1, E) tensor: fan_in = E, fan_out = 1 * E
    std = np.sqrt(2.0 / (64 + 64))
    assert 0.5 * std < _numpy(module.bias_k).std() < 1.6 * std
    assert module.in_proj_weight is None and module.out_proj.weight.dtype == dark.float32
    packed = dark.nn.MultiheadAttention(6, 3, dtype=dark.float64)
    bound = np.sqrt(6.0 / (18 + 6))
    assert packed.in_proj_weight.dtype == dark.float64
    assert np.abs(_numpy(packed.in_proj_weight)).max() <= bound


def test_multihead_attention_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        dark.nn.MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0, "
                                         "got embed_dim=0 and num_heads=3 instead"):
        dark.nn.MultiheadAttention(0, 3)
    module = dark.nn.MultiheadAttention(8, 2)
    x = dark.zeros(4, 2, 8)
    cases = [
        (lambda: module(x, x, x, is_causal=True), RuntimeError,
         "Need attn_mask if specifying the is_causal hint."),
        (lambda: module(x, x, x, attn_mask=dark.zeros(4, 5)), RuntimeError,
         "The shape of the 2D attn_mask is"),
        (lambda: module(x, x, x, attn_mask=dark.zeros(4, 4, dtype=dark.int64)),
         AssertionError, "only bool and floating types of attn_mask are supported"),
        (lambda: module(x, x, dark.zeros(4, 8)), AssertionError,
         "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found 3-D and "
         "2-D tensors respectively"),
        (lambda: module(x, x, x, key_padding_mask=dark.zeros(2, 5, dtype=dark.bool)),
         AssertionError, "Expected key_padded_mask.shape[1] to be 4, but got 5"),
        (lambda: module(dark.zeros(4, 2, 6), x, x), AssertionError,
         "was expecting embedding dimension of 8, but got 6"),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as raised:
            call()
        assert str(raised.value).startswith(message)


def test_mismatched_mask_types_warn():
    module = dark.nn.MultiheadAttention(8, 2)
    x = dark.zeros(4, 2, 8)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and "
                                         "attn_mask is deprecated"):
        module(x, x, x, key_padding_mask=dark.zeros(2, 4, dtype=dark.bool),
               attn_mask=dark.zeros(4, 4))


@requires_torch
def test_functional_multi_head_attention_static_kv(device):
    """multi_head_attention_forward with static_k / static_v against torch's."""
    rng = np.random.default_rng(8)
    module, reference = _modules("float64")
    L, N, S = 3, 2, 6
    query, key, value = (rng.standard_normal((n, N, 8)) for n in (L, S, S))
    static_k, static_v = (rng.standard_normal((N * 2, 7, 4)) for _ in range(2))
    parameters = dict(module.named_parameters())
    expected = torch.nn.functional.multi_head_attention_forward(
        *(torch.tensor(a) for a in (query, key, value)), 8, 2, reference.in_proj_weight,
        reference.in_proj_bias, None, None, False, 0.0, reference.out_proj.weight,
        reference.out_proj.bias, static_k=torch.tensor(static_k),
        static_v=torch.tensor(static_v))
    out = F.multi_head_attention_forward(
        *(dark.tensor(a) for a in (query, key, value)), 8, 2, parameters["in_proj_weight"],
        parameters["in_proj_bias"], None, None, False, 0.0, parameters["out_proj.weight"],
        parameters["out_proj.bias"], static_k=dark.tensor(static_k),
        static_v=dark.tensor(static_v))
    for mine, theirs in zip(out, expected):
        _close(mine, theirs, 1e-12)
