"""dark.utils: ``dark.utils.data`` is dark.data, so ``torch.utils.data`` ports as is."""
from . import data  # noqa: F401
