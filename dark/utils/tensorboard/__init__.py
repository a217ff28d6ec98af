"""dark.utils.tensorboard: TensorBoard logging as ``torch.utils.tensorboard``
(``SummaryWriter``), on the ``tensorboard`` package (``pip install dark[tensorboard]``):
its protobufs and its event-file writer, so TensorBoard reads what dark writes. The
``tensorboard`` package is maintained with TensorBoard itself (tensorboardX is a separate
re-implementation of the same formats), so the formats cannot drift from the reader."""
try:
    import tensorboard  # noqa: F401
except ImportError as error:  # the same advice torch gives
    raise ImportError("TensorBoard logging requires the tensorboard package: "
                      "pip install tensorboard (or pip install dark[tensorboard])") from error

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
