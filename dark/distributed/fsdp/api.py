"""The configuration classes of ``torch.distributed.fsdp`` (FSDP1's enums and dataclasses,
FSDP2's policies), same names, fields and defaults."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

__all__ = ["BackwardPrefetch", "CPUOffload", "CPUOffloadPolicy", "FullOptimStateDictConfig",
           "FullStateDictConfig", "LocalOptimStateDictConfig", "LocalStateDictConfig",
           "MixedPrecision", "MixedPrecisionPolicy", "OffloadPolicy", "OptimStateDictConfig",
           "ShardedOptimStateDictConfig", "ShardedStateDictConfig", "ShardingStrategy",
           "StateDictConfig", "StateDictSettings", "StateDictType"]


class ShardingStrategy(Enum):
    """FULL_SHARD: parameters, gradients and optimizer state sharded, parameters gathered
    for forward and backward; SHARD_GRAD_OP: parameters kept gathered from forward to the
    end of backward; NO_SHARD: replicated (DDP); HYBRID_SHARD / _HYBRID_SHARD_ZERO2:
    FULL_SHARD / SHARD_GRAD_OP within a node, replicated across nodes."""

    FULL_SHARD = auto()
    SHARD_GRAD_OP = auto()
    NO_SHARD = auto()
    HYBRID_SHARD = auto()
    _HYBRID_SHARD_ZERO2 = auto()


class BackwardPrefetch(Enum):
    BACKWARD_PRE = auto()
    BACKWARD_POST = auto()


class StateDictType(Enum):
    FULL_STATE_DICT = auto()
    LOCAL_STATE_DICT = auto()
    SHARDED_STATE_DICT = auto()


@dataclass
class MixedPrecision:
    """Forward and backward in ``param_dtype``, gradients reduced in ``reduce_dtype``
    (default ``param_dtype``), buffers in ``buffer_dtype``; the sharded parameters and the
    optimizer stay in full precision."""

    param_dtype: object = None
    reduce_dtype: object = None
    buffer_dtype: object = None
    keep_low_precision_grads: bool = False
    cast_forward_inputs: bool = False
    cast_root_forward_inputs: bool = True
    _module_classes_to_ignore: tuple = ()


@dataclass
class CPUOffload:
    offload_params: bool = False


@dataclass
class StateDictConfig:
    offload_to_cpu: bool = False


@dataclass
class FullStateDictConfig(StateDictConfig):
    rank0_only: bool = False


@dataclass
class LocalStateDictConfig(StateDictConfig):
    pass


@dataclass
class ShardedStateDictConfig(StateDictConfig):
    _use_dtensor: bool = False


@dataclass
class OptimStateDictConfig:
    offload_to_cpu: bool = True


@dataclass
class FullOptimStateDictConfig(OptimStateDictConfig):
    rank0_only: bool = False


@dataclass
class LocalOptimStateDictConfig(OptimStateDictConfig):
    offload_to_cpu: bool = False


@dataclass
class ShardedOptimStateDictConfig(OptimStateDictConfig):
    _use_dtensor: bool = False


@dataclass
class StateDictSettings:
    state_dict_type: StateDictType
    state_dict_config: StateDictConfig
    optim_state_dict_config: OptimStateDictConfig


# ------------------------------------------------------------------------------ FSDP2
@dataclass(frozen=True)
class MixedPrecisionPolicy:
    """fully_shard's mixed precision: unsharded parameters in ``param_dtype``, gradients
    reduced in ``reduce_dtype``, the module's outputs cast to ``output_dtype``."""

    param_dtype: object = None
    reduce_dtype: object = None
    output_dtype: object = None
    cast_forward_inputs: bool = True


@dataclass
class OffloadPolicy:
    """No offloading (fully_shard's default)."""


@dataclass
class CPUOffloadPolicy(OffloadPolicy):
    pin_memory: bool = True
