"""``torch.distributed.fsdp.wrap``: which submodules become their own FSDP unit.

A policy is either a callable ``policy(module, recurse, nonwrapped_numel) -> bool`` (asked
on the way down whether to recurse, then on the way up whether to wrap the module, given
the parameters not yet wrapped below it) or a ``_Policy`` object (``ModuleWrapPolicy``,
``CustomPolicy``) that names the modules to wrap and their keyword arguments. Wrapping is
bottom up: each unit manages the parameters of its subtree that no unit below it manages.
"""
from __future__ import annotations

import contextlib
import copy

from ... import nn

__all__ = ["CustomPolicy", "ModuleWrapPolicy", "always_wrap_policy", "enable_wrap",
           "lambda_auto_wrap_policy", "size_based_auto_wrap_policy",
           "transformer_auto_wrap_policy", "wrap"]


def always_wrap_policy(*args, **kwargs) -> bool:
    """Wrap every submodule."""
    return True


class _Policy:
    def _run_policy(self, root_module, ignored_modules, root_kwargs) -> dict:
        raise NotImplementedError


def _module_wrap_policy(module, recurse, nonwrapped_numel, module_classes) -> bool:
    if recurse:
        return True
    return isinstance(module, tuple(module_classes))


class ModuleWrapPolicy(_Policy):
    """Wrap every module that is an instance of one of ``module_classes``."""

    def __init__(self, module_classes):
        self._module_classes = set(module_classes)
        self._module_classes_str = str(self._module_classes)

    def _run_policy(self, root_module, ignored_modules, root_kwargs):
        classes = tuple(self._module_classes)
        return {m: copy.copy(root_kwargs) for m in root_module.modules()
                if m not in ignored_modules and isinstance(m, classes)}

    def __call__(self, module, recurse, *args, **kwargs):
        return _module_wrap_policy(module, recurse, -1, self._module_classes)

    def __repr__(self) -> str:
        return f"{super().__repr__()}({self._module_classes_str})"


class CustomPolicy(_Policy):
    """``lambda_fn(module)`` returns False (not wrapped), True (wrapped with the root's
    arguments) or a dict of arguments overriding the root's."""

    def __init__(self, lambda_fn):
        self._lambda_fn = lambda_fn

    def _run_policy(self, root_module, ignored_modules, root_kwargs):
        targets = {}
        for module in root_module.modules():
            if module in ignored_modules:
                continue
            res = self._lambda_fn(module)
            if not isinstance(res, (dict, bool)):
                raise ValueError("The lambda_fn passed to CustomPolicy should return "
                                 f"False/True or a kwarg dict, but it returned {res}")
            if not res:
                continue
            kwargs = copy.copy(root_kwargs)
            if isinstance(res, dict):
                kwargs.update(res)
            targets[module] = kwargs
        return targets


def lambda_auto_wrap_policy(module, recurse, nonwrapped_numel, lambda_fn) -> bool:
    """Wrap the modules for which ``lambda_fn(module)`` is true."""
    if recurse:
        return True
    return lambda_fn(module)


def transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                 transformer_layer_cls) -> bool:
    """Wrap every instance of the classes in ``transformer_layer_cls`` (use with
    ``functools.partial``)."""
    return _module_wrap_policy(module, recurse, nonwrapped_numel, transformer_layer_cls)


def _wrap_module_cls_individually(module, module_classes, recurse, *args, **kwargs):
    if recurse:
        return True
    return isinstance(module, tuple(module_classes))


def _or_policy(module, recurse, nonwrapped_numel, policies) -> bool:
    return any(policy(module=module, recurse=recurse, nonwrapped_numel=nonwrapped_numel)
               for policy in policies)


def size_based_auto_wrap_policy(module, recurse, nonwrapped_numel, min_num_params=int(1e8),
                                force_leaf_modules=None, exclude_wrap_modules=None) -> bool:
    """Wrap a module once the parameters not yet wrapped below it reach ``min_num_params``;
    never recurse into ``force_leaf_modules``, never wrap ``exclude_wrap_modules``."""
    force_leaf_modules = (size_based_auto_wrap_policy.FORCE_LEAF_MODULES
                          if force_leaf_modules is None else force_leaf_modules)
    exclude_wrap_modules = (size_based_auto_wrap_policy.EXCLUDE_WRAP_MODULES
                            if exclude_wrap_modules is None else exclude_wrap_modules)
    is_large = nonwrapped_numel >= min_num_params
    if recurse:
        return is_large and not isinstance(module, tuple(force_leaf_modules))
    return is_large and not isinstance(module, tuple(exclude_wrap_modules))


