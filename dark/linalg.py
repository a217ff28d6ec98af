"""dark.linalg: the torch.linalg namespace (norms, matrix functions, products,
decompositions)."""
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
from .ops.linalg_ops import (
    LinAlgError,
    cholesky,
    cross,
    eigh,
    eigvalsh,
    lstsq,
    matrix_rank,
    pinv,
    qr,
    slogdet,
    solve_triangular,
    svd,
)

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_norm", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
           "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm"]
