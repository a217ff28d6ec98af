"""Printing tensors as PyTorch does (being written)."""


def tensor_repr(t) -> str:
    return f"tensor({t._data.tolist()})"
