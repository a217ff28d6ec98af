"""``torch.distributed.algorithms._checkpoint.checkpoint_wrapper``: a module wrapped so
that its forward is checkpointed (dark.utils.checkpoint: recomputed in backward), and
``apply_activation_checkpointing`` to wrap a model's submodules in place. The wrapped
module sits at ``_checkpoint_wrapped_module``; state_dict keys and named_parameters leave
that name out (a wrapped model's state_dict loads into an unwrapped one and back), as
torch's."""
from __future__ import annotations

from enum import Enum, auto

from ....nn.modules.module import Module
from ....utils.checkpoint import checkpoint as _checkpoint
from ...fsdp.wrap import _Policy, _recursive_wrap, lambda_auto_wrap_policy

__all__ = ["ActivationWrapper", "CheckpointImpl", "CheckpointWrapper",
           "apply_activation_checkpointing", "checkpoint_wrapper"]

_CHECKPOINT_WRAPPED_MODULE = "_checkpoint_wrapped_module"
_CHECKPOINT_PREFIX = _CHECKPOINT_WRAPPED_MODULE + "."


class CheckpointImpl(Enum):
    REENTRANT = auto()
    NO_REENTRANT = auto()


def _replace_by_prefix(state_dict, old_prefix, new_prefix):
    for key in list(state_dict.keys()):
        if key.startswith(old_prefix):
            state_dict[new_prefix + key[len(old_prefix):]] = state_dict.pop(key)


class ActivationWrapper(Module):
    """Holds ``mod`` as ``_checkpoint_wrapped_module``; attributes and items not its own
    come from it."""

    def __init__(self, mod):
        super().__init__()
        self._checkpoint_wrapped_module = mod
        self._register_state_dict_hook(self._post_state_dict_hook)
        self._register_load_state_dict_pre_hook(self._pre_load_state_dict_hook,
                                                with_module=True)

    def forward(self, *args, **kwargs):
        raise ValueError("Subclasses should implement forward().")

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == _CHECKPOINT_WRAPPED_MODULE:
                raise
            return getattr(self._checkpoint_wrapped_module, name)

    def __getitem__(self, key):
        return self._checkpoint_wrapped_module.__getitem__(key)

    def named_parameters(self, *args, **kwargs):
        for name, param in super().named_parameters(*args, **kwargs):
            yield name.replace(_CHECKPOINT_PREFIX, ""), param

    @staticmethod
    def _post_state_dict_hook(module, state_dict, prefix, *args):
        _replace_by_prefix(state_dict, f"{prefix}{_CHECKPOINT_PREFIX}", prefix)
        return state_dict

    @staticmethod
    def _pre_load_state_dict_hook(module, state_dict, prefix, *args):
        _replace_by_prefix(state_dict, prefix, prefix + _CHECKPOINT_PREFIX)


class CheckpointWrapper(ActivationWrapper):
    """Runs the wrapped module through ``checkpoint`` (``use_reentrant`` from
    ``checkpoint_impl``), or through ``checkpoint_fn`` when given."""

    def __init__(self, mod, checkpoint_impl=CheckpointImpl.NO_REENTRANT, checkpoint_fn=None,
                 **checkpoint_fn_kwargs):
        super().__init__(mod)
        self.checkpoint_impl = checkpoint_impl
        if checkpoint_fn is None:
            use_reentrant = checkpoint_impl == CheckpointImpl.REENTRANT
            self.checkpoint_fn = lambda fn, *args, **kwargs: _checkpoint(
                fn, *args, use_reentrant=use_reentrant, **checkpoint_fn_kwargs, **kwargs)
        else:
            self.checkpoint_fn = lambda fn, *args, **kwargs: checkpoint_fn(
                fn, *args, **checkpoint_fn_kwargs, **kwargs)

    def forward(self, *args, **kwargs):
        if self.checkpoint_impl == CheckpointImpl.REENTRANT and kwargs:
            raise ValueError("dark's reentrant checkpoint takes no keyword arguments (use "
                             "CheckpointImpl.NO_REENTRANT)")
        return self.checkpoint_fn(self._checkpoint_wrapped_module, *args, **kwargs)


def checkpoint_wrapper(module, checkpoint_impl=CheckpointImpl.NO_REENTRANT,
                       checkpoint_fn=None, **checkpoint_fn_kwargs):
    """``module`` wrapped so that its activations are recomputed in backward."""
    return CheckpointWrapper(module, checkpoint_impl, checkpoint_fn, **checkpoint_fn_kwargs)


def apply_activation_checkpointing(model, checkpoint_wrapper_fn=checkpoint_wrapper,
                                   check_fn=lambda _: True, auto_wrap_policy=None):
    """Wrap, in place, the submodules of ``model`` for which ``check_fn`` is true (or that
    ``auto_wrap_policy`` picks) with ``checkpoint_wrapper_fn``."""
    if auto_wrap_policy is not None and isinstance(auto_wrap_policy, _Policy):
        targets = auto_wrap_policy._run_policy(model, set(), {})

        def policy(module, recurse, nonwrapped_numel):
            return True if recurse else module in targets
    elif auto_wrap_policy is not None:
        policy = auto_wrap_policy
    else:
        def policy(module, recurse, nonwrapped_numel):
            return lambda_auto_wrap_policy(module, recurse, nonwrapped_numel, check_fn)
    _recursive_wrap(model, policy, checkpoint_wrapper_fn, set(), set(),
                    only_wrap_children=True)
