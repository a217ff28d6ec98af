"""SparseAdam: torch.optim.SparseAdam's interface; dark has no sparse gradients, so its
step refuses the (dense) gradients it gets, with PyTorch's error."""
from __future__ import annotations

from .optimizer import Optimizer, _check_lr, _use_grad

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """torch.optim.SparseAdam: Adam on the materialized entries of sparse-layout gradients.

    dark has no sparse tensors: every gradient is dense, ``nn.Embedding(sparse=True)``
    included. PyTorch's SparseAdam raises ``RuntimeError("SparseAdam does not support dense
    gradients, please consider Adam instead")`` for a dense gradient, so dark's raises that
    same error from ``step()`` for any parameter that has a gradient (its state stays
    empty, as PyTorch's does). Use ``dark.optim.Adam`` instead. The constructor takes and
    checks the options as PyTorch's does (``lr`` and ``eps`` must be > 0), and the rest of
    the Optimizer interface (``state_dict``, ``param_groups``, ``repr``) is PyTorch's."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i in range(2):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        complex_params = [[index, d_index] for index, group in enumerate(self.param_groups)
                          for d_index, param in enumerate(group["params"])
                          if param.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does "
                             "not support complex parameters")

    @_use_grad
    def step(self, closure=None):
        """Raise PyTorch's error for the first parameter that has a (dense) gradient;
        returns the closure's loss when no parameter has one."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
        return loss
