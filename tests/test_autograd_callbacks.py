"""Tensor.register_post_accumulate_grad_hook and the engine's queue_callback, as torch's."""
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark.autograd.engine import queue_callback


@pytest.mark.parametrize("lib", LIBS)
def test_post_accumulate_grad_hook_sees_the_accumulated_grad(lib):
    w = lib.ones(3, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0] * 3, [5.0] * 3]
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered "
                                           "on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)


def test_post_accumulate_grad_hook_not_run_by_autograd_grad():
    w = dark.ones(2, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(seen.append)
    dark.autograd.grad((w * 2).sum(), w)  # nothing is accumulated
    assert seen == []


def test_queue_callback_runs_after_every_accumulation():
    w = dark.ones(3, requires_grad=True)
    x = dark.ones(3, requires_grad=True)
    events = []

    def hook(grad):
        queue_callback(lambda: events.append(("callback", w.grad.tolist(), x.grad.tolist())))
        queue_callback(lambda: queue_callback(lambda: events.append("nested")))
        return grad

    y = x * w
    y.register_hook(hook)
    y.sum().backward()
    assert events == [("callback", [1.0] * 3, [1.0] * 3), "nested"]
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during "
                                           "backward pass."):
        queue_callback(lambda: None)


@requires_torch
def test_queue_callback_message_is_torchs():
    with pytest.raises(RuntimeError) as theirs:
        torch.autograd.Variable._execution_engine.queue_callback(lambda: None)
    with pytest.raises(RuntimeError) as ours:
        queue_callback(lambda: None)
    assert str(ours.value) == str(theirs.value)
