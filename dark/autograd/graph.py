"""dark.autograd.graph: the node type of the backward graph, as torch.autograd.graph."""
from .function import AccumulateGrad, BackwardNode

Node = BackwardNode

__all__ = ["AccumulateGrad", "Node"]
