"""dark.autograd.graph: the node type of the backward graph, as torch.autograd.graph, and
two ways for tools (dark.viz) to look at graphs without touching autograd's internals:

- ``register_node_observer(fn)``: ``fn(node, inputs)`` runs each time a node is recorded;
- ``saved_values(node)``: what a node saved for its backward (SavedValue tuples).
"""
from .function import (
    AccumulateGrad,
    BackwardNode,
    SavedValue,
    register_node_observer,
    saved_values,
)

Node = BackwardNode

__all__ = ["AccumulateGrad", "Node", "SavedValue", "register_node_observer", "saved_values"]
