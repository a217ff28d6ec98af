"""The ``torch.*`` ops of dark, grouped by family; importing this installs the Tensor methods
the families register (``tensor_method`` / ``install_methods``), the in-place forms and python
operators among them (dark.ops.inplace). Each family lists its public functions in
``__all__``; dark/__init__.py re-exports them."""
from . import (  # noqa: F401
    creation,
    elementwise,
    indexing,
    inplace,
    linalg,
    random,
    reduction,
    shape,
)
