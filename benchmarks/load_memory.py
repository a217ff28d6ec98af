"""Peak memory and time of loading (and saving) one large float32 tensor: dark against PyTorch.

    python benchmarks/load_memory.py [--mb 256] [--level 1]

For each library (torch only if installed) the tensor is saved with that library and loaded
back in a fresh subprocess; both libraries also load one copy of dark's file rewritten with
its records deflated (compressed, zlib level ``--level``). A child resets its peak resident set size
(``/proc/self/clear_refs``) after its imports and a warm-up load of a tiny file, and prints
the growth of the peak (``VmHWM``) over the resident size before the load, divided by the
tensor's bytes: 1.0x means the load needed the tensor's own memory and nothing more. The
``save`` row measures ``save`` of a tensor already in memory the same way (0.0x: no copy).
Linux only (``/proc``)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

import dark

try:
    import torch
except ImportError:  # dark alone is measured
    torch = None

CHILD = r"""
import json, sys, time
import numpy as np
lib_name, action, path, tiny, nbytes = sys.argv[1:6]
nbytes = int(nbytes)
if lib_name == "torch":
    import torch as lib
    def load(p):
        return lib.load(p, weights_only=True)["w"]
    def make():
        return lib.from_numpy(np.ones(nbytes // 4, np.float32))
else:
    import dark as lib
    def load(p):
        return lib.load(p)["w"]
    def make():
        return lib.from_numpy(np.ones(nbytes // 4, np.float32))

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)

load(tiny)  # imports and first-call setup happen before the measurement
tensor = make() if action == "save" else None
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size (Linux >= 4.0)
    reset = True
except OSError:
    reset = False
base = status("VmRSS")
start = time.perf_counter()
if action == "save":
    lib.save({"w": tensor}, path)
else:
    tensor = load(path)
    assert tensor.numel() * tensor.element_size() == nbytes
seconds = time.perf_counter() - start
print(json.dumps({"extra": status("VmHWM") - base, "seconds": seconds, "reset": reset}))
"""


def deflate(src: str, dst: str, level: int) -> None:
    """The zip ``src`` with every record rewritten deflated (streamed, in 16 MiB pieces)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED,
                                                      compresslevel=level) as zout:
        for info in zin.infolist():
            with zin.open(info) as reader, \
                    zout.open(info.filename, "w", force_zip64=info.file_size > 2 ** 30) as writer:
                shutil.copyfileobj(reader, writer, 1 << 24)


def child(lib: str, action: str, path: str, tiny: str, nbytes: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, lib, action, path, tiny, str(nbytes)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="tensor size in MiB (default 256)")
    parser.add_argument("--level", type=int, default=1,
                        help="zlib level of the deflated file (default 1)")
    args = parser.parse_args()
    n = args.mb * 2 ** 20 // 4
    nbytes = n * 4
    values = np.random.default_rng(0).random(n, dtype=np.float32) - 0.5
    libs = {"dark": (dark.save, dark.from_numpy)}
    if torch is not None:
        libs["torch"] = (torch.save, torch.from_numpy)
    print(f"a float32 tensor of {nbytes / 2 ** 20:.0f} MiB: growth of the peak resident size "
          "over the tensor's bytes, and seconds (a fresh process each)")
    print(f"{'library':8} {'file':9} {'peak':>6} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name, (save, from_numpy) in libs.items():
            files[name, "tiny"] = os.path.join(folder, f"{name}-tiny.pt")
            save({"w": from_numpy(np.ones(4, np.float32))}, files[name, "tiny"])
            files[name, "stored"] = os.path.join(folder, f"{name}.pt")
            save({"w": from_numpy(values)}, files[name, "stored"])
        # one deflated file, which both libraries read (each reads the other's zip)
        deflated = os.path.join(folder, "deflated.pt")
        deflate(files["dark", "stored"], deflated, args.level)
        del values
        for name in libs:
            rows = [("stored", "load", files[name, "stored"]), ("deflated", "load", deflated),
                    ("save", "save", os.path.join(folder, f"{name}-saved.pt"))]
            for label, action, path in rows:
                result = child(name, action, path, files[name, "tiny"], nbytes)
                note = "" if result["reset"] else "  (peak not reset: a lower bound)"
                print(f"{name:8} {label:9} {result['extra'] / nbytes:5.2f}x "
                      f"{result['seconds']:8.2f}{note}", flush=True)
                if action == "save":
                    os.unlink(path)


if __name__ == "__main__":
    main()
