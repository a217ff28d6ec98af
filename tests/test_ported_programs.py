"""Real PyTorch programs, ported to dark by their import lines only, run as a user runs them.

Each program of ``examples/ported/`` (pytorch/examples and pytorch/tutorials programs; the
source and commit are in each file's header) runs in a subprocess on the CPU, on a small slice
of MNIST / Fashion-MNIST cut from ``$DARK_DATA`` (the data size is the only other change: the
slice, the program's own command-line flags, or one documented constant). The test asserts
that it exits 0 and prints what the original prints.

Where the original can run here too (a Python with torch, and torchvision when the program uses
it: this interpreter, or the one ``$TORCH_PYTHON`` names), the original program, rebuilt from
the port by turning its import lines back, runs on the same slice with the same arguments, and
the numbers of the lines it prints are compared with dark's. Programs that never seed the global
generator are started after ``manual_seed(0)`` of their framework (by the harness, the program is
unchanged), so both draw the same stream.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PORTED = ROOT / "examples" / "ported"

# import lines of a port -> the original's (the reverse of the port); most specific first
UNPORT = [
    (r"^(\s*)import dark as torch$", r"\1import torch"),
    (r"^(\s*)import dark\.data as torchvision$", r"\1import torchvision"),
    (r"^(\s*)import dark\.data\.(\S+) as ", r"\1import torchvision.\2 as "),
    (r"^(\s*)from dark\.data([. ])", r"\1from torchvision\2"),
    (r"^(\s*)import dark\.(\S+)", r"\1import torch.\2"),
    (r"^(\s*)from dark([. ])", r"\1from torch\2"),
]
IMPORT_LINE = re.compile(r"^\s*(import dark|from dark)[. ]")

# runs a program after seeding its framework's global generator (argv: module seed script args)
SEEDED = ("import runpy, sys; m = __import__(sys.argv[1]); m.manual_seed(int(sys.argv[2])); "
          "sys.argv = sys.argv[3:]; runpy.run_path(sys.argv[0], run_name='__main__')")

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclasses.dataclass
class Program:
    name: str
    script: str  # relative to examples/ported/<name>/
    args: tuple = ()
    data: tuple | None = None  # (train, test) images of the MNIST / FashionMNIST slice
    expect: tuple = ()  # regexes the output must contain
    compare: str | None = None  # regex of the lines whose numbers are compared with torch's
    rtol: float = 1e-5
    atol: float = 0.0
    torchvision: bool = False
    seed: int | None = None  # harness seed for programs that never seed
    before: tuple = ()  # scripts of the program to run first (data generators)
    dirs: tuple = ()  # folders the original repository holds next to the program
    extras: tuple = ()  # optional modules the program imports
    setup: object = None  # setup(run_dir, env): data the test makes for the program
    ignore: str | None = None  # regex of text in compared lines that is no result (timings)
    folder: str = ""  # examples/ported/<folder> when it is not <name> (programs sharing one)
    nproc: int = 0  # >0: started by <framework>.distributed.run with that many workers, the
    # CPU standing in for the GPUs the program asks for (see _CPU_ACCELERATOR)


MNIST_LOG = r"Train Epoch: 1 \[\d+/\d+ \(\d+%\)\]\tLoss: \d+\.\d+"
PROGRAMS = [
    Program("mnist", "main.py", ("--epochs", "1", "--test-batch-size", "100", "--log-interval",
                                 "3"), data=(640, 200),
            expect=(MNIST_LOG, r"Test set: Average loss: \d\.\d{4}, Accuracy: \d+/200"),
            # equal as printed with dark's direct convolutions; a convolution that sums in
            # another order (the Winograd kernel in progress gave last-bit differences) grows
            # those bits over ten Adadelta steps at lr=1.0 to 6.5e-5 by the fourth logged loss
            compare=r"Loss|Test set", rtol=1e-4, torchvision=True),
    Program("mnist_rnn", "main.py", ("--epochs", "1", "--test-batch-size", "100", "--dry-run"),
            data=(640, 200), expect=(MNIST_LOG, r"Test set: Average loss: \d\.\d{4}"),
            compare=r"Loss|Test set", torchvision=True),
    Program("vae", "main.py", ("--epochs", "1", "--no-accel", "--log-interval", "2"),
            data=(640, 200), expect=(r"====> Epoch: 1 Average loss: \d+\.\d{4}",
                                     r"====> Test set loss: \d+\.\d{4}"),
            compare=r"Loss|loss", rtol=2e-6, torchvision=True, dirs=("results",)),
    Program("siamese_network", "main.py", ("--epochs", "1", "--dry-run", "--test-batch-size",
                                           "100"), data=(640, 200),
            expect=(MNIST_LOG, r"Test set: Average loss: \d\.\d{4}, Accuracy: \d+/200"),
            compare=r"Test set", torchvision=True),
    Program("mnist_forward_forward", "main.py", ("--epochs", "3", "--train_size", "640",
                                                 "--test_size", "200", "--log-interval", "1"),
            data=(640, 200), expect=(r"training layer:  1", r"Loss:  \d\.\d+",
                                     r"train error: \d\.\d+", r"test error: \d\.\d+"),
            compare=r"Loss|error", seed=1, torchvision=True),
    Program("dcgan", "main.py", ("--dataset", "mnist", "--dataroot", "../data", "--imageSize",
                                 "64", "--batchSize", "16", "--ngf", "8", "--ndf", "8", "--nz",
                                 "16", "--workers", "0", "--dry-run", "--manualSeed", "1",
                                 "--outf", "out"), data=(640, 200),
            expect=(r"\[0/1\]\[0/40\] Loss_D: \d\.\d{4} Loss_G: \d\.\d{4} D\(x\): \d\.\d{4}",),
            compare=r"Loss_D", torchvision=True),
    Program("mnist_hogwild", "main.py", ("--epochs", "1", "--num-processes", "2", "--dry-run",
                                         "--test-batch-size", "100"), data=(640, 200),
            expect=(r"Train Epoch: 1 \[0/640 \(0%\)\]\tLoss: \d\.\d+",
                    r"Test set: Average loss: \d\.\d{4}, Accuracy: \d+/200"),
            # two processes update one shared model without locks (Hogwild): the order of
            # their updates differs from run to run, in torch as in dark
            compare=r"Test set", rtol=1e-3, torchvision=True),
    # the program trains until one random batch's loss falls under 1e-3: the losses equal
    # torch's to the last bit or two for ~300 steps (a 32-term mean summed in another order),
    # then the ill-conditioned x**4 fit makes those bits chaotic and the stopping batch (hence
    # the learned function) differs; only the target function drawn from the seeded stream is
    # compared
    Program("regression", "main.py", seed=0,
            expect=(r"Loss: 0\.000\d+ after \d+ batches", r"==> Learned function:\ty = ",
                    r"==> Actual function:\ty = "), compare=r"Actual function"),
    Program("polynomial_autograd", "polynomial_autograd.py", seed=0,
            expect=(r"^1999 \d+\.\d+$", r"Result: y = "), compare=r".", rtol=1e-5),
    Program("polynomial_custom_function", "polynomial_custom_function.py",
            expect=(r"^1999 \d+\.\d+$", r"Result: y = .* \* P3\("), compare=r"^\d+ ",
            rtol=1e-5),
    Program("polynomial_nn", "polynomial_nn.py", seed=0,
            expect=(r"^1999 \d+\.\d+$", r"Result: y = "), compare=r".", rtol=1e-5),
    Program("polynomial_optim", "polynomial_optim.py", seed=0,
            expect=(r"^1999 \d+\.\d+$", r"Result: y = "), compare=r".", rtol=1e-5),
    # the grad_fn lines print an object address; the gradients and flags are compared
    Program("autogradqs_tutorial", "autogradqs_tutorial.py", seed=0,
            expect=(r"Gradient function for z = <AddBackward0 object at 0x[0-9a-f]+>",
                    r"Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 ",
                    r"Call after zeroing gradients\ntensor\(\[\[4\., 2\., 2\., 2\., 2\.\],"),
            compare=r"^(?!Gradient function)"),
    # the hook lines print object addresses; everything else (parameters, masks, pruned
    # weights, sparsities) is compared
    Program("pruning_tutorial", "pruning_tutorial.py", seed=0,
            expect=(r"^Global sparsity: 20\.00%$",
                    r"^tensor\(\[0\., 1\., 0\., 1\., 0\., 1\., 0\., 1\., 0\., 1\.\]\)$"),
            compare=r"^(?!.*object at)"),
    # the grad_fn lines print object addresses; the network, outputs, loss and gradients are
    # compared
    Program("neural_networks_tutorial", "neural_networks_tutorial.py", seed=0,
            expect=(r"^<MseLossBackward0 object at 0x[0-9a-f]+>$",
                    r"^<AddmmBackward0 object at 0x[0-9a-f]+>$",
                    r"^<AccumulateGrad object at 0x[0-9a-f]+>$",
                    r"^conv1\.bias\.grad after backward\ntensor\(\["),
            compare=r"^(?!<)"),
    Program("optimization_tutorial", "optimization_tutorial.py", data=(192, 64), seed=0,
            expect=(r"Epoch 10\n", r"loss: \d\.\d{6}  \[   64/  192\]",
                    r"Accuracy: \d+\.\d%, Avg loss: \d\.\d{6}", r"Done!"),
            compare=r"loss", torchvision=True),
    Program("quickstart_tutorial", "quickstart_tutorial.py", data=(192, 64), seed=0,
            expect=(r"Shape of X \[N, C, H, W\]:  dark\.Size\(\[64, 1, 28, 28\]\)",
                    r"Shape of y:  dark\.Size\(\[64\]\) dark\.int64", r"Epoch 5\n",
                    r"Accuracy: \d+\.\d%", r"Saved PyTorch Model State to model.pth",
                    r'Predicted: "[^"]+", Actual: "Ankle boot"'),
            compare=r"loss|Predicted", torchvision=True, extras=("matplotlib",)),
]


# gcn and gat: a small Cora (cora.content: id, 0/1 word features, class name; cora.cites:
# cited id, citing id), made here, never downloaded: a stand-in ``requests`` module on
# PYTHONPATH hands the program this archive where it fetches linqs-data's cora.tgz
_CLASSES = ("Case_Based", "Genetic_Algorithms", "Neural_Networks", "Probabilistic_Methods",
            "Reinforcement_Learning", "Rule_Learning", "Theory")
_REQUESTS_STUB = """\
import os