size_based_auto_wrap_policy.EXCLUDE_WRAP_MODULES = {nn.ModuleList, nn.ModuleDict}
size_based_auto_wrap_policy.FORCE_LEAF_MODULES = {nn.MultiheadAttention}


def _wrap(module, wrapper_cls, **kwargs):
    overrides = getattr(module, "_wrap_overrides", None)
    if overrides:
        kwargs = {**kwargs, **overrides}
    return wrapper_cls(module, **kwargs)


def _recursive_wrap(module, auto_wrap_policy, wrapper_cls, ignored_modules, ignored_params,
                    only_wrap_children=False, **kwargs):
    """Wrap the submodules of ``module`` the callable policy picks; returns the module
    (wrapped or not) and the number of parameter elements wrapped."""
    for _, child in module.named_modules():
        if child in ignored_modules:
            continue
        if isinstance(wrapper_cls, type) and isinstance(child, wrapper_cls):
            raise AssertionError(f"Child module {child} is already wrapped by {wrapper_cls}")
    nonwrapped_numel = sum(p.numel() for p in module.parameters()
                           if id(p) not in ignored_params)
    if not auto_wrap_policy(module=module, recurse=True, nonwrapped_numel=nonwrapped_numel):
        return module, 0
    total = 0
    for name, child in list(module.named_children()):
        if child in ignored_modules:
            continue
        wrapped, numel = _recursive_wrap(child, auto_wrap_policy, wrapper_cls, ignored_modules,
                                         ignored_params, **kwargs)
        setattr(module, name, wrapped)
        total += numel
    remainder = nonwrapped_numel - total
    if not only_wrap_children and auto_wrap_policy(module=module, recurse=False,
                                                   nonwrapped_numel=remainder):
        return _wrap(module, wrapper_cls, **kwargs), nonwrapped_numel
    return module, total


def _apply_policy(root, policy, wrapper_cls, ignored_modules, ignored_params, root_kwargs):
    """Wrap ``root``'s submodules (not ``root`` itself) by ``policy``, bottom up."""
    if isinstance(policy, _Policy):
        targets = policy._run_policy(root, ignored_modules, root_kwargs)
        targets.pop(root, None)

        def visit(module):
            for name, child in list(module._modules.items()):
                if child is None or child in ignored_modules or isinstance(child,
                                                                           wrapper_cls):
                    continue
                visit(child)
                if child in targets:
                    kwargs = {k: v for k, v in targets[child].items()
                              if k != "auto_wrap_policy"}
                    setattr(module, name, _wrap(child, wrapper_cls, **kwargs))

        visit(root)
        return
    kwargs = {k: v for k, v in root_kwargs.items()
              if k not in ("auto_wrap_policy", "ignored_modules")}
    given = root_kwargs.get("ignored_modules")

    def wrapper(module, **overrides):
        return wrapper_cls(module, ignored_modules=given, **overrides)

    wrapper.__name__ = wrapper_cls.__name__
    for _, child in root.named_modules():
        if child is not root and child not in ignored_modules and isinstance(child,
                                                                              wrapper_cls):
            raise AssertionError(f"Child module {child} is already wrapped by {wrapper_cls}")
    _recursive_wrap(root, policy, wrapper, ignored_modules, ignored_params,
                    only_wrap_children=True, **kwargs)


class _ConfigAutoWrap:
    in_autowrap_context = False
    wrapper_cls = None
    kwargs: dict = {}


@contextlib.contextmanager
def enable_wrap(*, wrapper_cls, **wrapper_kwargs):
    """Inside, ``wrap(module)`` wraps with ``wrapper_cls`` and these arguments."""
    if _ConfigAutoWrap.in_autowrap_context:
        raise NotImplementedError("You are already within an autowrap context and we "
                                  "currently do not supported nested autowrap.")
    _ConfigAutoWrap.in_autowrap_context = True
    _ConfigAutoWrap.wrapper_cls = wrapper_cls
    _ConfigAutoWrap.kwargs = dict(wrapper_kwargs)
    try:
        yield
    finally:
        _ConfigAutoWrap.in_autowrap_context = False
        _ConfigAutoWrap.wrapper_cls = None
        _ConfigAutoWrap.kwargs = {}


def wrap(module, **wrap_overrides):
    """Wrap ``module`` inside ``enable_wrap``; outside it, return it unchanged."""
    if _ConfigAutoWrap.in_autowrap_context:
        return _wrap(module, _ConfigAutoWrap.wrapper_cls,
                     **{**_ConfigAutoWrap.kwargs, **wrap_overrides})
    return module

