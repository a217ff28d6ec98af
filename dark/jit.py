"""dark.jit: the parts of torch.jit that can honestly be the eager program.

dark has no TorchScript compiler: ``script`` and ``trace`` return the function or module
they are given, unchanged, so a program that scripts or traces a model and then calls it
runs eagerly and gives the same numbers. What needs a TorchScript archive or graph
(``save``, ``load``) raises NotImplementedError saying why; save a model's ``state_dict``
with ``dark.save`` instead."""
from __future__ import annotations

__all__ = ["export", "ignore", "is_scripting", "is_tracing", "load", "save", "script", "trace",
           "unused"]

_NO_TORCHSCRIPT = ("dark has no TorchScript: dark.jit.script and dark.jit.trace return the "
                   "eager function or module, so there is no TorchScript archive to {}. "
                   "Save the model's state_dict with dark.save and load it with dark.load.")


def script(obj, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """Return ``obj`` (a function or Module) unchanged: dark runs it eagerly."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-05, strict: bool = True,
          _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs: bool = True):
    """Return ``func`` (a function or Module) unchanged: dark runs it eagerly, with whatever
    inputs it is later given (no graph is recorded from ``example_inputs``)."""
    return func


def ignore(drop=False, **kwargs):
    """torch.jit.ignore as a decorator (with or without arguments): the function unchanged."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    """torch.jit.unused: the function unchanged."""
    return fn


def export(fn):
    """torch.jit.export: the function unchanged."""
    return fn


def is_scripting() -> bool:
    """False: dark code never runs under TorchScript."""
    return False


def is_tracing() -> bool:
    """False: dark never traces."""
    return False


def save(m, f, _extra_files=None) -> None:
    raise NotImplementedError(_NO_TORCHSCRIPT.format("save"))


def load(f, map_location=None, _extra_files=None, _restore_shapes: bool = False):
    raise NotImplementedError(
        "dark has no TorchScript, so it cannot load a TorchScript archive (the output of "
        "torch.jit.save). Save the model's state_dict with torch.save or dark.save and load "
        "it with dark.load.")
