"""pytorch/examples' word_language_model ported to dark by its import lines
(examples/ported/word_language_model): its driver trains LSTM and Transformer models on a
small generated text, and the Transformer language model (dark's own initialisation after
manual_seed) gives torch's weights and torch's losses over 50 SGD steps with dropout on,
torch running the upstream model.py (the ported file with its import lines put back)."""
import argparse
import importlib.util
import math
import os
import pathlib
import re
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

FOLDER = pathlib.Path(__file__).resolve().parents[1] / "examples" / "ported" / \
    "word_language_model"
PORTED_IMPORTS = {"import dark as torch": "import torch",
                  "import dark.nn as nn": "import torch.nn as nn",
                  "import dark.nn.functional as F": "import torch.nn.functional as F"}


def _load(name: str):
    """examples/ported/word_language_model/<name>.py imported as a module (driver.py imports
    model and data from its folder)."""
    sys.path.insert(0, str(FOLDER))
    try:
        spec = importlib.util.spec_from_file_location(f"wlm_{name}", FOLDER / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(FOLDER))
    return module


def _driver():
    return _load("driver")


def _upstream(name: str):
    """The upstream (torch) form of the ported ``name``.py: its import lines put back."""
    lines = (FOLDER / f"{name}.py").read_text().splitlines()
    restored = [PORTED_IMPORTS.get(line, line) for line in lines]
    source = "\n".join(restored) + "\n"
    assert "dark" not in source  # the port changed import lines only
    module = types.ModuleType(f"upstream_{name}")
    exec(compile(source, f"upstream/{name}.py", "exec"), module.__dict__)
    return module


def test_port_changes_only_import_lines():
    for name in ("model", "data"):
        lines = (FOLDER / f"{name}.py").read_text().splitlines()
        changed = [line for line in lines if "dark" in line]
        assert changed and all(line in PORTED_IMPORTS for line in changed)


def _run_driver(model, tmp_path, *more):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(FOLDER.parents[2]), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "-W", "ignore", str(FOLDER / "driver.py"), "--generate-text",
         "corpus", "--data", "corpus", "--model", model, "--steps", "30", *more],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("model,more", [("LSTM", ()), ("Transformer", ()),
                                        ("GRU", ("--tied",))])
def test_driver_trains(model, more, tmp_path):
    out = _run_driver(model, tmp_path, *more)
    losses = [float(x) for x in re.findall(r"\| step +\d+ \| loss ([\d.]+)", out)]
    assert len(losses) == 30 and all(math.isfinite(x) for x in losses)
    assert losses[0] == pytest.approx(math.log(31), abs=0.3)  # 31 words, near uniform
    assert np.mean(losses[-5:]) < losses[0] - 0.15
    valid = re.search(rf"\| {model} \| 31 words \| valid loss ([\d.]+) \| valid ppl "
                      r"([\d.]+)", out)
    assert valid and float(valid.group(2)) == pytest.approx(math.exp(float(valid.group(1))),
                                                            rel=1e-3)


def _args(model, **more):
    values = {"model": model, "emsize": 32, "nhid": 32, "nlayers": 2, "nhead": 2, "lr": 5.0,
              "clip": 0.25, "batch_size": 8, "bptt": 12, "dropout": 0.2, "tied": False,
              **more}
    return argparse.Namespace(**values)


def _trained(lib, model_module, ids, args, steps, seed=1111):
    driver = _driver()
    train_data = driver.batchify(lib, lib.tensor(ids), args.batch_size)
    lib.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor's notice, in both libraries
        model = driver.build_model(model_module, args, int(ids.max()) + 1)
    initial = {k: v.detach().cpu().numpy().copy() for k, v in model.named_parameters()}
    initial.update({k: v.cpu().numpy().copy() for k, v in model.named_buffers()})
    losses = driver.train_steps(lib, model, train_data, int(ids.max()) + 1, args, steps)
    return initial, losses


@pytest.mark.parametrize("model", ["Transformer", "LSTM"])
@requires_torch
def test_same_weights_and_losses_as_torch(model, tmp_path):
    driver = _driver()
    driver.make_text(str(tmp_path))
    corpus = _upstream("data").Corpus(str(tmp_path))
    ids = corpus.train.numpy()
    mine_initial, mine = _trained(dark, _load("model"), ids, _args(model), 50)
    theirs_initial, theirs = _trained(torch, _upstream("model"), ids, _args(model), 50)
    assert list(mine_initial) == list(theirs_initial)
    for key, value in theirs_initial.items():
        if key == "pos_encoder.pe":
            # sin / cos tables, not random draws: numpy's and torch's (SLEEF) float32 sin
            # and cos differ by an ulp here and there (up to 1e-4 at arguments near 5000)
            np.testing.assert_allclose(mine_initial[key][:64], value[:64], rtol=0, atol=1e-6)
        else:
            np.testing.assert_array_equal(mine_initial[key], value, err_msg=key)
    assert len(mine) == 50
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-4)
    assert np.mean(mine[-5:]) < mine[0] - 0.15
