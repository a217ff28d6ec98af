"""The op-table harness: one ``Case`` per op call, checked for forward values, float64
finite-difference gradients (gradcheck / gradgradcheck), dtypes, and parity with PyTorch
(forward and gradients) when torch is installed.

A case's ``fn(lib, *inputs)`` is written once and called with ``lib = dark`` and with
``lib = torch``: the API is the same, so the same lambda exercises both."""
from __future__ import annotations

import dataclasses
import socket
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dark

try:
    import torch
except ImportError:  # parity checks skip without torch
    torch = None

# The one marker for tests that compare with PyTorch and cannot run without it; everything
# else (gradcheck, numpy references, literal error messages, shapes) runs without torch.
requires_torch = pytest.mark.skipif(torch is None, reason="torch not installed: parity check")

# For programs written once for ``lib`` (dark or torch) whose assertions are literal: the
# dark run always happens, the torch run (the check that the literals are torch's) skips.
LIBS = [pytest.param(dark, id="dark"), pytest.param(torch, id="torch", marks=requires_torch)]


@dataclasses.dataclass
class Case:
    name: str
    fn: Callable
    shapes: list = dataclasses.field(default_factory=lambda: [(3, 4)])
    domain: Any = "real"          # 'real' | 'positive' | 'unit' | 'nonzero' | (low, high)
    make: Callable | None = None  # make(rng) -> list of numpy arrays (overrides shapes)
    grad: bool = True             # check gradients (float inputs get requires_grad)
    gradgrad: bool = True         # check second derivatives
    ref: Callable | None = None   # numpy reference on the float64 arrays (used without torch)
    atol: float = 1e-6
    rtol: float = 1e-5
    grad_inputs: tuple | None = None  # indices of inputs that require grad (default: floats)
    float32: bool = True          # also compare dtype and values in float32 against torch

    def __str__(self) -> str:
        return self.name


def error_of(call):
    """(type, message) of what ``call()`` raises, torch's module name written as dark's,
    or None when it raises nothing: the error itself is what parity tests compare."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return type(error), str(error).replace("torch.", "dark.")
    return None


def raises_like(dark_call, torch_call):
    """``dark_call()`` raises what ``torch_call()`` raises: the same type (or a subclass)
    and message, torch's module name written as dark's."""
    with pytest.raises(Exception) as expected:
        torch_call()
    message = str(expected.value).replace("torch.", "dark.")
    with pytest.raises(type(expected.value)) as got:
        dark_call()
    assert str(got.value) == message


def same_error(lib, program, match):
    """With ``lib`` dark, ``program(dark)`` raises an error whose message matches ``match``;
    with ``lib`` torch, ``program(torch)`` raises an error of the type dark raises."""
    if lib is dark:
        with pytest.raises(Exception, match=match):
            program(dark)
        return
    with pytest.raises(Exception) as theirs:
        program(torch)
    with pytest.raises(Exception) as mine:
        program(dark)
    assert type(mine.value) is type(theirs.value)


def closed_port_url() -> str:
    """A URL on a local port nothing listens on: connecting fails at once, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def ids(cases):
    return [c.name for c in cases]


def _values(rng, shape, domain):
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    low, high = domain
    return rng.uniform(low, high, shape)


def make_arrays(case: Case):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    if case.make is not None:
        return [np.asarray(a) if not np.isscalar(a) else a for a in case.make(rng)]
    return [_values(rng, shape, case.domain) for shape in case.shapes]


def _is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _grad_positions(case, arrays):
    if case.grad_inputs is not None:
        return set(case.grad_inputs)
    return {i for i, a in enumerate(arrays) if _is_float_array(a)} if case.grad else set()


def dark_inputs(arrays, positions, device, dtype=np.float64):
    out = []
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            out.append(a)
            continue
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        t = dark.tensor(a, device=device)
        if i in positions:
            t.requires_grad_(True)
        out.append(t)
    return out


