"""``torch.distributed.algorithms``: the activation checkpointing wrappers FSDP programs
apply (``_checkpoint.checkpoint_wrapper``)."""
