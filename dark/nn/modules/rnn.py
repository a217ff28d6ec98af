"""nn.RNN, nn.LSTM, nn.GRU and their single-step cells, as in PyTorch.

The math is composed from Tensor ops, so autograd (and higher-order gradients) come for
free. Each layer and direction does its input projection for all time steps in one matmul;
the loop over time then only does the hidden-state matmul and the gate arithmetic."""
from __future__ import annotations

import math
import numbers
import warnings

from ..._backend import array_module
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...autograd.grad_mode import state as _grad_state
from ...ops.creation import empty, zeros
from ...ops.elementwise import _sigmoid_op, relu, tanh
from ...ops.linalg import addmm
from ...ops.shape import cat, stack
from .. import functional as F
from ..functional.linear_maps import _Addmm
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``input @ weight.t() + bias`` of a matrix input, as torch's cells call at::linear."""
    return F.linear(input, weight, bias)


# One time step of each recurrence. ``gates`` is the input projection of this step (with
# every bias that can be folded into it); the step adds the hidden-state term.

def _rnn_step(gates, hidden, w_hh, activation):
    return activation(addmm(gates, hidden, w_hh.t()))


class _LSTMPointwise(Op):
    """The gate arithmetic of one LSTM step as one node: gates (N, 4H) = (i, f, g, o) and
    the cell (N, H) give ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and
    ``h' = sigmoid(o) * tanh(c')``, computed by the same array functions, in the same order,
    as the ops chunk, sigmoid, tanh, mul and add would (the same values), in one node instead
    of ten (torch's GPU path fuses the same way, under this node's name). Its backward takes
    the saved activations outside a graph; with create_graph it recomputes them from the
    saved inputs with Tensor ops, so gradients of gradients follow."""

    node_name = "ThnnFusedLstmCellBackward0"

    @staticmethod
    def forward(ctx, gates, cell):
        ctx.save_for_backward(gates, cell)
        xp = array_module(gates)
        size = cell.shape[1]
        # the sigmoid of the whole (N, 4H) in its four passes, not of i, f and o apart (the
        # g block's is not used): elementwise, so the same values, in a third of the calls
        sigmoids = _sigmoid_op(xp, gates)
        i = sigmoids[:, :size]
        f = sigmoids[:, size:2 * size]
        g = xp.tanh(gates[:, 2 * size:3 * size])
        o = sigmoids[:, 3 * size:]
        new_cell = f * cell + i * g
        tanh_cell = xp.tanh(new_cell)
        ctx.activations = (sigmoids, g, tanh_cell, cell)
        return o * tanh_cell, new_cell

    @staticmethod
    def backward(ctx, grad_hidden, grad_cell):
        gates, cell = ctx.saved_tensors  # (checks that neither changed in place)
        need_gates, need_cell = ctx.needs_input_grad
        if not _grad_state.enabled:
            return _lstm_pointwise_raw_backward(ctx, grad_hidden._data, grad_cell._data,
                                                need_gates, need_cell)
        # a graph of the backward: the activations as functions of the inputs
        i, f, g, o = gates.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        tanh_cell = (f * cell + i * g).tanh()
        grad_new_cell = grad_cell + grad_hidden * o * (1 - tanh_cell * tanh_cell)
        grad_gates = grad_prev_cell = None
        if need_gates:
            parts = (grad_new_cell * g * (i * (1 - i)),
                     grad_new_cell * cell * (f * (1 - f)),
                     grad_new_cell * i * (1 - g * g),
                     grad_hidden * tanh_cell * (o * (1 - o)))
            grad_gates = cat(parts, 1)
        if need_cell:
            grad_prev_cell = grad_new_cell * f
        return grad_gates, grad_prev_cell


