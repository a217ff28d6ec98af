"""nn.RNN / LSTM / GRU, their cells and nn.utils.rnn against PyTorch: the same parameters
(copied by name from torch's module) must give the same outputs, final states and gradients
with respect to the input, the initial state and every parameter."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark.autograd import gradcheck, gradgradcheck
from dark.nn.modules.rnn import _rnn_forward
from dark.nn.utils import rnn as rnn_utils

TOLERANCE = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}


def _dark(array, device, requires_grad=False):
    return dark.tensor(array, device=device, requires_grad=requires_grad)


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _close(dark_tensor, torch_tensor, dtype, what=""):
    np.testing.assert_allclose(_numpy(dark_tensor), torch_tensor.detach().numpy(),
                               err_msg=what, **TOLERANCE[dtype])


def _copy_module(torch_module, dark_module, device):
    """Copy torch's parameters into dark's by name (the names and order must agree)."""
    torch_parameters = dict(torch_module.named_parameters())
    dark_parameters = dict(dark_module.named_parameters())
    assert list(dark_parameters) == list(torch_parameters)
    with dark.no_grad():
        for name, parameter in dark_parameters.items():
            assert tuple(parameter.shape) == tuple(torch_parameters[name].shape), name
            parameter.copy_(_dark(_numpy(torch_parameters[name]), device))
    return dark_module.to(device)


def _pair(name, *args, dtype="float32", device="cpu", **kwargs):
    torch_module = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
    dark_module = getattr(dark.nn, name)(*args, dtype=getattr(dark, dtype), **kwargs)
    return torch_module, _copy_module(torch_module, dark_module, device)


def _flatten(result):
    """The tensors of an RNN result ((out, h) or (out, (h, c)) or a cell's h / (h, c))."""
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in _flatten(item)]
    if isinstance(result, rnn_utils.PackedSequence) or type(result).__name__ == "PackedSequence":
        return [result.data]
    return [result]


def _check_parity(torch_module, dark_module, arrays, make_call, dtype, device):
    """Run both modules on the same inputs; compare every output, then the gradients of a
    random weighting of the outputs w.r.t. the inputs and every parameter."""
    torch_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    dark_inputs = [_dark(a, device, requires_grad=True) for a in arrays]
    torch_outputs = _flatten(make_call(torch, torch_module, torch_inputs))
    dark_outputs = _flatten(make_call(dark, dark_module, dark_inputs))
    assert len(torch_outputs) == len(dark_outputs)
    rng = np.random.default_rng(0)
    torch_loss, dark_loss = 0, 0
    for index, (t, d) in enumerate(zip(torch_outputs, dark_outputs)):
        assert tuple(d.shape) == tuple(t.shape), f"output {index}"
        assert d.dtype == getattr(dark, dtype)
        _close(d, t, dtype, f"output {index}")
        weight = rng.standard_normal(tuple(t.shape)).astype(dtype)
        torch_loss = torch_loss + (t * torch.tensor(weight)).sum()
        dark_loss = dark_loss + (d * _dark(weight, device)).sum()
    torch_loss.backward()
    dark_loss.backward()
    for index, (t, d) in enumerate(zip(torch_inputs, dark_inputs)):
        _close(d.grad, t.grad, dtype, f"grad of input {index}")
    torch_parameters = dict(torch_module.named_parameters())
    for name, parameter in dark_module.named_parameters():
        _close(parameter.grad, torch_parameters[name].grad, dtype, f"grad of {name}")


# --- the recurrent layers --------------------------------------------------------------

CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bidirectional": True, "bias": False}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "bias": False}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "batch_first": True, "bidirectional": True}),
    ("GRU", {"bias": False, "num_layers": 2}),
]
INPUT, HIDDEN, STEPS, BATCH = 4, 5, 3, 2


def _config_id(config):
    name, kwargs = config
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def _state_arrays(rng, name, kwargs, batch, dtype):
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    shape = (layers, batch) if batch else (layers,)
    size = kwargs.get("proj_size") or HIDDEN
    states = [rng.standard_normal((*shape, size))]
    if name == "LSTM":
        states.append(rng.standard_normal((*shape, HIDDEN)))
    return [s.astype(dtype) for s in states]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
