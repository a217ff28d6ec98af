"""torch.distributed.tensor.parallel.style: the tensor-parallel styles, as torch's.

ColwiseParallel shards a Linear's weight (and bias) by rows (output features: Shard(0)) or
an Embedding's table by columns (Shard(1)); its input is made Replicate, its output is
Shard(-1). RowwiseParallel shards a Linear's weight by columns (Shard(1), the bias
replicated) or an Embedding's table by rows (Shard(0)); its input is Shard(-1) (Replicate for
an Embedding) and its output Partial, made Replicate (all_reduce) or ``output_layouts``
(reduce_scatter for Shard). SequenceParallel replicates a norm's parameters and shards its
input along the sequence dimension. PrepareModuleInput / PrepareModuleOutput convert module
inputs / outputs between layouts."""
from __future__ import annotations

from functools import partial

from ...._tensor import Tensor
from ....nn.modules.linear import Linear
from ....nn.modules.sparse import Embedding
from ....nn.parameter import Parameter
from .._api import DTensor, distribute_module, distribute_tensor
from ..placement_types import Placement, Replicate, Shard

__all__ = ["ColwiseParallel", "ParallelStyle", "PrepareModuleInput", "PrepareModuleInputOutput",
           "PrepareModuleOutput", "RowwiseParallel", "SequenceParallel"]


class ParallelStyle:
    """Base of the styles: ``_apply(module, device_mesh)`` parallelizes ``module``."""

    src_data_rank: int | None = 0

    def _apply(self, module, device_mesh):
        raise NotImplementedError


def _prepare_input(input_layouts, desired_input_layouts, mod, inputs, device_mesh):
    input_tensor = inputs[0]
    if not isinstance(input_tensor, DTensor):
        input_tensor = DTensor.from_local(input_tensor, device_mesh, input_layouts,
                                          run_check=False)
    if input_layouts != desired_input_layouts:
        input_tensor = input_tensor.redistribute(placements=desired_input_layouts,
                                                 async_op=True)
    return input_tensor


def _prepare_output(output_layouts, use_local_output, mod, outputs, device_mesh):
    if outputs.placements != output_layouts:
        outputs = outputs.redistribute(placements=output_layouts, async_op=True)
    return outputs.to_local() if use_local_output else outputs


def _shard_parameters(module, device_mesh, placements, src_data_rank, only=None):
    for name, param in list(module.named_parameters()):
        if only is not None and name not in only:
            continue
        placement = placements[name] if isinstance(placements, dict) else placements
        module.register_parameter(name, Parameter(
            distribute_tensor(param, device_mesh, [placement], src_data_rank=src_data_rank),
            requires_grad=param.requires_grad))


class _LinearEmbeddingStyle(ParallelStyle):
    """What ColwiseParallel and RowwiseParallel share: a Linear or an Embedding only, its
    parameters placed by the style's ``_partition_linear_fn`` / ``_partition_embedding_fn``,
    its input and output laid out as the style's layouts say."""

    _prepare_input_fn = staticmethod(_prepare_input)
    _prepare_output_fn = staticmethod(_prepare_output)

    def _desired_input_layouts(self, module) -> tuple:
        return self.desired_input_layouts

    def _apply(self, module, device_mesh):
        if isinstance(module, Linear):
            partition_fn = self._partition_linear_fn
        elif isinstance(module, Embedding):
            partition_fn = self._partition_embedding_fn
        else:
            raise NotImplementedError(f"{self._style_name} currently only support nn.Linear "
                                      "and nn.Embedding!")
        self.desired_input_layouts = self._desired_input_layouts(module)
        return distribute_module(
            module, device_mesh, partition_fn,
            partial(self._prepare_input_fn, self.input_layouts, self.desired_input_layouts),
            partial(self._prepare_output_fn, self.output_layouts, self.use_local_output))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_layouts={self.input_layouts}, "
                f"output_layouts={self.output_layouts}, "
                f"use_local_output={self.use_local_output})")


class ColwiseParallel(_LinearEmbeddingStyle):
    """Shard a Linear / Embedding column-wise (see the module's docstring)."""

    _style_name = "ColwiseParallel"  # (torch's error names it, in subclasses too)

    def __init__(self, *, input_layouts: Placement | None = None,
                 output_layouts: Placement | None = None, use_local_output: bool = True):
        super().__init__()
        self.input_layouts = (input_layouts or Replicate(),)
        self.output_layouts = (output_layouts or Shard(-1),)
        self.desired_input_layouts = (Replicate(),)
        self.use_local_output = use_local_output

    def _partition_linear_fn(self, name, module, device_mesh):
        _shard_parameters(module, device_mesh, Shard(0), self.src_data_rank)

    def _partition_embedding_fn(self, name, module, device_mesh):
        _shard_parameters(module, device_mesh, Shard(1), self.src_data_rank)


