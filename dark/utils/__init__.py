"""dark.utils: ``dark.utils.data`` is dark.data, so ``torch.utils.data`` ports as is;
``dark.utils.hooks`` holds RemovableHandle, as torch.utils.hooks. Nothing is imported here:
dark.autograd imports dark.utils.hooks long before dark.data (which stands on Tensor, nn and
the ops) can be; ``import dark`` imports dark.utils.data."""
