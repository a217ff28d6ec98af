"""``torch.utils.data.distributed`` ported: dark.data.distributed."""
from ...data.distributed import *  # noqa: F403