class RowwiseParallel(_LinearEmbeddingStyle):
    """Shard a Linear / Embedding row-wise (see the module's docstring)."""

    _style_name = "RowwiseParallel"

    def __init__(self, *, input_layouts: Placement | None = None,
                 output_layouts: Placement | None = None, use_local_output: bool = True):
        super().__init__()
        self.input_layouts = (input_layouts or Shard(-1),)
        self.output_layouts = (output_layouts or Replicate(),)
        self.use_local_output = use_local_output

    def _partition_linear_fn(self, name, module, device_mesh):
        _shard_parameters(module, device_mesh, {"weight": Shard(1), "bias": Replicate()},
                          self.src_data_rank, only=("weight", "bias"))

    def _partition_embedding_fn(self, name, module, device_mesh):
        _shard_parameters(module, device_mesh, Shard(0), self.src_data_rank)

    def _desired_input_layouts(self, module) -> tuple:
        # a Linear takes its input sharded on the features it holds, an Embedding whole ids
        return (Shard(-1),) if isinstance(module, Linear) else (Replicate(),)


class SequenceParallel(ParallelStyle):
    """Replicate a module's parameters (a norm's, a dropout's none) and run it on its input
    sharded along ``sequence_dim``."""

    def __init__(self, *, sequence_dim: int = 1, use_local_output: bool = False):
        super().__init__()
        self.sequence_sharding = (Shard(sequence_dim),)
        self.use_local_output = use_local_output

    def _replicate_module_fn(self, name, module, device_mesh):
        for p_name, param in list(module.named_parameters()):
            module.register_parameter(p_name, Parameter(
                DTensor.from_local(param, device_mesh, [Replicate()], run_check=False)))

    @staticmethod
    def _prepare_input_fn(sequence_sharding, mod, inputs, device_mesh):
        input_tensor = inputs[0]
        if isinstance(input_tensor, DTensor):
            if input_tensor.placements != sequence_sharding:
                input_tensor = input_tensor.redistribute(placements=sequence_sharding,
                                                         async_op=True)
            return input_tensor
        if isinstance(input_tensor, Tensor):
            return DTensor.from_local(input_tensor, device_mesh, sequence_sharding,
                                      run_check=False)
        raise ValueError(f"expecting input of {mod} to be a torch.Tensor or DTensor, but got "
                         f"{input_tensor}")

    @staticmethod
    def _prepare_output_fn(use_local_output, mod, outputs, device_mesh):
        return outputs.to_local() if use_local_output else outputs

    def _apply(self, module, device_mesh):
        return distribute_module(module, device_mesh, self._replicate_module_fn,
                                 partial(self._prepare_input_fn, self.sequence_sharding),
                                 partial(self._prepare_output_fn, self.use_local_output))

    def __repr__(self) -> str:
        text = type(self).__name__ + "("
        if len(self.sequence_sharding) == 1:
            text += f"sequence_dim={self.sequence_sharding[0].dim}, "
        return text + f"use_local_output={self.use_local_output})"


def _one_or_tuple(layouts):
    return (layouts,) if isinstance(layouts, Placement) else layouts


