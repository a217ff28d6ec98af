"""torchvision.models._utils: the legacy ``pretrained=`` interface and small helpers."""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from ._api import WeightsEnum

__all__: list[str] = []


def _sequence_to_str(seq, separate_last: str = "") -> str:
    if not seq:
        return ""
    if len(seq) == 1:
        return f"'{seq[0]}'"
    head = "'" + "', '".join([str(item) for item in seq[:-1]]) + "'"
    tail = f"{'' if separate_last and len(seq) == 2 else ','} {separate_last}'{seq[-1]}'"
    return head + tail


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to a multiple of ``divisor`` (at least ``min_value``), never more than
    10% below ``v`` (MobileNet's channel rounding)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def kwonly_to_pos_or_kw(fn: Callable) -> Callable:
    """Lets the keyword-only parameters of ``fn`` be passed positionally again, with
    torchvision's deprecation warning."""
    params = inspect.signature(fn).parameters
    try:
        keyword_only_start_idx = next(idx for idx, param in enumerate(params.values())
                                      if param.kind == param.KEYWORD_ONLY)
    except StopIteration:
        raise TypeError(f"Found no keyword-only parameter on function '{fn.__name__}'") \
            from None
    keyword_only_params = tuple(params)[keyword_only_start_idx:]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        args, keyword_only_args = args[:keyword_only_start_idx], args[keyword_only_start_idx:]
        if keyword_only_args:
            keyword_only_kwargs = dict(zip(keyword_only_params, keyword_only_args))
            warnings.warn(
                f"Using {_sequence_to_str(tuple(keyword_only_kwargs.keys()), 'and ')} as "
                "positional parameter(s) is deprecated since 0.13 and may be removed in the "
                "future. Please use keyword parameter(s) instead.", stacklevel=2)
            kwargs.update(keyword_only_kwargs)
        return fn(*args, **kwargs)

    return wrapper


def handle_legacy_interface(**weights: tuple[str, Any]):
    """Decorates a model builder so that the old ``pretrained=True/False`` (keyword or
    positional) still works, with torchvision's deprecation warnings: ``pretrained=True``
    means the given default weights, ``False`` means ``weights=None``."""

    def outer_wrapper(builder: Callable) -> Callable:
        @kwonly_to_pos_or_kw
        @functools.wraps(builder)
        def inner_wrapper(*args: Any, **kwargs: Any):
            for weights_param, (pretrained_param, default) in weights.items():
                sentinel = object()
                weights_arg = kwargs.get(weights_param, sentinel)
                if ((weights_param not in kwargs and pretrained_param not in kwargs)
                        or isinstance(weights_arg, WeightsEnum)
                        or (isinstance(weights_arg, str) and weights_arg != "legacy")
                        or weights_arg is None):
                    continue
                pretrained_positional = weights_arg is not sentinel
                if pretrained_positional:
                    kwargs[pretrained_param] = pretrained_arg = kwargs.pop(weights_param)
                else:
                    pretrained_arg = kwargs[pretrained_param]
                if pretrained_arg:
                    default_weights_arg = default(kwargs) if callable(default) else default
                    if not isinstance(default_weights_arg, WeightsEnum):
                        raise ValueError(f"No weights available for model {builder.__name__}")
                else:
                    default_weights_arg = None
                if not pretrained_positional:
                    warnings.warn(
                        f"The parameter '{pretrained_param}' is deprecated since 0.13 and may "
                        f"be removed in the future, please use '{weights_param}' instead.",
                        stacklevel=2)
                msg = (f"Arguments other than a weight enum or `None` for '{weights_param}' are "
                       "deprecated since 0.13 and may be removed in the future. The current "
                       f"behavior is equivalent to passing `{weights_param}="
                       f"{default_weights_arg}`.")
                if pretrained_arg:
                    msg = (f"{msg} You can also use `{weights_param}="
                           f"{type(default_weights_arg).__name__}.DEFAULT` to get the most "
                           "up-to-date weights.")
                warnings.warn(msg, stacklevel=2)
                del kwargs[pretrained_param]
                kwargs[weights_param] = default_weights_arg
            return builder(*args, **kwargs)

        return inner_wrapper

    return outer_wrapper


def _ovewrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value