@requires_torch
def test_recurrent_layer_parity(config, with_hx, batched, dtype, device):
    name, kwargs = config
    torch_module, dark_module = _pair(name, INPUT, HIDDEN, dtype=dtype, device=device,
                                      **kwargs)
    rng = np.random.default_rng(1)
    if not batched:
        shape = (STEPS, INPUT)
    elif kwargs.get("batch_first"):
        shape = (BATCH, STEPS, INPUT)
    else:
        shape = (STEPS, BATCH, INPUT)
    arrays = [rng.standard_normal(shape).astype(dtype)]
    if with_hx:
        arrays += _state_arrays(rng, name, kwargs, BATCH if batched else 0, dtype)

    def call(lib, module, inputs):
        if len(inputs) == 1:
            return module(inputs[0])
        hx = tuple(inputs[1:]) if name == "LSTM" else inputs[1]
        return module(inputs[0], hx)

    _check_parity(torch_module, dark_module, arrays, call, dtype, device)


@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
@requires_torch
def test_state_dict_and_all_weights_match_torch(config):
    name, kwargs = config
    torch_module = getattr(torch.nn, name)(INPUT, HIDDEN, **kwargs)
    dark_module = getattr(dark.nn, name)(INPUT, HIDDEN, **kwargs)
    torch_state, dark_state = torch_module.state_dict(), dark_module.state_dict()
    assert list(dark_state) == list(torch_state)
    for key in torch_state:
        assert tuple(dark_state[key].shape) == tuple(torch_state[key].shape), key
    assert [[tuple(p.shape) for p in group] for group in dark_module.all_weights] == \
        [[tuple(p.shape) for p in group] for group in torch_module.all_weights]
    assert dark_module.extra_repr() == torch_module.extra_repr()
    assert repr(dark_module) == repr(torch_module)
    dark_module.flatten_parameters()


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_default_initialisation_is_uniform_in_bound(name):
    module = getattr(dark.nn, name)(3, 16)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([_numpy(p).ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert values.min() >= -bound and values.max() <= bound
    assert values.std() > bound / 3  # spread over the interval, not a constant
    for parameter in module.parameters():
        assert parameter.requires_grad and parameter.is_leaf


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_of_one_between_layers_only_in_training(name, device):
    """p = 1 zeroes the second layer's input in training: deterministic, and not the eval
    output; no warning with num_layers > 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = getattr(dark.nn, name)(INPUT, HIDDEN, num_layers=2, dropout=1.0).to(device)
    x = _dark(np.random.default_rng(2).standard_normal((STEPS, BATCH, INPUT)).astype(
        np.float32), device)
    train, again = _numpy(module.train()(x)[0]), _numpy(module(x)[0])
    evaluated = _numpy(module.eval()(x)[0])
    np.testing.assert_array_equal(train, again)
    np.testing.assert_array_equal(evaluated, _numpy(module(x)[0]))
    assert not np.allclose(train, evaluated)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@requires_torch
def test_dropout_between_layers_only_in_training(name, device):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning with num_layers > 1
        torch_module, dark_module = _pair(name, INPUT, HIDDEN, num_layers=2, dropout=1.0,
                                          device=device)
    x = np.random.default_rng(2).standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)

    def first(result):
        return result[0]

    torch_eval = first(torch_module.eval()(torch.tensor(x)))
    dark_eval = first(dark_module.eval()(_dark(x, device)))
    _close(dark_eval, torch_eval, "float32")
    # p = 1 zeroes the second layer's input: deterministic, so comparable with torch
    torch_train = first(torch_module.train()(torch.tensor(x)))
    dark_train = first(dark_module.train()(_dark(x, device)))
    _close(dark_train, torch_train, "float32")
    assert not np.allclose(_numpy(dark_train), _numpy(dark_eval))


def test_dropout_half_is_random_in_training():
    module = dark.nn.LSTM(INPUT, HIDDEN, num_layers=2, dropout=0.5)
    x = dark.randn(STEPS, BATCH, INPUT)
    first, second = module(x)[0], module(x)[0]
    assert not np.allclose(_numpy(first), _numpy(second))
    module.eval()
    np.testing.assert_array_equal(_numpy(module(x)[0]), _numpy(module(x)[0]))


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1, but got dropout=0.5"):
        dark.nn.GRU(3, 4, dropout=0.5)


# --- the cells ---------------------------------------------------------------------------

CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
         ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}),
         ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("config", CELLS, ids=[_config_id(c) for c in CELLS])
@requires_torch
def test_cell_parity(config, with_hx, batched, dtype, device):
    name, kwargs = config
    torch_module, dark_module = _pair(name, INPUT, HIDDEN, dtype=dtype, device=device,
                                      **kwargs)
    rng = np.random.default_rng(3)
    batch = (BATCH,) if batched else ()
    arrays = [rng.standard_normal((*batch, INPUT)).astype(dtype)]
    if with_hx:
        count = 2 if name == "LSTMCell" else 1
        arrays += [rng.standard_normal((*batch, HIDDEN)).astype(dtype) for _ in range(count)]

    def call(lib, module, inputs):
        if len(inputs) == 1:
            return module(inputs[0])
        return module(inputs[0], tuple(inputs[1:]) if name == "LSTMCell" else inputs[1])

    _check_parity(torch_module, dark_module, arrays, call, dtype, device)


@requires_torch
def test_cells_state_dict_and_repr_match_torch():
    for name, kwargs in CELLS:
        torch_module = getattr(torch.nn, name)(INPUT, HIDDEN, **kwargs)
        dark_module = getattr(dark.nn, name)(INPUT, HIDDEN, **kwargs)
        assert list(dark_module.state_dict()) == list(torch_module.state_dict())
        assert repr(dark_module) == repr(torch_module)
        if not kwargs.get("bias", True):
            assert dark_module.bias_ih is None and dark_module.bias_hh is None


def test_cell_unrolled_equals_layer():
    """An LSTMCell stepped by hand gives the LSTM layer's output with the same weights."""
    layer = dark.nn.LSTM(INPUT, HIDDEN)
    cell = dark.nn.LSTMCell(INPUT, HIDDEN)
    with dark.no_grad():
        for suffix in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, suffix).copy_(getattr(layer, suffix + "_l0"))
    x = dark.randn(STEPS, BATCH, INPUT)
    output, (h_n, c_n) = layer(x)
    state = None
    for step in x.unbind(0):
        state = cell(step, state)
    np.testing.assert_allclose(_numpy(state[0]), _numpy(output[-1]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_numpy(state[1]), _numpy(c_n[0]), rtol=1e-6, atol=1e-6)


# --- gradcheck of the functional recurrence in float64 --------------------------------


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_gradcheck_functional_recurrence(mode):
    rng = np.random.default_rng(4)
    gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1}[mode] * 2
    layer_sizes = [[(gates, 3), (gates, 2), (gates,), (gates,)],
                   [(gates, 2), (gates, 2), (gates,), (gates,)]]
    arrays = [rng.standard_normal((3, 2, 3))]
    arrays += [rng.standard_normal((2, 2, 2)) for _ in range(2 if mode == "LSTM" else 1)]
    for layer in layer_sizes:
        arrays += [rng.standard_normal(shape) * 0.5 for shape in layer]
    inputs = [dark.tensor(a, dtype=dark.float64, requires_grad=True) for a in arrays]
    state_count = 2 if mode == "LSTM" else 1

    def function(x, *rest):
        states, weights = rest[:state_count], rest[state_count:]
        groups = [list(weights[i:i + 4]) + [None] for i in range(0, len(weights), 4)]
        output, final = _rnn_forward(mode, x, None, states, groups, 2, 0.0, False, False)
        return (output, *final)

    assert gradcheck(function, tuple(inputs), eps=1e-6, atol=1e-5)
    if mode != "LSTM":  # keep the slow second-order check to the cheaper recurrences
        assert gradgradcheck(function, tuple(inputs), eps=1e-6, atol=1e-4)


# --- errors, as torch raises them ------------------------------------------------------

ERRORS = [
    ("LSTM", (10, 20), (5, 3, 7), None, "input.size(-1) must be equal to input_size"),
    ("RNN", (10, 20), (5, 3, 10), [(2, 3, 20)], "Expected hidden size"),
    ("GRU", (10, 20), (5, 3, 10), [(1, 2, 20)], "Expected hidden size"),
    ("LSTM", (10, 20), (5, 3, 10), [(1, 3, 20), (2, 3, 20)], "Expected hidden[1] size"),
    ("LSTM", (10, 20), (5, 3, 10), [(1, 3, 19), (1, 3, 20)], "Expected hidden[0] size"),
    ("RNN", (10, 20), (2, 5, 3, 10), None, "Expected input to be 2D or 3D"),
    ("LSTM", (10, 20), (2, 5, 3, 10), None, "Expected input to be 2D or 3D"),
    ("GRU", (10, 20), (5, 10), [(1, 1, 20)], "For unbatched 2-D input"),
    ("RNN", (10, 20), (5, 3, 10), [(3, 20)], "For batched 3-D input"),
    ("LSTM", (10, 20), (5, 10), [(1, 1, 20), (1, 1, 20)], "hx and cx should also be 2-D"),
    ("RNNCell", (10, 20), (3, 7), None, "input has inconsistent input_size"),
    ("GRUCell", (10, 20), (3, 10), [(2, 20)], "doesn't match hidden0 batch size"),
    ("LSTMCell", (10, 20), (3, 10), [(3, 20), (3, 19)], "hidden1 has inconsistent"),
    ("LSTMCell", (4, 3), (4,), [(2, 3), (2, 3)],
     "hidden0 has inconsistent hidden_size: got 2, expected 3"),  # unbatched, batched hx
    ("LSTMCell", (4, 3), (2, 4), [(3,), (3,)],
     "Input batch size 2 doesn't match hidden0 batch size 3"),
    ("GRUCell", (10, 20), (2, 3, 10), None, "Expected input to be 1D or 2D"),
    ("RNNCell", (10, 20), (3, 10), [(1, 3, 20)], "Expected hidden to be 1D or 2D"),
]


def _forward_error(lib, case):
    name, args, input_shape, state_shapes, message = case
    module = getattr(lib.nn, name)(*args)
    call = (lib.zeros(*input_shape),)
    if state_shapes is not None:
        states = tuple(lib.zeros(*shape) for shape in state_shapes)
        call += (states if name.startswith("LSTM") else states[0],)
    with pytest.raises(Exception, match=re.escape(message)) as error:
        module(*call)
    return error


@pytest.mark.parametrize("case", ERRORS, ids=[f"{c[0]}-{c[4][:20]}" for c in ERRORS])
@pytest.mark.parametrize("lib", LIBS)
def test_forward_errors(lib, case):
    _forward_error(lib, case)


@pytest.mark.parametrize("case", ERRORS, ids=[f"{c[0]}-{c[4][:20]}" for c in ERRORS])
@requires_torch
def test_forward_errors_match_torch(case):
    expected, got = _forward_error(torch, case), _forward_error(dark, case)
    assert got.type is expected.type
    assert str(got.value) == str(expected.value)


CONSTRUCTOR_ERRORS = [
    ("RNN", (10, 20), {"nonlinearity": "sigmoid"}),
    ("GRU", (10, 20), {"proj_size": 5}),
    ("LSTM", (10, 20), {"proj_size": 20}),
    ("LSTM", (10, 20), {"dropout": 1.5}),
    ("LSTM", (10, 0), {}),
    ("LSTM", (10, 20.0), {}),
    ("GRU", (10, 20), {"num_layers": 0}),
    ("RNN", (10, 20), {"bias": 1}),
]


@pytest.mark.parametrize("case", CONSTRUCTOR_ERRORS, ids=[str(c) for c in CONSTRUCTOR_ERRORS])
@requires_torch
def test_constructor_errors_match_torch(case):
    name, args, kwargs = case
    with pytest.raises(Exception) as torch_error:
        getattr(torch.nn, name)(*args, **kwargs)
    with pytest.raises(torch_error.type) as dark_error:
        getattr(dark.nn, name)(*args, **kwargs)
    assert str(dark_error.value) == str(torch_error.value)


def test_dtype_mismatch_is_a_value_error():
    module = dark.nn.LSTM(4, 5)
    with pytest.raises(ValueError, match="does not match weight dtype"):
        module(dark.zeros(2, 1, 4, dtype=dark.float64))


# --- nn.utils.rnn ------------------------------------------------------------------------

LENGTHS = [4, 2, 3, 1]


def _sequences(lib, rng_seed=5, trailing=(3,), requires_grad=True):
    rng = np.random.default_rng(rng_seed)
    arrays = [rng.standard_normal((n, *trailing)) for n in LENGTHS]
    return [lib.tensor(a, requires_grad=requires_grad) for a in arrays]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@requires_torch
def test_pad_sequence(batch_first, padding_side):
    results = []
    for lib in (torch, dark):
        sequences = _sequences(lib)
        utils = torch.nn.utils.rnn if lib is torch else rnn_utils
        padded = utils.pad_sequence(sequences, batch_first=batch_first, padding_value=-2.0,
                                    padding_side=padding_side)
        (padded * lib.arange(padded.numel(), dtype=lib.float64).reshape(padded.shape)
         ).sum().backward()
        results.append((padded, [s.grad for s in sequences]))
    _close(results[1][0], results[0][0], "float64")
    for d, t in zip(results[1][1], results[0][1]):
        _close(d, t, "float64")


@pytest.mark.parametrize("count, padding_side", [(0, "right"), (1, "middle")])
@requires_torch
def test_pad_sequence_errors_match_torch(count, padding_side):
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.utils.rnn.pad_sequence([torch.ones(2)] * count, padding_side=padding_side)
    with pytest.raises(RuntimeError) as dark_error:
        rnn_utils.pad_sequence([dark.ones(2)] * count, padding_side=padding_side)
    assert str(dark_error.value) == str(torch_error.value)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
@requires_torch
def test_pack_and_pad_packed_round_trip(batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    rng = np.random.default_rng(6)
    shape = (len(lengths), max(lengths), 3) if batch_first else (max(lengths), len(lengths), 3)
    array = rng.standard_normal(shape)
    outputs = []
    for lib, utils in ((torch, torch.nn.utils.rnn), (dark, rnn_utils)):
        padded = lib.tensor(array, requires_grad=True)
        packed = utils.pack_padded_sequence(padded, lengths, batch_first=batch_first,
                                            enforce_sorted=enforce_sorted)
        unpacked, out_lengths = utils.pad_packed_sequence(
            packed, batch_first=batch_first, padding_value=7.0, total_length=5)
        (unpacked * unpacked).sum().backward()
        outputs.append((packed, unpacked, out_lengths, padded.grad))
    (t_packed, t_unpacked, t_lengths, t_grad), (d_packed, d_unpacked, d_lengths, d_grad) = \
        outputs
    _close(d_packed.data, t_packed.data, "float64")
    assert _numpy(d_packed.batch_sizes).tolist() == t_packed.batch_sizes.tolist()
    for d, t in ((d_packed.sorted_indices, t_packed.sorted_indices),
                 (d_packed.unsorted_indices, t_packed.unsorted_indices)):
        assert (d is None) == (t is None)
        if t is not None:
            assert _numpy(d).tolist() == t.tolist()
    _close(d_unpacked, t_unpacked, "float64")
    assert _numpy(d_lengths).tolist() == t_lengths.tolist()
    assert d_lengths.dtype == dark.int64
    _close(d_grad, t_grad, "float64")


@requires_torch
def test_pack_errors_match_torch():
    cases = [(([3, 4],), {}), (([3, 0],), {"enforce_sorted": False})]
    for (lengths,), kwargs in cases:
        with pytest.raises(RuntimeError) as torch_error:
            torch.nn.utils.rnn.pack_padded_sequence(torch.zeros(4, 2, 3), lengths, **kwargs)
        with pytest.raises(RuntimeError) as dark_error:
            rnn_utils.pack_padded_sequence(dark.zeros(4, 2, 3), lengths, **kwargs)
        assert str(dark_error.value) == str(torch_error.value)
    packed = torch.nn.utils.rnn.pack_sequence([torch.ones(3, 1)])
    with pytest.raises(ValueError) as torch_error:
        torch.nn.utils.rnn.pad_packed_sequence(packed, total_length=2)
    packed = rnn_utils.pack_sequence([dark.ones(3, 1)])
    with pytest.raises(ValueError) as dark_error:
        rnn_utils.pad_packed_sequence(packed, total_length=2)
    assert str(dark_error.value) == str(torch_error.value)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_packed_round_trip_values(batch_first, enforce_sorted):
    """pad_packed_sequence(pack_padded_sequence(x)) is x up to each length, padding_value
    after it and up to total_length; the gradient flows to the kept entries only."""
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    rng = np.random.default_rng(6)
    shape = (len(lengths), max(lengths), 3) if batch_first else (max(lengths), len(lengths), 3)
    array = rng.standard_normal(shape)
    padded = dark.tensor(array, requires_grad=True)
    packed = rnn_utils.pack_padded_sequence(padded, lengths, batch_first=batch_first,
                                            enforce_sorted=enforce_sorted)
    assert _numpy(packed.batch_sizes).tolist() == [
        sum(n > step for n in lengths) for step in range(max(lengths))]
    unpacked, out_lengths = rnn_utils.pad_packed_sequence(
        packed, batch_first=batch_first, padding_value=7.0, total_length=5)
    (unpacked * unpacked).sum().backward()
    by_step = array if not batch_first else array.transpose(1, 0, 2)
    kept = np.arange(max(lengths))[:, None] < np.array(lengths)[None, :]  # (steps, batch)
    expected = np.full((5, len(lengths), 3), 7.0)
    expected[:max(lengths)][kept] = by_step[kept]
    if batch_first:
        expected = expected.transpose(1, 0, 2)
        kept = kept.T
    np.testing.assert_array_equal(_numpy(unpacked), expected)
    assert _numpy(out_lengths).tolist() == list(lengths) and out_lengths.dtype == dark.int64
    np.testing.assert_array_equal(_numpy(padded.grad), np.where(kept[..., None], 2 * array, 0))


def test_pack_sequence_unpack_and_unpad():
    sequences = _sequences(dark, requires_grad=False)
    for restored in (rnn_utils.unpack_sequence(rnn_utils.pack_sequence(sequences, False)),
                     rnn_utils.unpad_sequence(rnn_utils.pad_sequence(sequences), LENGTHS)):
        assert len(restored) == len(sequences)
        for original, back in zip(sequences, restored):
            np.testing.assert_array_equal(_numpy(back), _numpy(original))


@pytest.mark.parametrize("config", [("LSTM", {"bidirectional": True, "num_layers": 2}),
                                    ("GRU", {"bidirectional": True}), ("RNN", {}),
                                    ("LSTM", {"proj_size": 2})],
                         ids=_config_id)
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@requires_torch
def test_packed_sequence_through_recurrent_layers(config, with_hx):
    name, kwargs = config
    torch_module, dark_module = _pair(name, 3, HIDDEN, dtype="float64", **kwargs)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((max(LENGTHS), len(LENGTHS), 3))]
    if with_hx:
        arrays += _state_arrays(rng, name, kwargs, len(LENGTHS), "float64")

    def call(lib, module, inputs):
        utils = torch.nn.utils.rnn if lib is torch else rnn_utils
        packed = utils.pack_padded_sequence(inputs[0], LENGTHS, enforce_sorted=False)
        if len(inputs) == 1:
            output, state = module(packed)
        else:
            output, state = module(packed, tuple(inputs[1:]) if name == "LSTM" else inputs[1])
        assert isinstance(output, utils.PackedSequence)
        padded, _ = utils.pad_packed_sequence(output)
        return padded, state

    _check_parity(torch_module, dark_module, arrays, call, "float64", "cpu")
