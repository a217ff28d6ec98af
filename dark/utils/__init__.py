"""dark.utils: ``dark.utils.data`` is dark.data, so ``torch.utils.data`` ports as is;
``dark.utils.hooks`` holds RemovableHandle, as torch.utils.hooks."""
import importlib

from . import hooks  # noqa: F401


def __getattr__(name: str):
    # dark.utils.data is imported on first use, not with the package: dark.autograd imports
    # dark.utils.hooks before dark.data (which stands on Tensor) can be imported
    if name == "data":
        return importlib.import_module(".data", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