class _Response:
    def __init__(self, path):
        self.raw = open(path, "rb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.raw.close()


def get(url, stream=False, **kwargs):
    return _Response(os.environ["CORA_TGZ"])
"""


def _cora(run_dir: pathlib.Path, env: dict, nodes=1700, feats=64, edges=3000):
    import io
    import tarfile

    import numpy as np
    rng = np.random.RandomState(0)
    ids = rng.choice(np.arange(1, 10 * nodes), nodes, replace=False)
    labels = rng.randint(0, len(_CLASSES), nodes)
    centers = rng.rand(len(_CLASSES), feats) < 0.08  # each class's typical words
    words = (rng.rand(nodes, feats) < 0.03) | (centers[labels] & (rng.rand(nodes, feats) < 0.6))
    content = "".join(f"{i}\t" + "\t".join(str(int(w)) for w in row) + f"\t{_CLASSES[c]}\n"
                      for i, row, c in zip(ids, words, labels))
    cited = rng.randint(0, nodes, edges)
    same = rng.rand(edges) < 0.8  # most citations stay within a class
    pools = [np.flatnonzero(labels == c) for c in range(len(_CLASSES))]
    citing = [rng.choice(pools[labels[a]]) if s else rng.randint(nodes)
              for a, s in zip(cited, same)]
    cites = "".join(f"{ids[a]}\t{ids[b]}\n" for a, b in zip(cited, citing))
    archive = run_dir / "cora.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("cora/cora.content", content), ("cora/cora.cites", cites)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    stub = run_dir / "stub"
    stub.mkdir()
    (stub / "requests.py").write_text(_REQUESTS_STUB)
    env["PYTHONPATH"] = os.pathsep.join([str(stub), *filter(None, [env.get("PYTHONPATH")])])
    env["CORA_TGZ"] = str(archive)


PROGRAMS.append(
    # the Epoch lines print each epoch's time, which is not compared
    Program("gcn", "main.py", ("--epochs", "20", "--val-every", "5"), setup=_cora,
            expect=(r"^Epoch: 0005 \(\d+\.\d+s\) loss_train: \d\.\d{4} acc_train: \d\.\d{4} "
                    r"loss_val: \d\.\d{4} acc_val: \d\.\d{4}$",
                    r"^Test set results: loss \d\.\d{4} accuracy \d\.\d{4}$"),
            compare=r"^Epoch|^Test set", ignore=r"\(\d+\.\d+s\)"))
PROGRAMS.append(
    # the same Cora; one small attention head keeps its dense (nodes x nodes) attention quick
    Program("gat", "main.py", ("--epochs", "5", "--val-every", "5", "--num-heads", "1",
                               "--hidden-dim", "4"), setup=_cora,
            expect=(r"^Epoch: 0005 \(\d+\.\d+s\) loss_train: \d\.\d{4} acc_train: \d\.\d{4} "
                    r"loss_val: \d\.\d{4} acc_val: \d\.\d{4}$",
                    r"^Test set results: loss \d\.\d{4} accuracy \d\.\d{4}$"),
            compare=r"^Epoch|^Test set", ignore=r"\(\d+\.\d+s\)"))
# pytorch/examples' distributed/tensor_parallelism programs: the harness starts them as their
# README does (torchrun --nproc-per-node N) through the framework's launcher, each worker through
# this stub, which makes the CPU stand in for the accelerator the programs check for (they
# exit when torch.accelerator finds fewer than 2 GPUs, and put the model on
# torch.accelerator.current_accelerator().type): the programs are unchanged
_CPU_ACCELERATOR = """\
import importlib, os, runpy, sys
framework = importlib.import_module(sys.argv[1])
framework.accelerator.is_available = lambda: True
framework.accelerator.device_count = lambda: int(os.environ.get("WORLD_SIZE", "1"))
framework.accelerator.current_accelerator = lambda check_available=False: framework.device("cpu")
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
"""
PROGRAMS += [
    Program("tensor_parallel", "tensor_parallel_example.py", folder="tensor_parallelism",
            nproc=2, extras=("mpi4py",),
            expect=(r"Starting PyTorch TP example on rank 0\.",
                    r"Starting PyTorch TP example on rank 1\.")),
    Program("sequence_parallel", "sequence_parallel_example.py", folder="tensor_parallelism",
            nproc=2, extras=("mpi4py",),
            expect=(r"Starting PyTorch Sequence Parallel example on rank 0\.",
                    r"Starting PyTorch Sequence Parallel example on rank 1\.")),
]
BY_NAME = {p.name: p for p in PROGRAMS}


def unport(text: str) -> str:
    """The original program: the port with its import lines turned back."""
    lines = []
    for line in text.splitlines(keepends=True):
        for pattern, repl in UNPORT:
            new = re.sub(pattern, repl, line)
            if new != line:
                line = new
                break
        lines.append(line)
    return "".join(lines)


# data --------------------------------------------------------------------------------------------
def _write_slice(src: pathlib.Path, dst: pathlib.Path, ntrain: int, ntest: int):
    """The first images of each split, as the original IDX files (gzip, and unpacked as
    torchvision checks for)."""
    for name in ("MNIST", "FashionMNIST"):
        (dst / name / "raw").mkdir(parents=True)
        for split, n in (("train", ntrain), ("t10k", ntest)):
            for kind, head, item in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
                fn = f"{split}-{kind}-ubyte"
                with gzip.open(src / name / "raw" / f"{fn}.gz") as f:
                    header = bytearray(f.read(head))
                    body = f.read(n * item)
                header[4:8] = n.to_bytes(4, "big")
                data = bytes(header) + body
                (dst / name / "raw" / fn).write_bytes(data)
                with gzip.open(dst / name / "raw" / f"{fn}.gz", "wb", compresslevel=1) as f:
                    f.write(data)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("ported")


@functools.cache
def _slice(base: str, ntrain: int, ntest: int) -> pathlib.Path:
    shared = os.environ.get("DARK_DATA")
    if not shared or not (pathlib.Path(shared) / "MNIST" / "raw").is_dir():
        pytest.skip("needs DARK_DATA naming a folder with MNIST/raw and FashionMNIST/raw")
    dst = pathlib.Path(base) / f"data_{ntrain}_{ntest}"
    _write_slice(pathlib.Path(shared), dst, ntrain, ntest)
    return dst


# runs ------------------------------------------------------------------------------------------
def _python_with(modules) -> str | None:
    """An interpreter that imports ``modules``: this one, else ``$TORCH_PYTHON``."""
    candidates = [sys.executable]
    if os.environ.get("TORCH_PYTHON"):
        candidates.append(os.environ["TORCH_PYTHON"])
    check = "; ".join(f"import {m}" for m in modules)
    for exe in candidates:
        if subprocess.run([exe, "-c", check], capture_output=True).returncode == 0:
            return exe
    return None


_RUNS: dict = {}


def _run(prog: Program, side: str, base: pathlib.Path, python: str):
    """Runs the port (side 'dark') or the original (side 'torch'); (returncode, stdout,
    stderr)."""
    key = (prog.name, side)
    if key in _RUNS:
        return _RUNS[key]
    run_dir = base / side / prog.name
    code_dir = run_dir / "code"
    code_dir.mkdir(parents=True)
    for path in sorted((PORTED / (prog.folder or prog.name)).glob("*.py")):
        text = path.read_text()
        (code_dir / path.name).write_text(text if side == "dark" else unport(text))
    work = run_dir / "work"
    work.mkdir()
    for d in prog.dirs:
        (work / d).mkdir()
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    if prog.data is not None:
        data = _slice(str(base), *prog.data)
        (run_dir / "data").symlink_to(data)
        (work / "data").symlink_to(data)
        env["DARK_DATA"] = str(data)
    if prog.setup is not None:
        prog.setup(run_dir, env)
    module = "dark" if side == "dark" else "torch"
    for script in prog.before:
        subprocess.run([python, str(code_dir / script)], cwd=work, env=env, check=True,
                       capture_output=True, timeout=120)
    script = str(code_dir / prog.script)
    if prog.nproc:
        stub = run_dir / "cpu_accelerator.py"
        stub.write_text(_CPU_ACCELERATOR)
        cmd = [python, "-m", f"{module}.distributed.run", "--nproc-per-node", str(prog.nproc),
               str(stub), module, script, *prog.args]
    elif prog.seed is None:
        cmd = [python, script, *prog.args]
    else:
        cmd = [python, "-c", SEEDED, module, str(prog.seed), script, *prog.args]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    _RUNS[key] = (proc.returncode, proc.stdout, proc.stderr)
    return _RUNS[key]


def _needs(prog: Program):
    for m in prog.extras:
        pytest.importorskip(m, reason=f"the program imports {m}")


@pytest.mark.parametrize("name", list(BY_NAME))
def test_ported_program_runs(name, workspace):
    prog = BY_NAME[name]
    _needs(prog)
    rc, out, err = _run(prog, "dark", workspace, sys.executable)
    assert rc == 0, f"{name} exited {rc}:\n{err[-3000:]}"
    for pattern in prog.expect:
        assert re.search(pattern, out, re.M), f"{name}: no {pattern!r} in its output:\n{out}"


def _numbers(out: str, pattern: str, ignore: str | None = None):
    rows = []
    for line in out.splitlines():
        if re.search(pattern, line):
            if ignore:
                line = re.sub(ignore, "", line)
            # a process id column (mnist_hogwild prints one) is not a result
            line = re.sub(r"^\d+\t", "", line)
            rows.append([float(x) for x in NUMBER.findall(line)])
    return rows


@pytest.mark.parametrize("name", [p.name for p in PROGRAMS if p.compare])
def test_ported_program_matches_torch(name, workspace):
    prog = BY_NAME[name]
    _needs(prog)
    modules = ["torch", *(["torchvision"] if prog.torchvision else []), *prog.extras]
    python = _python_with(modules)
    if python is None:
        pytest.skip(f"needs {' and '.join(modules)} (here or in $TORCH_PYTHON) to run the "
                    "original program")
    rc, out, err = _run(prog, "dark", workspace, sys.executable)
    assert rc == 0, err[-3000:]
    trc, tout, terr = _run(prog, "torch", workspace, python)
    assert trc == 0, f"the original {name} failed under torch:\n{terr[-3000:]}"
    ours, theirs = (_numbers(text, prog.compare, prog.ignore) for text in (out, tout))
    assert ours and len(ours) == len(theirs), (out, tout)
    worst = 0.0
    for a_row, b_row in zip(ours, theirs):
        assert len(a_row) == len(b_row), (a_row, b_row)
        for a, b in zip(a_row, b_row):
            assert abs(a - b) <= prog.atol + prog.rtol * abs(b), (
                f"{name}: dark printed {a}, torch {b}\n--- dark:\n{out}\n--- torch:\n{tout}")
            if b:
                worst = max(worst, abs(a - b) / abs(b))
    print(f"{name}: {sum(map(len, ours))} numbers, largest relative difference {worst:.2e}")


def test_ports_change_only_import_lines():
    """Every line of a port that names dark is an import line (or the header's comments), and
    turning the imports back leaves no mention of dark."""
    folders = {p.folder or p.name for p in PROGRAMS}
    files = sorted(p for p in PORTED.glob("*/*.py") if p.parent.name in folders)
    assert len({p.parent.name for p in files}) == len(folders)
    for path in files:
        text = path.read_text()
        for line in text.splitlines():
            if "dark" in line and not line.lstrip().startswith("#"):
                assert IMPORT_LINE.match(line), f"{path}: {line!r}"
        assert "dark" not in re.sub(r"(?m)^\s*#.*$", "", unport(text)), path
