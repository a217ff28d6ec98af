"""dark.compile: torch.compile as PyTorch's ``backend="eager"`` gives it, the program itself.

dark has no graph compiler: ``compile(model)`` returns ``model`` (a Module or function)
unchanged, and ``compile(**options)`` (no model) returns a decorator that does the same, so
``@dark.compile`` and ``model = dark.compile(model)`` both run eagerly. Every argument of
torch.compile is accepted and, except torch's check that ``mode`` and ``options`` are not
both given, ignored."""
from __future__ import annotations

__all__ = ["compile"]


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None, mode=None,  # noqa: A001
            options=None, name=None, disable: bool = False, recompile_limit=None,
            isolate_recompiles: bool = False, shapes_spec=None):
    """``model`` unchanged (or, with no model, a decorator returning its function unchanged):
    the eager program, as torch.compile with ``backend="eager"``."""
    if model is None:
        def decorator(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorator
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    return model