def _lstm_pointwise_raw_backward(ctx, grad_hidden, grad_cell, need_gates, need_cell):
    """_LSTMPointwise's backward outside a graph, on the forward's arrays: the formulas of
    the graph path, each product in the same order (the same values), the sigmoids'
    derivatives s * (1 - s) for the whole (N, 4H) at once and the four gate gradients written
    into one array instead of concatenated."""
    sigmoids, g, tanh_cell, cell = ctx.activations
    xp = array_module(sigmoids)
    size = cell.shape[1]
    i, f, o = sigmoids[:, :size], sigmoids[:, size:2 * size], sigmoids[:, 3 * size:]
    grad_new_cell = grad_cell + grad_hidden * o * (1 - tanh_cell * tanh_cell)
    grad_gates = grad_prev_cell = None
    if need_gates:
        slopes = sigmoids * (1 - sigmoids)
        out = xp.empty_like(sigmoids, dtype=xp.result_type(grad_new_cell, sigmoids))
        xp.multiply(grad_new_cell * g, slopes[:, :size], out=out[:, :size])
        xp.multiply(grad_new_cell * cell, slopes[:, size:2 * size], out=out[:, size:2 * size])
        xp.multiply(grad_new_cell * i, 1 - g * g, out=out[:, 2 * size:3 * size])
        xp.multiply(grad_hidden * tanh_cell, slopes[:, 3 * size:], out=out[:, 3 * size:])
        grad_gates = Tensor._make(out)
    if need_cell:
        grad_prev_cell = Tensor._make(grad_new_cell * f)
    return grad_gates, grad_prev_cell


def _add_hidden_product(gates, hidden, w_hh):
    """``gates + hidden @ w_hh.t()`` (addmm): one AddmmBackward0 node when the dtypes agree,
    else through addmm (its checks raise torch's dtype error)."""
    g, h, w = gates._data, hidden._data, w_hh._data  # (arrays: this runs every step)
    if g.dtype == h.dtype == w.dtype and h.ndim == 2 and w.ndim == 2 \
            and hidden.shape[1] == w_hh.shape[1]:
        return _Addmm.apply(gates, hidden, w_hh.t())
    return addmm(gates, hidden, w_hh.t())


def _lstm_step(gates, hidden, cell, w_hh, w_hr):
    gates = _add_hidden_product(gates, hidden, w_hh)
    np_dtype = gates._data.dtype
    if np_dtype == cell._data.dtype and np_dtype.kind in "fV":  # float (V: bfloat16)
        hidden, cell = _LSTMPointwise.apply(gates, cell)
    else:
        i, f, g, o = gates.chunk(4, 1)
        cell = f.sigmoid() * cell + i.sigmoid() * g.tanh()
        hidden = o.sigmoid() * cell.tanh()
    if w_hr is not None:
        hidden = hidden @ w_hr.t()
    return hidden, cell


def _gru_step(gates, hidden, w_hh, b_hh):
    # b_hn sits inside r * (...), so the hidden biases cannot be folded into the input side
    recurrent = _linear(hidden, w_hh, b_hh)
    i_r, i_z, i_n = gates.chunk(3, 1)
    h_r, h_z, h_n = recurrent.chunk(3, 1)
    reset = (i_r + h_r).sigmoid()
    update = (i_z + h_z).sigmoid()
    new = (i_n + reset * h_n).tanh()
    return new + update * (hidden - new)


def _activation(mode):
    return relu if mode == "RNN_RELU" else tanh


def _input_projection(mode, input, w_ih, b_ih, b_hh):
    """``input @ w_ih.T`` plus the biases, for every row (time step x batch) at once."""
    if b_ih is None:
        return input @ w_ih.t()
    bias = b_ih if mode == "GRU" else b_ih + b_hh
    return addmm(bias, input, w_ih.t())


