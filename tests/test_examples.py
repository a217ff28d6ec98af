"""The example programs run end to end on a slice of the real data, each in a subprocess as a
user runs it: exit code, printed accuracy, checkpoint contents, plot (or its note)."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

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