class PrepareModuleInput(ParallelStyle):
    """Convert a module's inputs (positional: ``input_layouts`` -> ``desired_input_layouts``,
    None entries left alone; keyword: the ``*_kwarg_layouts`` dicts) before its forward."""

    def __init__(self, *, input_layouts=None, desired_input_layouts=None,
                 input_kwarg_layouts=None, desired_input_kwarg_layouts=None,
                 use_local_output: bool = False):
        self.input_layouts = _one_or_tuple(input_layouts)
        self.desired_input_layouts = _one_or_tuple(desired_input_layouts)
        self.use_local_output = use_local_output
        if self.input_layouts is not None:
            if self.desired_input_layouts is None:
                raise AssertionError("desired module inputs should not be None!")
            if len(self.input_layouts) != len(self.desired_input_layouts):
                raise AssertionError("input_layouts and desired_input_layouts should have same "
                                     "length!")
        self.with_kwargs = input_kwarg_layouts is not None
        self.input_kwarg_layouts = input_kwarg_layouts or {}
        self.desired_input_kwarg_layouts = desired_input_kwarg_layouts or {}
        if self.with_kwargs and len(self.input_kwarg_layouts) != \
                len(self.desired_input_kwarg_layouts):
            raise AssertionError("input_kwarg_layouts and desired_input_kwarg_layouts should "
                                 "have same length!")

    def _prepare_input_arg(self, input, mesh, input_layout, desired_layout):  # noqa: A002
        if input_layout is None:
            return input
        if isinstance(input, DTensor):
            dt_inp = input
        else:
            if not isinstance(input, Tensor):
                raise AssertionError("expecting input to be a torch.Tensor!")
            dt_inp = DTensor.from_local(input, mesh, (input_layout,), run_check=False)
        if desired_layout is not None and input_layout != desired_layout:
            dt_inp = dt_inp.redistribute(placements=(desired_layout,))
        return dt_inp.to_local() if self.use_local_output else dt_inp

    def _prepare_input_fn(self, inputs, device_mesh):
        if self.input_layouts is None:
            return inputs
        if not isinstance(inputs, tuple):
            inputs = (inputs,)
        if len(inputs) != len(self.input_layouts):
            raise ValueError("module inputs and input_layouts should have same length!")
        return tuple(self._prepare_input_arg(inp, device_mesh, layout, desired)
                     for inp, layout, desired in zip(inputs, self.input_layouts,
                                                     self.desired_input_layouts))

    def _prepare_input_kwarg_fn(self, inputs, kwarg_inputs, device_mesh):
        args = self._prepare_input_fn(inputs, device_mesh)
        kwargs = {key: self._prepare_input_arg(value, device_mesh,
                                               self.input_kwarg_layouts.get(key),
                                               self.desired_input_kwarg_layouts.get(key))
                  for key, value in kwarg_inputs.items()}
        return args, kwargs

    def _apply(self, module, device_mesh):
        if self.with_kwargs:
            module.register_forward_pre_hook(
                lambda _, inputs, kwargs: self._prepare_input_kwarg_fn(inputs, kwargs,
                                                                       device_mesh),
                with_kwargs=True)
        else:
            module.register_forward_pre_hook(
                lambda _, inputs: self._prepare_input_fn(inputs, device_mesh))
        return module

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_layouts={self.input_layouts}, "
                f"desired_input_layouts={self.desired_input_layouts}, "
                f"input_kwarg_layouts={self.input_kwarg_layouts}, "
                f"desired_input_kwarg_layouts={self.desired_input_kwarg_layouts}, "
                f"use_local_output={self.use_local_output})")


class PrepareModuleOutput(ParallelStyle):
    """Convert a module's outputs (``output_layouts`` -> ``desired_output_layouts``) after its
    forward."""

    def __init__(self, *, output_layouts, desired_output_layouts,
                 use_local_output: bool = True):
        self.output_layouts = _one_or_tuple(output_layouts)
        self.desired_output_layouts = _one_or_tuple(desired_output_layouts)
        self.use_local_output = use_local_output
        if len(self.output_layouts) != len(self.desired_output_layouts):
            raise AssertionError("output_layouts and desired_output_layouts should have same "
                                 "length!")

    def _prepare_out_fn(self, outputs, device_mesh):
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        if len(outputs) != len(self.output_layouts):
            raise ValueError("module outputs and output_layouts should have same length!")
        prepared = []
        for out, layout, desired in zip(outputs, self.output_layouts,
                                        self.desired_output_layouts):
            if layout is None:
                prepared.append(out)
                continue
            dt_out = out if isinstance(out, DTensor) else \
                DTensor.from_local(out, device_mesh, (layout,), run_check=False)
            if layout != desired:
                dt_out = dt_out.redistribute(placements=(desired,))
            prepared.append(dt_out.to_local() if self.use_local_output else dt_out)
        return prepared[0] if len(prepared) == 1 else tuple(prepared)

    def _apply(self, module, device_mesh):
        module.register_forward_hook(
            lambda _, inputs, outputs: self._prepare_out_fn(outputs, device_mesh))
        return module

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(output_layouts={self.output_layouts}, "
                f"desired_output_layouts={self.desired_output_layouts}, "
                f"use_local_output={self.use_local_output})")


class PrepareModuleInputOutput(ParallelStyle):
    """PrepareModuleInput and PrepareModuleOutput on one module."""

    def __init__(self, *, input_layouts=None, desired_input_layouts=None,
                 input_kwarg_layouts=None, desired_input_kwarg_layouts=None,
                 use_local_input: bool = False, output_layouts, desired_output_layouts,
                 use_local_output: bool = True):
        self.prepare_module_input = PrepareModuleInput(
            input_layouts=input_layouts, desired_input_layouts=desired_input_layouts,
            input_kwarg_layouts=input_kwarg_layouts,
            desired_input_kwarg_layouts=desired_input_kwarg_layouts,
            use_local_output=use_local_input)
        self.prepare_module_output = PrepareModuleOutput(
            output_layouts=output_layouts, desired_output_layouts=desired_output_layouts,
            use_local_output=use_local_output)

    def _apply(self, module, device_mesh):
        self.prepare_module_input._apply(module, device_mesh)
        self.prepare_module_output._apply(module, device_mesh)
        return module
