"""Printing tensors exactly as PyTorch does (torch/_tensor_str.py): one formatter per tensor
chooses integer, fixed or scientific notation from the values shown; rows wrap at the line
width; tensors with more than ``threshold`` elements are summarised with '...'."""
from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from . import _backend
from ._backend import array_module


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Set the printing options, as torch.set_printoptions (``profile`` is 'default',
    'short' or 'full'; ``sci_mode=None`` lets the formatter choose)."""
    if profile is not None:
        precision_, threshold_, edgeitems_ = {"default": (4, 1000, 3), "short": (2, 1000, 2),
                                              "full": (4, math.inf, 3)}[profile]
        PRINT_OPTS.precision, PRINT_OPTS.threshold = precision_, threshold_
        PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = edgeitems_, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current options, as keyword arguments for set_printoptions."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Change the print options inside a ``with`` block."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses the notation and the common width of all the elements of one tensor."""

    def __init__(self, values: np.ndarray):
        self.floating_dtype = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating_dtype:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        absolute = np.abs(finite.astype(np.float64))
        low, high = float(absolute.min()), float(absolute.max())
        self.int_mode = bool((finite == np.ceil(finite)).all())
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        precision = PRINT_OPTS.precision
        for value in finite.tolist():
            if self.sci_mode:
                width = len(f"{value:.{precision}e}")
            elif self.int_mode:
                width = len(f"{value:.0f}") + 1
            else:
                width = len(f"{value:.{precision}f}")
            self.max_width = max(self.max_width, width)

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating_dtype:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{PRINT_OPTS.precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{PRINT_OPTS.precision}f}"
        else:
            text = f"{value}"
        return (self.max_width - len(text)) * " " + text


class _Printer:
    """Formats a host array whose long dims were cut to their edge items (``cut[d]``)."""

    def __init__(self, values: np.ndarray, cut: tuple, summarize: bool):
        self.cut = cut
        self.summarize = summarize
        if values.dtype.kind == "c":
            self.formatters = (_Formatter(values.real), _Formatter(values.imag))
        else:
            self.formatters = (_Formatter(values), None)

    def element(self, value) -> str:
        real, imag = self.formatters
        if imag is None:
            return real.format(value)
        real_str = real.format(value.real)
        imag_str = (imag.format(value.imag) + "j").lstrip()
        if imag_str[0] in "+-":
            return real_str + imag_str
        return real_str + "+" + imag_str

    def scalar(self, values) -> str:
        return self.element(values.item())

    def vector(self, values, indent: int, cut: bool) -> str:
        real, imag = self.formatters
        element_length = real.width() + 2
        if imag is not None:
            element_length += imag.width() + 1
        per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
        if self.summarize and not PRINT_OPTS.edgeitems:
            data = ["..."]
        elif cut:
            edge = PRINT_OPTS.edgeitems
            items = values.tolist()
            data = ([self.element(v) for v in items[:edge]] + [" ..."]
                    + [self.element(v) for v in items[edge:]])
        else:
            data = [self.element(v) for v in values.tolist()]
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    def nested(self, values, indent: int, depth: int) -> str:
        ndim = values.ndim
        if ndim == 0:
            return self.scalar(values)
        if ndim == 1:
            return self.vector(values, indent, self.cut[depth])
        slices = [self.nested(values[i], indent + 1, depth + 1)
                  for i in range(values.shape[0])]
        if self.summarize and not PRINT_OPTS.edgeitems:
            slices = ["..."]
        elif self.cut[depth]:
            edge = PRINT_OPTS.edgeitems
            slices = slices[:edge] + ["..."] + slices[edge:]
        return "[" + ("," + "\n" * (ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized(array, summarize: bool):
    """Keep only the first and last ``edgeitems`` along every dim longer than twice that
    (on the array's own device, so that a large GPU tensor is not copied whole)."""
    edge = PRINT_OPTS.edgeitems
    cut = []
    for axis, size in enumerate(array.shape):
        is_cut = summarize and size > 2 * edge
        if is_cut:
            index = [slice(None)] * array.ndim
            head = list(index)
            head[axis] = slice(0, edge)
            tail = list(index)
            tail[axis] = slice(size - edge, size)
            xp = array_module(array)
            array = xp.concatenate((array[tuple(head)], array[tuple(tail)]), axis=axis)
        cut.append(is_cut)
    return array, tuple(cut)


def _host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()


def tensor_str(array, indent: int) -> str:
    """The bracketed contents of a tensor holding ``array`` (no prefix or suffixes)."""
    if array.size == 0:
        return "[]"
    summarize = array.size > PRINT_OPTS.threshold
    shown, cut = _summarized(array, summarize)
    shown = _host(shown)
    if shown.dtype.kind == "V":  # bfloat16: its values exactly, as torch prints them
        shown = shown.astype(np.float32)
    return _Printer(shown, cut, summarize).nested(shown, indent, 0)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t) -> str:
    """``repr(t)`` as PyTorch writes it: ``tensor([1., 2.], dtype=dark.float64,
    requires_grad=True)``."""
    plain = type(t).__name__ in ("Tensor", "Parameter")
    prefix = "tensor(" if plain else f"{type(t).__name__}("
    indent = len(prefix)
    array = t._data
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    default = _backend.get_default_dtype()
    default_complex = (_backend.complex128 if default is _backend.float64
                       else _backend.complex64)
    dtype = t.dtype
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype is not default:
            suffixes.append(f"dtype={dtype}")
        text = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype not in (default, default_complex, _backend.int64, _backend.bool_):
            suffixes.append(f"dtype={dtype}")
        text = tensor_str(array, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + text, suffixes, indent)
