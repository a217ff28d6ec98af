"""``DataParallel`` and ``data_parallel`` (torch.nn.parallel.data_parallel) on one device.

dark runs a module on one device: without a GPU, DataParallel holds the module and calls it
(torch's behaviour on a machine without an accelerator: ``device_ids == []``); with GPUs, it
moves the module to the first of ``device_ids``, moves the inputs there and runs the module
once (torch's one-device path). With several ``device_ids``, only the first is used (a
warning says so): the batch is not split over GPUs. The wrapped module is ``.module``, so
state_dict keys carry torch's 'module.' prefix."""
from __future__ import annotations

import warnings

from ... import _backend
from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


def _device_index(device) -> int:
    """torch's _get_device_index(device, optional=True) for cuda devices."""
    if isinstance(device, str):
        device = _backend.device(device)
    if isinstance(device, _backend.device):
        if device.type == "cpu":
            raise ValueError(f"Expected a non cpu device, but got: {device}")
        return _backend.cuda_index(device)
    if isinstance(device, int):
        return device
    raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:"
                     f"{device}")


def _to_device(value, device):
    """``value`` with every tensor in it (tuples, lists, dicts) on ``device``."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(_to_device(v, device) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return type(value)((k, _to_device(v, device)) for k, v in value.items())
    return value


def _one_device(device_ids):
    ids = [_device_index(d) for d in device_ids]
    if len(ids) > 1:
        warnings.warn(f"dark's DataParallel runs on one device: using cuda:{ids[0]} of "
                      f"device_ids {ids} (the batch is not split)", UserWarning, stacklevel=3)
    return ids


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: runs ``module``
    (on the first of ``device_ids`` when a GPU is present), as torch's one-device path."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not _backend.cuda_available():
            self.module = module
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(_backend.cuda_device_count()))
        if not device_ids:
            raise RuntimeError("no available devices were found")
        if output_device is None:
            output_device = device_ids[0]
        self.dim = dim
        self.module = module
        self.device_ids = _one_device(device_ids)
        self.output_device = _device_index(output_device)
        self.src_device_obj = _backend.device("cuda", self.device_ids[0])
        self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in (*self.module.parameters(), *self.module.buffers()):
            if t.device != self.src_device_obj:
                raise RuntimeError(f"module must have its parameters and buffers on device "
                                   f"{self.src_device_obj} (device_ids[0]) but found one of "
                                   f"them on device: {t.device}")
        inputs = _to_device(inputs, self.src_device_obj)
        kwargs = _to_device(kwargs, self.src_device_obj)
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """``module(*inputs, **module_kwargs)`` on the first of ``device_ids`` (the output on
    ``output_device``), as torch's functional form on one device (which needs a GPU)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    module_kwargs = module_kwargs or {}
    if not _backend.cuda_available():
        raise RuntimeError("device type could not be determined")
    if device_ids is None:
        device_ids = list(range(_backend.cuda_device_count()))
    ids = _one_device(device_ids)
    if output_device is None:
        output_device = ids[0]
    source = _backend.device("cuda", ids[0])
    for t in (*module.parameters(), *module.buffers()):
        if t.device != source:
            raise RuntimeError(f"module must have its parameters and buffers on device "
                               f"{source} (device_ids[0]) but found one of them on device: "
                               f"{t.device}")
    output = module(*_to_device(inputs, source), **_to_device(module_kwargs, source))
    target = output_device if isinstance(output_device, _backend.device) else (
        _backend.device("cpu") if output_device == -1 else
        _backend.device("cuda", _device_index(output_device)))
    return _to_device(output, target)