def _run_direction(mode, steps, batch_sizes, state, weights, reverse):
    """Run one direction of one layer over the per-step input projections ``steps``.

    ``state`` is (h0,) or (h0, c0) for the whole batch. With ``batch_sizes`` (packed input,
    sizes non-increasing) only the first ``batch_sizes[t]`` rows are live at step t: going
    forward, rows that end are set aside with their final state; going backward, rows join
    from the initial state when their sequence starts. Returns (outputs in time order,
    final state)."""
    w_hh, b_hh, w_hr = weights
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    initial = state
    if batch_sizes is not None and reverse:
        state = tuple(s[:batch_sizes[-1]] for s in state)
    finished = []
    outputs = [None] * len(steps)
    activation = _activation(mode)
    for t in order:
        if batch_sizes is not None:
            live, rows = batch_sizes[t], state[0].shape[0]
            if live < rows:
                finished.append(tuple(s[live:] for s in state))
                state = tuple(s[:live] for s in state)
            elif live > rows:
                state = tuple(cat([s, s0[rows:live]], 0) for s, s0 in zip(state, initial))
        if mode == "LSTM":
            state = _lstm_step(steps[t], state[0], state[1], w_hh, w_hr)
        elif mode == "GRU":
            state = (_gru_step(steps[t], state[0], w_hh, b_hh),)
        else:
            state = (_rnn_step(steps[t], state[0], w_hh, activation),)
        outputs[t] = state[0]
    if finished:
        parts = [state] + finished[::-1]
        state = tuple(cat(list(group), 0) for group in zip(*parts))
    return outputs, state


def _rnn_forward(mode, input, batch_sizes, hx, all_weights, num_layers, dropout, training,
                 bidirectional):
    """The multi-layer recurrence on time-major input.

    input: ``(T, N, input_size)``, or packed data ``(sum(batch_sizes), input_size)`` when
    batch_sizes (a list of ints) is given. hx: ``(h0,)`` or ``(h0, c0)``, each
    ``(num_layers * num_directions, N, H)``. all_weights: per layer and direction
    ``[w_ih, w_hh, b_ih, b_hh, w_hr]`` (absent ones None). Returns ``(output, state)``."""
    directions = 2 if bidirectional else 1
    layer_states = [s.unbind(0) for s in hx]
    final = [[] for _ in hx]
    layer_input = input
    for layer in range(num_layers):
        if layer > 0 and dropout > 0 and training:
            layer_input = F.dropout(layer_input, dropout, True)
        rows = layer_input.reshape(-1, layer_input.shape[-1])
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            w_ih, w_hh, b_ih, b_hh, w_hr = all_weights[index]
            projection = _input_projection(mode, rows, w_ih, b_ih, b_hh)
            if batch_sizes is None:
                steps = projection.reshape(input.shape[0], input.shape[1], -1).unbind(0)
            else:
                steps = projection.split(batch_sizes, 0)
            state = tuple(s[index] for s in layer_states)
            direction_out, state = _run_direction(mode, steps, batch_sizes, state,
                                                  (w_hh, b_hh, w_hr), direction == 1)
            outputs.append(stack(direction_out, 0) if batch_sizes is None
                           else cat(direction_out, 0))
            for collected, s in zip(final, state):
                collected.append(s)
        layer_input = outputs[0] if directions == 1 else cat(outputs, -1)
    return layer_input, tuple(stack(collected, 0) for collected in final)


