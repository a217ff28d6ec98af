"""scripts/api_census.py: resolves import aliases and tells which names dark has."""
import importlib.util
import pathlib

from harness import torch

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "api_census.py"
spec = importlib.util.spec_from_file_location("api_census", SCRIPT)
api_census = importlib.util.module_from_spec(spec)
spec.loader.exec_module(api_census)

PROGRAM = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim as O
from torch.utils.data import DataLoader
import torchvision.transforms as T

class Net(nn.Module):
    def forward(self, x):
        return F.relu(x.view(-1)).not_a_tensor_method_xyz()

t = torch.zeros(3).trace()
opt = O.SGD([], lr=0.1)
loader = DataLoader([])
tf = T.Compose([T.ToTensor()])
torch.no_such_name_in_torch_xyz(1)
'''


def test_names_and_aliases(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    (tmp_path / "not_torch.py").write_text("import numpy as np\nnp.zeros(3)\n")
    names, methods, count = api_census.scan([tmp_path])
    assert count == 1  # the numpy-only file is not a PyTorch program
    for name in ["torch.nn.Module", "torch.nn.functional.relu", "torch.optim.SGD",
                 "torch.utils.data.DataLoader", "torchvision.transforms.Compose",
                 "torchvision.transforms.ToTensor", "torch.zeros"]:
        assert name in names, name
    assert {"view", "trace", "not_a_tensor_method_xyz"} <= set(methods)
    assert "Compose" not in methods  # a call through a module alias is a name, not a method


def test_ports_resolve():
    assert api_census.resolves(api_census._port("torch.nn.functional.relu"))
    assert api_census.resolves(api_census._port("torchvision.transforms.Compose"))
    assert not api_census.resolves(api_census._port("torch.no_such_name_in_torch_xyz"))
    assert api_census._port("torchvision.datasets.MNIST") == "dark.data.datasets.MNIST"


def test_census_counts(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    result = api_census.census([tmp_path])
    missing = dict(result["missing_names"])
    assert "torch.nn.Module" not in missing
    if torch is not None:  # names torch lacks are dropped, methods kept only if torch's
        assert "torch.no_such_name_in_torch_xyz" not in missing
        assert "not_a_tensor_method_xyz" not in dict(result["missing_methods"])
    else:
        assert "torch.no_such_name_in_torch_xyz" in missing
    assert result["names_in_dark"] <= result["names_used"]


def test_census_of_another_checkout(tmp_path):
    """``--dark CHECKOUT``: the names are looked up in that checkout's dark, not the installed
    one (run in a fresh interpreter: dark is imported here already)."""
    import subprocess
    import sys

    checkout = tmp_path / "old"
    (checkout / "dark").mkdir(parents=True)
    (checkout / "dark" / "__init__.py").write_text("def zeros(*a):\n    pass\n")
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "prog.py").write_text("import torch\ntorch.zeros(2)\ntorch.ones(2)\n"
                                   "import torch.nn\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(progs), "--dark", str(checkout)],
                         capture_output=True, text=True, check=True).stdout
    missing = out.split("missing names")[1]
    assert "torch.ones" in missing and "torch.nn" in missing  # the installed dark has both
    assert "torch.zeros" not in missing
    bad = subprocess.run([sys.executable, str(SCRIPT), str(progs), "--dark", str(progs)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "no dark package in" in bad.stderr
