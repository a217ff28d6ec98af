"""``torch.utils.data.sampler`` ported: dark.data.sampler."""
from ...data.sampler import *  # noqa: F403