class RNNBase(Module):
    """The parameters, checks and shared forward of RNN, LSTM and GRU (PyTorch's RNNBase).

    Parameters per layer ``k`` (and ``_reverse`` for the backward direction):
    ``weight_ih_lk`` (gates * hidden_size, layer input), ``weight_hh_lk`` (gates *
    hidden_size, hidden or proj size), ``bias_ih_lk``, ``bias_hh_lk``, ``weight_hr_lk``
    (proj_size, hidden_size; LSTM with proj_size only)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        _check_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         proj_size)
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * directions
                shapes = [(gate_size, layer_input_size), (gate_size, real_hidden_size)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [name.format(layer, suffix) for name in names]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(empty(shape, device=device,
                                                             dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters, one list per layer and direction, in registration order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op: dark keeps each weight as its own array (cuDNN's packed layout is
        not used)."""

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_parameters(self, self.hidden_size)

    def check_input(self, input: Tensor, batch_sizes) -> None:
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype "
                f"({weight_dtype}). Convert input: input.to({weight_dtype}), or convert "
                f"model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(
                f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes) -> tuple:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * directions, mini_batch, size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple,
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _zeros(self, input: Tensor, batch: int, size: int) -> Tensor:
        directions = 2 if self.bidirectional else 1
        return zeros(self.num_layers * directions, batch, size, dtype=input.dtype,
                          device=input.device)

    def _prepare(self, input, hx, state_count):
        """Unpack/unsqueeze the input and hidden state the way PyTorch's forward does.

        Returns (3-D input or packed data, batch_sizes tensor or None, hx with a batch dim,
        is_batched, (sorted_indices, unsorted_indices) of a packed input)."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            return data, batch_sizes, hx, True, (sorted_indices, unsorted_indices)
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        if input.dim() not in (2, 3):
            tail = " tensor instead" if name == "RNN" else " instead"
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D"
                             + tail)
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        if hx is not None:
            _check_hx_dims(hx, is_batched, state_count)
            if not is_batched:
                hx = tuple(h.unsqueeze(1) for h in hx) if state_count == 2 else hx.unsqueeze(1)
        return input, None, hx, is_batched, (None, None)

    def _run(self, input, hx: tuple, batch_sizes):
        """The recurrence on checked input: returns (output, final state tuple)."""
        if batch_sizes is None and self.batch_first:
            input = input.transpose(0, 1)
        weights = []
        for names in self._all_weights:
            # "weight_ih_l0_reverse" -> "weight_ih"
            found = {name.split("_l")[0]: getattr(self, name) for name in names}
            weights.append([found.get(key) for key in
                            ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")])
        sizes = None if batch_sizes is None else [int(n) for n in batch_sizes.tolist()]
        output, state = _rnn_forward(self.mode, input, sizes, hx, weights, self.num_layers,
                                     self.dropout, self.training, self.bidirectional)
        if batch_sizes is None and self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _finish(self, output, hidden, input, is_batched, indices):
        """Wrap the output the way the input came in (packed, unbatched or batched)."""
        sorted_indices, unsorted_indices = indices
        if isinstance(input, PackedSequence):
            output = PackedSequence(output, input.batch_sizes, sorted_indices,
                                    unsorted_indices)
        elif not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden)
        if unsorted_indices is not None:
            hidden = tuple(h.index_select(1, unsorted_indices) for h in hidden)
        return output, hidden


def _check_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     proj_size) -> None:
    if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
            or isinstance(dropout, bool)):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    if not isinstance(bias, bool):
        raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
    if not isinstance(batch_first, bool):
        raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
    if not isinstance(input_size, int):
        raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
    if input_size <= 0:
        raise ValueError("input_size must be greater than zero")
    if not isinstance(hidden_size, int):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


def _check_hx_dims(hx, is_batched: bool, state_count: int) -> None:
    want = 3 if is_batched else 2
    kind = "batched 3-D" if is_batched else "unbatched 2-D"
    if state_count == 2:
        if hx[0].dim() != want or hx[1].dim() != want:
            raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                               f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
    elif hx.dim() != want:
        raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                           f"{hx.dim()}-D tensor")


def _uniform_parameters(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0
    with no_grad():
        for weight in module.parameters():
            weight.uniform_(-bound, bound)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``. forward(input, hx=None):
    input ``(L, N, H_in)`` (``(N, L, H_in)`` with batch_first, ``(L, H_in)`` unbatched, or
    a PackedSequence); returns ``(output (L, N, D*H_out), h_n (D*num_layers, N, H_out))``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from "
                             "'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        data, batch_sizes, hx, is_batched, indices = self._prepare(input, hx, 1)
        if hx is None:
            batch = int(batch_sizes[0]) if batch_sizes is not None else (
                data.size(0) if self.batch_first else data.size(1))
            hx = self._zeros(data, batch, self.hidden_size)
        else:
            hx = self.permute_hidden(hx, indices[0])
        self.check_forward_args(data, hx, batch_sizes)
        output, state = self._run(data, (hx,), batch_sizes)
        output, (hidden,) = self._finish(output, state, input, is_batched, indices)
        return output, hidden


class LSTM(RNNBase):
    """Long short-term memory; gates i, f, g, o (in that order in the weight rows):
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)`` (then ``h_t W_hr^T`` with
    proj_size > 0).

    forward(input, (h_0, c_0)=None) returns ``(output, (h_n, c_n))``; output is
    ``(L, N, D*H_out)`` with H_out = proj_size or hidden_size, h_n ``(D*num_layers, N,
    H_out)``, c_n ``(D*num_layers, N, hidden_size)``."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes) -> tuple:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return tuple(h.index_select(1, permutation) for h in hx)

    def forward(self, input, hx=None):
        data, batch_sizes, hx, is_batched, indices = self._prepare(input, hx, 2)
        if hx is None:
            batch = int(batch_sizes[0]) if batch_sizes is not None else (
                data.size(0) if self.batch_first else data.size(1))
            hx = (self._zeros(data, batch, self.proj_size or self.hidden_size),
                  self._zeros(data, batch, self.hidden_size))
        else:
            hx = self.permute_hidden(tuple(hx), indices[0])
        self.check_forward_args(data, hx, batch_sizes)
        output, state = self._run(data, hx, batch_sizes)
        return self._finish(output, state, input, is_batched, indices)


