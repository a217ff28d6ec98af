"""``dark.utils.data``: the same objects as dark.data (so ``torch.utils.data`` ports as is),
with torch's submodules: ``dataloader``, ``dataset``, ``sampler``, ``distributed``."""
from ...data import *  # noqa: F403
from ...data import __all__ as _data_all
from ...data.distributed import DistributedSampler
from . import dataloader, dataset, distributed, sampler  # noqa: F401

__all__ = [*_data_all, "DistributedSampler"]
