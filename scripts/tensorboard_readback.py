"""Read a dark.utils.tensorboard log folder back with TensorBoard's own EventAccumulator (the
reader behind the dashboard) and print every run's tags with their first and last values:
a screenshot-free proof that TensorBoard reads what dark wrote.

    python examples/mnist.py --epochs 2 --limit 3000 --tensorboard /tmp/logs
    python scripts/tensorboard_readback.py /tmp/logs

Needs the tensorboard package."""
from __future__ import annotations

import argparse
import pathlib

from tensorboard.backend.event_processing.event_accumulator import (
    DEFAULT_SIZE_GUIDANCE,
    EventAccumulator,
)


def _runs(root: pathlib.Path):
    """The folders holding event files (each a run), the root first."""
    folders = sorted({p.parent for p in root.rglob("events.out.tfevents.*")},
                     key=lambda p: (p != root, str(p)))
    return folders


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    root = pathlib.Path(parser.parse_args().logdir)
    keep_all = {kind: 0 for kind in DEFAULT_SIZE_GUIDANCE}  # 0: keep every event
    for folder in _runs(root):
        events = EventAccumulator(str(folder), size_guidance=keep_all).Reload()
        tags = events.Tags()
        print(f"run {folder.relative_to(root.parent)}:")
        for kind in sorted(tags):
            names = tags[kind]
            if isinstance(names, bool):
                if names:
                    print(f"  {kind}: present")
                continue
            if names:
                print(f"  {kind}: {', '.join(sorted(names))}")
        for tag in sorted(tags["scalars"]):
            values = events.Scalars(tag)
            first, last = values[0], values[-1]
            print(f"    scalar {tag}: {len(values)} events, first step {first.step} = "
                  f"{first.value:.6g}, last step {last.step} = {last.value:.6g}")
        for tag in sorted(tags["histograms"]):
            values = events.Histograms(tag)
            last = values[-1].histogram_value
            print(f"    histogram {tag}: {len(values)} events (steps "
                  f"{[v.step for v in values]}), last: {last.num:.0f} values in "
                  f"[{last.min:.4g}, {last.max:.4g}], sum {last.sum:.4g}")
        for tag in sorted(tags["images"]):
            values = events.Images(tag)
            last = values[-1]
            print(f"    image {tag}: {len(values)} events, last step {last.step}: "
                  f"{last.width}x{last.height} PNG, {len(last.encoded_image_string)} bytes")
        for tag in sorted(tags["tensors"]):
            values = events.Tensors(tag)
            print(f"    tensor {tag}: {len(values)} events")


if __name__ == "__main__":
    main()