class GRU(RNNBase):
    """Gated recurrent unit; gates r, z, n (in that order in the weight rows):
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    forward(input, hx=None) returns ``(output (L, N, D*H), h_n (D*num_layers, N, H))``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    forward = RNN.forward


class RNNCellBase(Module):
    """The parameters of the single-step cells: weight_ih (chunks * hidden, input),
    weight_hh (chunks * hidden, hidden), bias_ih and bias_hh (chunks * hidden) or None."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **factory))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size),
                                              **factory))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_parameters(self, self.hidden_size)

    def _prepare(self, input: Tensor, hx: tuple | None, names: list):
        """PyTorch's dimension checks; returns (batched input, batched states, is_batched)."""
        cell = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{cell}: Expected input to be 1D or 2D, got {input.dim()}D "
                             "instead")
        if hx is not None:
            for name, value in zip(names, hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"{cell}: Expected {name} to be 1D or 2D, got "
                                     f"{value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zero_state = zeros(input.size(0), self.hidden_size, dtype=input.dtype,
                               device=input.device)
            hx = (zero_state,) * len(names)
        elif not is_batched:
            hx = tuple(h.unsqueeze(0) for h in hx)
        # sizes read once, from the array of a plain Tensor (this runs every step; a
        # subclass such as DTensor may hold a piece of a larger tensor)
        batch, features = input._data.shape if type(input) is Tensor else input.shape
        if features != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {features} "
                               f"expected {self.input_size}")
        for position, h in enumerate(hx):
            shape = h._data.shape if type(h) is Tensor else h.shape
            if batch != shape[0]:
                raise RuntimeError(f"Input batch size {batch} doesn't match "
                                   f"hidden{position} batch size {shape[0]}")
            h_features = shape[1] if len(shape) > 1 else h.size(1)  # (size's IndexError)
            if h_features != self.hidden_size:
                raise RuntimeError(f"hidden{position} has inconsistent hidden_size: got "
                                   f"{h_features}, expected {self.hidden_size}")
        return input, hx, is_batched

    def _gates(self, input: Tensor) -> Tensor:
        return _linear(input, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu). input ``(N, input_size)``
    or ``(input_size,)``, hx like the output ``(N, hidden_size)`` (zeros if None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), is_batched = self._prepare(input, None if hx is None else (hx,),
                                                 ["hidden"])
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        gates = self._gates(input)
        if self.bias_hh is not None:
            gates = gates + self.bias_hh
        activation = _activation("RNN_RELU" if self.nonlinearity == "relu" else "RNN_TANH")
        hidden = _rnn_step(gates, hx, self.weight_hh, activation)
        return hidden if is_batched else hidden.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns ``(h', c')``, each ``(N, hidden_size)``
    (``(hidden_size,)`` for unbatched input); hx is ``(h, c)`` or None for zeros."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        input, (h, c), is_batched = self._prepare(input, hx, ["hx[0]", "hx[1]"])
        gates = self._gates(input)
        if self.bias_hh is not None:
            gates = gates + self.bias_hh
        h, c = _lstm_step(gates, h, c, self.weight_hh, None)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``):
    returns h' ``(N, hidden_size)`` (``(hidden_size,)`` for unbatched input)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), is_batched = self._prepare(input, None if hx is None else (hx,),
                                                 ["hidden"])
        hidden = _gru_step(self._gates(input), hx, self.weight_hh, self.bias_hh)
        return hidden if is_batched else hidden.squeeze(0)
