"""``torch.utils.data.dataloader`` ported: dark.data.dataloader."""
from ...data.dataloader import *  # noqa: F403
