"""``torch.utils.data.dataset`` ported: dark.data.dataset."""
from ...data.dataset import *  # noqa: F403