def torch_inputs(arrays, positions, dtype=np.float64):
    out = []
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            out.append(a)
            continue
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        t = torch.tensor(a)
        if i in positions:
            t.requires_grad_(True)
        out.append(t)
    return out


def as_list(result):
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


def host(t) -> np.ndarray:
    if isinstance(t, dark.Tensor):
        return np.asarray(t.detach().cpu().numpy())
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def assert_close(actual, expected, atol, rtol, what):
    actual, expected = host(actual), host(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind in "biu" or expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what,
                                   equal_nan=True)


def check_case(case: Case, device: str) -> None:
    arrays = make_arrays(case)
    positions = _grad_positions(case, arrays)
    inputs = dark_inputs(arrays, positions, device)
    outputs = as_list(case.fn(dark, *inputs))
    if case.ref is not None:
        expected = as_list(case.ref(*arrays))
        for k, (o, e) in enumerate(zip(outputs, expected)):
            assert_close(o, e, case.atol, case.rtol, f"{case.name} output {k} vs numpy")
    if positions and case.grad:
        diff_outputs = [o for o in outputs if isinstance(o, dark.Tensor) and o.requires_grad]
        assert diff_outputs, f"{case.name}: no output requires grad"

        def function(*xs):
            return case.fn(dark, *xs)

        assert dark.autograd.gradcheck(function, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
        if case.gradgrad:
            assert dark.autograd.gradgradcheck(function, inputs, eps=1e-6, atol=1e-5,
                                               rtol=1e-3)
    if torch is not None:
        _check_torch(case, arrays, positions, device, inputs, outputs)


def _check_torch(case, arrays, positions, device, inputs, outputs):
    t_inputs = torch_inputs(arrays, positions)
    t_outputs = as_list(case.fn(torch, *t_inputs))
    assert len(outputs) == len(t_outputs), f"{case.name}: number of outputs"
    for k, (o, t) in enumerate(zip(outputs, t_outputs)):
        if isinstance(t, torch.Tensor):
            assert isinstance(o, dark.Tensor), f"{case.name} output {k} is not a Tensor"
            assert o.dtype.name == str(t.dtype).replace("torch.", ""), (
                f"{case.name} output {k}: dtype {o.dtype} vs torch {t.dtype}")
        assert_close(o, t, case.atol, case.rtol, f"{case.name} output {k} vs torch")
    if positions and case.grad:
        rng = np.random.default_rng(1)
        pairs = [(o, t) for o, t in zip(outputs, t_outputs)
                 if isinstance(t, torch.Tensor) and t.requires_grad]
        seeds = [rng.standard_normal(tuple(t.shape)) for _, t in pairs]
        torch.autograd.backward([t for _, t in pairs], [torch.tensor(s) for s in seeds])
        dark.autograd.backward([o for o, _ in pairs],
                               [dark.tensor(s, device=device) for s in seeds])
        for i in sorted(positions):
            expected = t_inputs[i].grad
            actual = inputs[i].grad
            if expected is None:
                assert actual is None or not host(actual).any(), (
                    f"{case.name}: torch gives no grad for input {i}, dark does")
                continue
            assert actual is not None, f"{case.name}: no grad for input {i}"
            assert_close(actual, expected, case.atol, case.rtol,
                         f"{case.name} grad of input {i} vs torch")
    if case.float32:
        t32 = as_list(case.fn(torch, *torch_inputs(arrays, set(), np.float32)))
        d32 = as_list(case.fn(dark, *dark_inputs(arrays, set(), device, np.float32)))
        for k, (o, t) in enumerate(zip(d32, t32)):
            if isinstance(t, torch.Tensor):
                assert o.dtype.name == str(t.dtype).replace("torch.", ""), (
                    f"{case.name} float32 output {k}: dtype {o.dtype} vs torch {t.dtype}")
                assert_close(o, t, 1e-4, 1e-4, f"{case.name} float32 output {k} vs torch")
