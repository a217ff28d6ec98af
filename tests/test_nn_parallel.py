"""dark.nn.DataParallel / nn.parallel.data_parallel as torch's on one device: the wrapped module
is ``.module``, state_dict keys carry the 'module.' prefix, forward runs the module (moving
inputs to the GPU when there is one). Literal checks are written once for ``lib``; with torch
installed, values and keys are also compared with torch's."""
import numpy as np
import pytest
from harness import LIBS, raises_like, requires_torch, torch

import dark

CPU_ONLY = pytest.mark.skipif(dark.cuda.is_available(), reason="the answers of a machine "
                              "without a GPU")
NEEDS_CUDA = pytest.mark.skipif(not dark.cuda.is_available(), reason="needs a CUDA GPU")


def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(),
                             lib.nn.Linear(4, 2))


@pytest.mark.parametrize("lib", LIBS)
def test_names(lib):
    assert lib.nn.DataParallel is lib.nn.parallel.DataParallel
    assert "DataParallel" in lib.nn.parallel.__all__
    assert "data_parallel" in lib.nn.parallel.__all__
    assert issubclass(lib.nn.DataParallel, lib.nn.Module)


@CPU_ONLY
@pytest.mark.parametrize("lib", LIBS)
def test_data_parallel_without_gpu_runs_the_module(lib):
    net = _net(lib)
    dp = lib.nn.DataParallel(net)
    assert dp.module is net and dp.device_ids == []
    assert not hasattr(dp, "dim") and not hasattr(dp, "output_device")
    assert repr(dp) == "DataParallel(\n  (module): " + repr(net).replace("\n", "\n  ") + "\n)"
    x = lib.randn(5, 3)
    assert lib.equal(dp(x), net(x))
    assert [p is q for p, q in zip(dp.parameters(), net.parameters())] == [True] * 6
    assert [name for name, _ in dp.named_modules()][:2] == ["", "module"]


@pytest.mark.parametrize("lib", LIBS)
def test_state_dict_keys_carry_the_module_prefix(lib):
    net = _net(lib)
    dp = lib.nn.DataParallel(net)
    keys = list(dp.state_dict())
    assert keys == ["module.0.weight", "module.0.bias", "module.1.weight", "module.1.bias",
                    "module.1.running_mean", "module.1.running_var",
                    "module.1.num_batches_tracked", "module.3.weight", "module.3.bias"]
    assert keys == ["module." + k for k in net.state_dict()]
    other = lib.nn.DataParallel(_net(lib))
    with lib.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_state_dict(dp.state_dict())
    for p, q in zip(other.parameters(), dp.parameters()):
        assert lib.equal(p.cpu(), q.cpu())
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "module.0.weight"'):
        other.load_state_dict(net.state_dict())
    other.module.load_state_dict(net.state_dict())  # unwrapped keys go to .module


@requires_torch
def test_training_through_data_parallel_is_torchs():
    nets = {lib: lib.nn.DataParallel(_net(lib)) for lib in (dark, torch)}
    nets[dark].load_state_dict({k: dark.tensor(v.numpy())
                                for k, v in nets[torch].state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 2, 8)
    losses = {}
    for lib, dp in nets.items():
        optimizer = lib.optim.SGD(dp.parameters(), lr=0.1)
        device = "cuda" if lib is dark and dark.cuda.is_available() else "cpu"
        inputs, targets = lib.tensor(x), lib.tensor(y)
        losses[lib] = []
        for _ in range(3):
            optimizer.zero_grad()
            loss = lib.nn.functional.cross_entropy(dp(inputs), targets.to(device))
            loss.backward()
            optimizer.step()
            losses[lib].append(loss.item())
    np.testing.assert_allclose(losses[dark], losses[torch], rtol=1e-5)
    for key, value in nets[torch].state_dict().items():
        np.testing.assert_allclose(nets[dark].state_dict()[key].cpu().numpy(), value.numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("lib", LIBS)
def test_forward_passes_arguments_and_modes(lib):
    class Scale(lib.nn.Module):
        def forward(self, x, factor=1.0, *, shift=0.0):
            return x * factor + shift

    dp = lib.nn.DataParallel(Scale())
    x = lib.ones(2)
    assert dp(x, 3.0, shift=1.0).cpu().tolist() == [4.0, 4.0]
    dp.eval()
    assert dp.module.training is False
    dp.train()
    assert dp.module.training is True


@CPU_ONLY
def test_functional_data_parallel_needs_an_accelerator():
    with pytest.raises(RuntimeError, match="^device type could not be determined$"):
        dark.nn.parallel.data_parallel(dark.nn.Linear(2, 2), dark.ones(1, 2))
    if torch is not None:
        raises_like(lambda: dark.nn.parallel.data_parallel(dark.nn.Linear(2, 2), dark.ones(1, 2)),
                    lambda: torch.nn.parallel.data_parallel(torch.nn.Linear(2, 2),
                                                            torch.ones(1, 2)))


@NEEDS_CUDA
def test_data_parallel_on_one_gpu():
    net = _net(dark)
    dp = dark.nn.DataParallel(net)
    assert dp.device_ids[0] == 0 and dp.output_device == 0 and dp.dim == 0
    assert all(p.device == dark.device("cuda", 0) for p in net.parameters())
    x = dark.randn(5, 3)
    out = dp(x)  # a CPU input goes to the module's device
    assert out.device == dark.device("cuda", 0)
    assert dark.equal(out, net(x.cuda()))
    assert list(dp.state_dict())[0] == "module.0.weight"
    functional = dark.nn.parallel.data_parallel(net, x, output_device=-1)
    assert functional.device == dark.device("cpu")
    np.testing.assert_allclose(functional.numpy(), out.cpu().numpy(), rtol=1e-6)
    net.cpu()
    with pytest.raises(RuntimeError, match="module must have its parameters and buffers on "
                       "device cuda:0"):
        dp(x)
    with pytest.warns(UserWarning, match="runs on one device"):
        dark.nn.DataParallel(_net(dark), device_ids=[0, 0])
