"""The example programs run end to end on a slice of the real data, each in a subprocess as a
user runs it: exit code, printed accuracy, checkpoint contents, plot (or its note). The MNIST
example's download, its messages without data or network, and its argument checks too."""
import hashlib
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from harness import closed_port_url

import dark

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def run(script: str, *args: str, cwd: pathlib.Path) -> str:
    """Runs examples/<script> with args in cwd; returns its stdout, failing on a non-zero exit."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result.stdout


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model, bound", [("mlp", 75.0), ("cnn", 75.0)])
def test_mnist_example(model, bound, data_root, tmp_path):
    checkpoint, plot = tmp_path / "checkpoint.pt", tmp_path / "curves.png"
    out = run("mnist.py", "--model", model, "--limit", "2000", "--epochs", "1",
              "--device", "cpu", "--data-root", data_root, "--save", str(checkpoint),
              "--plot", str(plot), cwd=tmp_path)
    assert "2000 training / 333 test samples" in out
    correct, size, accuracy = re.search(
        r"Test set: Average loss: [\d.]+, Accuracy: (\d+)/(\d+) \(([\d.]+)%\)", out).groups()
    assert int(size) == 333 and float(accuracy) == pytest.approx(100 * int(correct) / 333,
                                                                 abs=0.01)
    assert float(accuracy) > bound
    assert re.search(r"Epoch 1: [\d.]+ s training, [\d.]+ s testing; checkpoint saved", out)

    state = dark.load(str(checkpoint))
    assert set(state) == {"model", "optimizer", "epoch"} and state["epoch"] == 1
    assert set(state["optimizer"]) == {"state", "param_groups"}
    network = load_example("mnist").MODELS[model]()
    network.load_state_dict(state["model"])  # strict: every key and shape matches

    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.stat().st_size > 0
    else:
        assert "matplotlib is not installed" in out
        assert (tmp_path / "curves_misclassified.png").stat().st_size > 0


def test_mnist_example_rejects_missing_cuda(tmp_path):
    if dark.cuda.is_available():
        pytest.skip("CUDA is available here")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(EXAMPLES / "mnist.py"), "--device", "cuda"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "CUDA is not available" in result.stderr


def test_quadratic_example(tmp_path):
    out = run("quadratic.py", cwd=tmp_path)
    xs = [float(x) for x in re.findall(r"x = ([-\d.e+]+)", out)]
    assert xs[0] == pytest.approx(6.0)  # 10 - 0.1 * 4 * 10
    assert abs(float(re.search(r"final x = (\S+)", out).group(1))) < 1e-6


def test_fashion_mnist_example(data_root, tmp_path):
    if not pathlib.Path(data_root, "FashionMNIST", "raw").is_dir():
        pytest.skip(f"FashionMNIST files not found under {data_root}")
    weights = tmp_path / "model.pth"
    out = run("fashion_mnist.py", "--limit", "640", "--epochs", "1", "--data-root", data_root,
              "--save", str(weights), cwd=tmp_path)
    assert "Shape of X [N, C, H, W]: dark.Size([64, 1, 28, 28])" in out
    assert "Shape of y: dark.Size([64]) dark.int64" in out
    assert re.search(r"loss: [\d.]+  \[   64/  640\]", out)
    assert re.search(r"Accuracy: [\d.]+%, Avg loss: [\d.]+", out)
    assert "Done!" in out and weights.stat().st_size > 0
    classes = load_example("fashion_mnist").classes
    predicted, actual = re.search(r'Predicted: "(.+)", Actual: "(.+)"', out).groups()
    assert predicted in classes and actual == "Ankle boot"  # the first test image is a boot


# ---------------------------------------------------------------- MNIST data: download, none

MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def run_mnist_with_mirrors(mirrors, *args, cwd, dark_data=None):
    """Runs examples/mnist.py as __main__ in a subprocess, as `python examples/mnist.py ARGS`
    does, with dark.data.datasets.MNIST.mirrors set to ``mirrors`` (local URLs: the test never
    reaches the network) and DARK_DATA set to ``dark_data`` or unset. Returns the
    CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k != "DARK_DATA"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    if dark_data is not None:
        env["DARK_DATA"] = str(dark_data)
    script = str(EXAMPLES / "mnist.py")
    code = ("import runpy, sys\n"
            "from dark.data import datasets\n"
            f"datasets.MNIST.mirrors = {list(mirrors)!r}\n"
            f"sys.argv = {[script, *args]!r}\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_mnist_example_downloads_missing_files(data_root, tmp_path, server):
    base, requests = server
    base += "/"
    for name in MNIST_FILES:
        shutil.copy(pathlib.Path(data_root, "MNIST", "raw", name), tmp_path / "www" / name)
    work = tmp_path / "work"
    work.mkdir()
    dead = closed_port_url()
    result = run_mnist_with_mirrors(
        [dead, base], "--model", "mlp", "--limit", "600", "--epochs", "1", "--device", "cpu",
        "--plot", "", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    raw = work / "data" / "MNIST" / "raw"  # the default root: ./data
    assert sorted(os.listdir(raw)) == sorted(MNIST_FILES)  # no .part left over
    md5s = dict(load_example("mnist").datasets.MNIST.resources)
    for name in MNIST_FILES:
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5s[name]
        assert f"Downloading {base}{name} to " in result.stdout
    assert f"Downloading {dead}train-images-idx3-ubyte.gz" in result.stdout  # tried first
    assert "600 training / 100 test samples" in result.stdout
    assert "Final test accuracy" in result.stdout
    # A second run finds the files and fetches nothing.
    requests.clear()
    result = run_mnist_with_mirrors(
        [base], "--model", "mlp", "--limit", "60", "--epochs", "1", "--device", "cpu",
        "--plot", "", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert requests == [] and "Downloading" not in result.stdout


def test_mnist_example_without_network(tmp_path):
    dead = [closed_port_url(), closed_port_url()]
    result = run_mnist_with_mirrors(dead, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr
    folder = tmp_path / "data" / "MNIST" / "raw"
    assert f"the MNIST files are not in {folder} and downloading them failed" in message
    assert f"{dead[0]}train-images-idx3-ubyte.gz: " in message  # why each mirror failed
    assert f"{dead[1]}train-images-idx3-ubyte.gz: " in message
    assert "--data-root DIR" in message and "DARK_DATA" in message
    assert f"download these four files by hand into {folder}:" in message
    for name in MNIST_FILES:
        assert f"\n  {dead[0]}{name}" in message
    assert "download=True" not in message
    assert len(message.splitlines()) <= 12
    assert os.listdir(folder) == []  # nothing half-written


def test_mnist_example_no_download(tmp_path, server):
    base, requests = server
    base += "/"
    for name in MNIST_FILES:
        (tmp_path / "www" / name).write_bytes(b"would be fetched")
    shared = tmp_path / "shared"
    result = run_mnist_with_mirrors([base], "--no-download", "--data-root", str(tmp_path / "r"),
                                    cwd=tmp_path, dark_data=shared)
    assert result.returncode == 1 and requests == []
    assert "Traceback" not in result.stderr + result.stdout
    folder = tmp_path / "r" / "MNIST" / "raw"
    assert (f"the MNIST files are not in {folder} nor in {shared / 'MNIST' / 'raw'} (DARK_DATA) "
            "and --no-download forbids downloading them.") in result.stderr
    assert f"download these four files by hand into {folder}:\n  {base}{MNIST_FILES[0]}" \
        in result.stderr
    assert not (tmp_path / "r").exists()


def test_mnist_example_help_documents_data_options():
    result = subprocess.run([sys.executable, str(EXAMPLES / "mnist.py"), "--help"],
                            env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--data-root DIR folder holding MNIST/raw/" in text
    assert "$DARK_DATA when set, else ./data" in text and "downloaded" in text
    assert "--no-download never download" in text
    assert "shared" not in text


# ---------------------------------------------------------------- MNIST argument checks

@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["--limit", "0"], "--limit must be >= 1, got 0"),
    (["--limit", "-5"], "--limit must be >= 1, got -5"),
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--test-batch-size", "-1"], "--test-batch-size must be >= 1, got -1"),
    (["--num-workers", "-1"], "--num-workers must be >= 0, got -1"),
    (["--lr", "0"], "--lr must be > 0, got 0"),
    (["--lr", "-0.1"], "--lr must be > 0, got -0.1"),
    (["--lr", "nan"], "--lr must be > 0, got nan"),
    (["--gamma", "0"], "--gamma must be > 0, got 0"),
    (["--optimizer", "sgd", "--momentum", "-0.5"], "--momentum must be >= 0, got -0.5"),
    (["--save", "/missing/dir/m.pt"], "--save /missing/dir/m.pt: the directory /missing/dir "
                                      "does not exist"),
    (["--plot", "/missing/dir/c.png"], "--plot /missing/dir/c.png: the directory /missing/dir "
                                       "does not exist"),
])
def test_mnist_example_rejects_bad_arguments(argv, message, capsys):
    parse_args = load_example("mnist").parse_args
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and f"error: {message}\n" in err


def test_mnist_example_rejects_directories_as_files(tmp_path, capsys):
    parse_args = load_example("mnist").parse_args
    for argv, message in (
            (["--save", str(tmp_path)], f"--save {tmp_path}: is a directory"),
            (["--data-root", __file__], f"--data-root {__file__}: not a directory")):
        with pytest.raises(SystemExit) as info:
            parse_args(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_mnist_example_defaults_and_explicit_values(tmp_path):
    parse_args = load_example("mnist").parse_args
    args = parse_args(["--device", "cpu", "--save", str(tmp_path / "m.pt")])
    assert (args.model, args.epochs, args.lr, args.optimizer, args.limit, args.download) == (
        "cnn", 3, 1e-3, "adam", None, True)
    args = parse_args(["--model", "net", "--epochs", "1", "--limit", "1", "--no-download",
                       "--device", "cpu", "--save", str(tmp_path / "m.pt")])
    assert (args.epochs, args.limit, args.lr, args.optimizer, args.download) == (
        1, 1, 1.0, "adadelta", False)


def test_mnist_example_checks_save_path_before_loading_data(tmp_path):
    # No data anywhere and downloads forbidden: the bad --save is reported first, at once.
    env = {k: v for k, v in os.environ.items() if k != "DARK_DATA"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, str(EXAMPLES / "mnist.py"), "--no-download",
                             "--save", str(tmp_path / "missing" / "m.pt")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"the directory {tmp_path / 'missing'} does not exist" in result.stderr
    assert "MNIST files" not in result.stderr


def test_mnist_example_tensorboard(data_root, tmp_path):
    """--tensorboard DIR: TensorBoard's own reader finds the loss, accuracy, learning rate,
    misclassified digits and weight histograms the example logged."""
    pytest.importorskip("tensorboard", reason="tensorboard not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "tb"
    out = run("mnist.py", "--model", "mlp", "--limit", "600", "--epochs", "2", "--device",
              "cpu", "--data-root", data_root, "--save", str(tmp_path / "c.pt"), "--plot", "",
              "--tensorboard", str(logs), cwd=tmp_path)
    assert f"TensorBoard logs written to {logs}" in out
    accuracies = [float(a) for a in re.findall(r"Accuracy: \d+/\d+ \(([\d.]+)%\)", out)]
    acc = EventAccumulator(str(logs), size_guidance={"scalars": 0, "images": 0,
                                                     "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"accuracy/train", "accuracy/test", "learning_rate", "train/batch_loss"} <= set(
        tags["scalars"])
    test_acc = acc.Scalars("accuracy/test")
    assert [e.step for e in test_acc] == [1, 2]
    assert [round(e.value, 2) for e in test_acc] == accuracies
    lrs = [e.value for e in acc.Scalars("learning_rate")]
    assert lrs == pytest.approx([1e-3, 0.7e-3])  # StepLR's gamma 0.7 per epoch
    # 600 samples in batches of 64: 10 batches an epoch, every 10th logged
    assert [e.step for e in acc.Scalars("train/batch_loss")] == [0, 10]
    assert "test/misclassified" in tags["images"]
    network = load_example("mnist").MODELS["mlp"]()
    assert set(tags["histograms"]) == {f"weights/{n}" for n, _ in network.named_parameters()}
    for key in ("train", "test"):
        run_acc = EventAccumulator(str(logs / f"loss_{key}"))
        run_acc.Reload()
        assert [e.step for e in run_acc.Scalars("loss")] == [1, 2]


def _mpi_ready():
    from dark.distributed.run import find_mpiexec

    try:
        found = find_mpiexec()
    except RuntimeError:
        return None
    return found if importlib.util.find_spec("mpi4py") is not None else None


@pytest.mark.skipif(_mpi_ready() is None, reason="mpi4py / mpiexec not installed (pip install "
                    "dark[mpi])")
def test_mnist_ddp_example_under_the_three_launchers(data_root, tmp_path):
    """examples/mnist_ddp.py trains with DDP under mpiexec, under the torchrun-like
    launcher and through dark.multiprocessing.spawn, and all three print the same losses
    (the same sampler shares, the same initial model, gradients averaged the same way)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(REPO), os.environ.get("PYTHONPATH")])), OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore")
    args = [str(EXAMPLES / "mnist_ddp.py"), "--limit", "1200", "--epochs", "2",
            "--data-root", data_root, "--save", str(tmp_path / "ddp.pt")]
    outputs = []
    from dark.distributed.run import free_port

    for command in ([_mpi_ready(), "-n", "2", sys.executable, *args],
                    [sys.executable, "-m", "dark.distributed.run", "--standalone",
                     "--nproc-per-node", "2", *args],
                    [sys.executable, *args, "--spawn", "2"]):
        env["MASTER_PORT"] = str(free_port())
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        outputs.append(re.findall(r"Epoch \d: train loss ([\d.]+) over (\d+) samples, test "
                                  r"accuracy ([\d.]+)%", result.stdout))
        assert "cnn on 2 processes (gloo): 1200 training samples" in result.stdout
    assert outputs[0] == outputs[1] == outputs[2] and len(outputs[0]) == 2
    assert [int(n) for _, n, _ in outputs[0]] == [1200, 1200]
    assert float(outputs[0][1][0]) < float(outputs[0][0][0])  # it learns
    state = dark.load(str(tmp_path / "ddp.pt"))
    network = load_example("mnist").MODELS["cnn"]()
    network.load_state_dict(state)  # rank 0 saved the plain model's keys (no "module.")
