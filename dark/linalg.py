"""dark.linalg: the torch.linalg namespace (norms, matrix functions, products)."""
from .ops.linalg import (
    det,
    inv,
    matmul,
    matrix_norm,
    multi_dot,
    norm,
    solve,
    svdvals,
    vecdot,
    vector_norm,
)

__all__ = ["det", "inv", "matmul", "matrix_norm", "multi_dot", "norm", "solve", "svdvals",
           "vecdot", "vector_norm"]
