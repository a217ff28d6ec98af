"""torchvision.datasets.utils: the download and archive helpers of :mod:`dark.data.download`
and ``verify_str_arg``, under the names torchvision gives them."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ..download import (
    calculate_md5,
    check_integrity,
    check_md5,
    download_and_extract_archive,
    download_from_mirrors,
    download_url,
    extract_archive,
)

__all__ = ["calculate_md5", "check_integrity", "check_md5", "download_and_extract_archive",
           "download_from_mirrors", "download_url", "extract_archive", "iterable_to_str",
           "verify_str_arg"]

T = TypeVar("T", str, bytes)


def iterable_to_str(iterable: Iterable) -> str:
    """``'a', 'b', 'c'``: the items quoted and joined, as torchvision's messages list them."""
    return "'" + "', '".join([str(item) for item in iterable]) + "'"


def verify_str_arg(value: T, arg: str | None = None, valid_values: Iterable[T] | None = None,
                   custom_msg: str | None = None) -> T:
    """``value`` when it is a string among ``valid_values`` (any string when None); else
    ValueError with torchvision's message naming ``arg`` and the valid values."""
    if not isinstance(value, str):
        if arg is None:
            msg = "Expected type str, but got type {type}."
        else:
            msg = "Expected type str for argument {arg}, but got type {type}."
        raise ValueError(msg.format(type=type(value), arg=arg))
    if valid_values is None:
        return value
    if value not in valid_values:
        if custom_msg is not None:
            msg = custom_msg
        else:
            msg = (f"Unknown value '{value}' for argument {arg}. Valid values are "
                   f"{{{iterable_to_str(valid_values)}}}.")
        raise ValueError(msg)
    return value
