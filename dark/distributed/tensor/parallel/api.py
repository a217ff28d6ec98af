"""torch.distributed.tensor.parallel.api: ``parallelize_module``."""
from __future__ import annotations

import warnings
from fnmatch import fnmatch

from .._api import _current_mesh
from .style import ParallelStyle

__all__ = ["parallelize_module"]


def parallelize_module(module, device_mesh=None, parallelize_plan=None, *,
                       src_data_rank: int | None = 0):
    """Apply ``parallelize_plan`` to ``module``: a ParallelStyle (to ``module`` itself) or a
    dict from submodule paths (``"layers.0.attention.wq"``, fnmatch wildcards per part:
    ``"layers.*.attention"``) to styles."""
    device_mesh = _current_mesh(device_mesh)
    if parallelize_plan is None:
        warnings.warn("No parallelize_plan is provided and auto-parallel is not supported at "
                      "the moment, so this parallelize_module call will do nothing.",
                      stacklevel=2)
        return module
    if isinstance(parallelize_plan, ParallelStyle):
        parallelize_plan.src_data_rank = src_data_rank
        return parallelize_plan._apply(module, device_mesh)
    if isinstance(parallelize_plan, dict):
        for module_path, style in parallelize_plan.items():
            if module_path == "":
                parallelize_module(module, device_mesh, style)
                continue
            path = module_path.split(".")
            token = path.pop(0)
            matched = [(n, m) for n, m in module.named_children() if fnmatch(n, token)]
            if not matched:
                warnings.warn(f"Parallelize plan key '{module_path}' could not be resolved: no "
                              f"submodule matching token '{token}' in module {module}, "
                              "skipping this plan entry.", stacklevel=2)
                continue
            for _, submodule in matched:
                if path:
                    parallelize_module(submodule, device_mesh, {".".join(path): style},
                                       src_data_rank=src_data_rank)
                else:
                    parallelize_module(submodule, device_mesh, style,
                                       src_data_rank=src_data_rank)
        return module
    raise TypeError(f"Expect Union[ParallelStyle, Dict[str, ParallelStyle]] for "
                    f"parallelize_plan, {type(parallelize_plan)} found!")
