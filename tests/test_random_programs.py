"""Programs with randomness give PyTorch's numbers (issue 15): after the same ``manual_seed``,
every ``nn.init`` function, every layer's default initialisation (the same draws in the same
order as torch), the samplers, ``random_split``, a shuffled DataLoader (its index order and the
base seed it draws for its workers), and whole training programs (a LeNet with dropout, an LSTM
with inter-layer dropout) built from dark's own initialisation match torch's values.

Parity tests compare with the installed torch (``requires_torch``); the literal tests run
without torch and, through ``LIBS``, also check that their literals are torch's."""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark


def _data(lib):
    return dark.data if lib is dark else torch.utils.data


def _run(fn):
    """fn(lib) after manual_seed(0) in torch and in dark, each with a draw after it (so that
    both streams are also left at the same place)."""
    out = []
    for lib in (torch, dark):
        lib.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(lib)
        out.append((result, lib.rand(3)))
    return out


def _arrays(values):
    if not isinstance(values, (list, tuple)):
        values = [values]
    return [np.asarray(v.detach().numpy() if hasattr(v, "detach") else v) for v in values]


def _assert_same(fn, atol=0.0):
    (t, t_after), (d, d_after) = _run(fn)
    t, d = _arrays(t), _arrays(d)
    assert len(t) == len(d)
    for i, (a, b) in enumerate(zip(t, d)):
        assert a.dtype == b.dtype and a.shape == b.shape, (i, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(b, a, rtol=0, atol=atol, err_msg=f"tensor {i}")
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())


# ---------------------------------------------------------------- nn.init

INIT_CASES = {
    "uniform_": lambda L: L.nn.init.uniform_(L.empty(5, 7), -2, 3),
    "uniform_float64": lambda L: L.nn.init.uniform_(L.empty(5, 7, dtype=L.float64)),
    "normal_": lambda L: L.nn.init.normal_(L.empty(5, 7), 1, 2),
    "normal_16_or_more": lambda L: L.nn.init.normal_(L.empty(50, 7), 1, 2),
    "trunc_normal_redraw": lambda L: L.nn.init.trunc_normal_(L.empty(50, 7), 0, 1, -1, 1.5),
    "trunc_normal_default": lambda L: L.nn.init.trunc_normal_(L.empty(300, 7)),
    "trunc_normal_tail": lambda L: L.nn.init.trunc_normal_(L.empty(50, 7), 0, 1, 2, 3),
    "trunc_normal_float64": lambda L: L.nn.init.trunc_normal_(
        L.empty(40, 3, dtype=L.float64), 0.5, 2, 0, 4),
    "trunc_normal_wide_3000": lambda L: L.nn.init.trunc_normal_(L.empty(3000), 0, 1, -0.7, 0.7),
    "trunc_normal_narrow_3000": lambda L: L.nn.init.trunc_normal_(
        L.empty(3000), 0.3, 0.5, 0.1, 0.2),
    "kaiming_uniform_float64": lambda L: L.nn.init.kaiming_uniform_(
        L.empty(4, 6, dtype=L.float64), 0.2),
    "xavier_uniform_": lambda L: L.nn.init.xavier_uniform_(L.empty(5, 7), 2.0),
    "xavier_normal_": lambda L: L.nn.init.xavier_normal_(L.empty(5, 7, 3)),
    "kaiming_uniform_": lambda L: L.nn.init.kaiming_uniform_(L.empty(5, 7, 3)),
    "kaiming_normal_": lambda L: L.nn.init.kaiming_normal_(
        L.empty(5, 7, 3), mode="fan_out", nonlinearity="relu"),
    "sparse_": lambda L: L.nn.init.sparse_(L.empty(10, 6), 0.3),
    "sparse_generator": lambda L: L.nn.init.sparse_(
        L.empty(7, 4), 0.5, 0.1, generator=L.Generator().manual_seed(3)),
    "eye_": lambda L: L.nn.init.eye_(L.empty(3, 5)),
    "dirac_": lambda L: L.nn.init.dirac_(L.empty(6, 4, 3, 3), 2),
    "generator_kw": lambda L: L.nn.init.normal_(
        L.empty(20), generator=L.Generator().manual_seed(11)),
}


@requires_torch
@pytest.mark.parametrize("name", list(INIT_CASES))
def test_init_matches_torch(name):
    _assert_same(INIT_CASES[name])


@requires_torch
@pytest.mark.parametrize("shape,gain", [((5, 7), 1), ((9, 4), 1), ((6, 2, 3, 3), 1.5),
                                        ((64, 64), 1), ((30, 20), 2)])
def test_orthogonal_matches_torch(shape, gain):
    # The normal matrix is torch's bit for bit; its float32 Householder QR runs in numpy's
    # LAPACK (OpenBLAS) against torch's own, whose different summation orders move Q by a few
    # ulps (measured: at most 1.2e-6 over these shapes, 64x64 the largest). A sign or column
    # mismatch would be an error of order 1, far outside 1e-5.
    _assert_same(lambda L: L.nn.init.orthogonal_(L.empty(*shape), gain), atol=1e-5)


@pytest.mark.parametrize("lib", LIBS)
def test_sparse_zero_pattern_literal(lib):
    # one randperm(rows) per column from the global stream, its first ceil(0.5 * 6) rows
    lib.manual_seed(0)
    filled = lib.nn.init.sparse_(lib.empty(6, 3), 0.5)
    assert (filled == 0).int().tolist() == [[1, 1, 0], [1, 0, 1], [0, 0, 0], [0, 0, 1],
                                            [1, 1, 0], [0, 1, 1]]


# ---------------------------------------------------------------- layers' default init

LAYERS = {
    "Linear": lambda L: L.nn.Linear(4, 3),
    "Linear_no_bias": lambda L: L.nn.Linear(4, 3, bias=False),
    "Bilinear": lambda L: L.nn.Bilinear(4, 3, 5),
    "Conv1d": lambda L: L.nn.Conv1d(4, 6, 3),
    "Conv2d_groups": lambda L: L.nn.Conv2d(4, 6, 3, groups=2),
    "Conv3d": lambda L: L.nn.Conv3d(2, 3, (2, 3, 2)),
    "ConvTranspose1d": lambda L: L.nn.ConvTranspose1d(4, 6, 3),
    "ConvTranspose2d_groups": lambda L: L.nn.ConvTranspose2d(4, 6, 3, groups=2),
    "ConvTranspose3d": lambda L: L.nn.ConvTranspose3d(4, 6, 3),
    "RNN_2layer_bidirectional": lambda L: L.nn.RNN(3, 5, 2, bidirectional=True),
    "LSTM_2layer_bidirectional": lambda L: L.nn.LSTM(3, 5, 2, bidirectional=True),
    "LSTM_proj_size": lambda L: L.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2),
    "GRU_3layer_no_bias": lambda L: L.nn.GRU(3, 5, 3, bias=False),
    "RNNCell": lambda L: L.nn.RNNCell(3, 5),
    "LSTMCell": lambda L: L.nn.LSTMCell(3, 5),
    "GRUCell": lambda L: L.nn.GRUCell(3, 5),
    "Embedding": lambda L: L.nn.Embedding(10, 4),
    "Embedding_padding_idx": lambda L: L.nn.Embedding(10, 4, padding_idx=2),
    "EmbeddingBag": lambda L: L.nn.EmbeddingBag(10, 4),
    "MultiheadAttention": lambda L: L.nn.MultiheadAttention(8, 2),
    "MultiheadAttention_bias_kv_kdim_vdim": lambda L: L.nn.MultiheadAttention(
        8, 2, add_bias_kv=True, kdim=5, vdim=3),
    "BatchNorm2d": lambda L: L.nn.BatchNorm2d(4),
    "LayerNorm": lambda L: L.nn.LayerNorm(4),
    "GroupNorm": lambda L: L.nn.GroupNorm(2, 4),
    "InstanceNorm2d_affine": lambda L: L.nn.InstanceNorm2d(4, affine=True),
    "PReLU": lambda L: L.nn.PReLU(3),
    "RMSNorm": lambda L: L.nn.RMSNorm(4),
    "BatchNorm1d": lambda L: L.nn.BatchNorm1d(4),
    "RNN_relu_batch_first": lambda L: L.nn.RNN(3, 4, nonlinearity="relu", batch_first=True),
    "Sequential_of_layers": lambda L: L.nn.Sequential(
        L.nn.Conv2d(1, 2, 3), L.nn.Linear(5, 4), L.nn.LSTM(4, 3), L.nn.Embedding(3, 2)),
}


@requires_torch
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_default_init_matches_torch(name):
    def build(lib):
        module = LAYERS[name](lib)
        return [p for _, p in module.named_parameters()] + list(module.buffers())
    _assert_same(build)


@requires_torch
@pytest.mark.parametrize("name", ["LSTM_proj_size", "MultiheadAttention_bias_kv_kdim_vdim"])
def test_layer_parameter_names_in_torch_order(name):
    names = [[n for n, _ in LAYERS[name](lib).named_parameters()] for lib in (torch, dark)]
    assert names[1] == names[0]


@pytest.mark.parametrize("lib", LIBS)
def test_linear_default_init_literal(lib):
    lib.manual_seed(1)
    layer = lib.nn.Linear(4, 3)
    np.testing.assert_array_equal(layer.weight.detach().numpy(), np.array([
        [0.2576315999031067, -0.22068911790847778, -0.09693074226379395, 0.23468446731567383],
        [-0.4707184433937073, 0.29985862970352173, -0.1028626561164856, 0.2543719410896301],
        [0.06950849294662476, -0.061222076416015625, 0.13868045806884766,
         0.024665892124176025]], dtype=np.float32))
    np.testing.assert_array_equal(layer.bias.detach().numpy(), np.array(
        [0.18261408805847168, -0.19485050439834595, -0.03645437955856323], dtype=np.float32))


# ---------------------------------------------------------------- samplers and loaders

def _epochs(sampler, n=3):
    return [list(sampler) for _ in range(n)]


SAMPLERS = {
    "RandomSampler": lambda L, D: _epochs(D.RandomSampler(range(10))),
    "RandomSampler_replacement": lambda L, D: _epochs(
        D.RandomSampler(range(10), replacement=True, num_samples=70)),
    "RandomSampler_num_samples_over_length": lambda L, D: _epochs(
        D.RandomSampler(range(10), num_samples=23)),
    "RandomSampler_generator": lambda L, D: _epochs(
        D.RandomSampler(range(10), generator=L.Generator().manual_seed(5))),
    "RandomSampler_replacement_generator": lambda L, D: _epochs(D.RandomSampler(
        range(7), replacement=True, num_samples=40, generator=L.Generator().manual_seed(2))),
    "SubsetRandomSampler": lambda L, D: _epochs(D.SubsetRandomSampler([3, 5, 7, 9, 11])),
    "SubsetRandomSampler_generator": lambda L, D: _epochs(
        D.SubsetRandomSampler([3, 5, 7, 9, 11], generator=L.Generator().manual_seed(3))),
    "WeightedRandomSampler_replacement": lambda L, D: _epochs(
        D.WeightedRandomSampler([0.1, 0.5, 2, 1, 0.3], 12)),
    "WeightedRandomSampler_no_replacement": lambda L, D: _epochs(
        D.WeightedRandomSampler([0.1, 0.5, 2, 1, 0.3], 4, replacement=False)),
    "WeightedRandomSampler_generator": lambda L, D: _epochs(D.WeightedRandomSampler(
        [3, 1, 0, 2, 5, 1], 9, generator=L.Generator().manual_seed(4))),
    "random_split": lambda L, D: [s.indices for s in D.random_split(range(10), [3, 7])],
    "random_split_fractions": lambda L, D: [
        s.indices for s in D.random_split(range(11), [0.3, 0.7])],
    "random_split_generator": lambda L, D: [s.indices for s in D.random_split(
        range(10), [3, 7], generator=L.Generator().manual_seed(42))],
}


@requires_torch
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_matches_torch(name):
    (t, t_after), (d, d_after) = _run(lambda L: SAMPLERS[name](L, _data(L)))
    assert d == t
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())


def _train_losses(model, loader, optimizer, loss_fn, steps):
    """The loss of each of ``steps`` SGD steps over the loader's (reshuffled) epochs, in the
    tutorials' order: forward, backward, step, zero_grad."""
    losses = []
    while len(losses) < steps:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return losses


def _shuffled_epochs(L, generator=None):
    D = _data(L)
    loader = D.DataLoader(D.TensorDataset(L.arange(10)), batch_size=4, shuffle=True,
                          generator=generator)
    out = []
    for _ in range(3):
        iterator = iter(loader)
        out.append(([batch[0].tolist() for batch in iterator], iterator._base_seed))
    return out


@requires_torch
@pytest.mark.parametrize("seeded", [False, True], ids=["default_generator", "generator"])
def test_dataloader_shuffle_and_base_seed_match_torch(seeded):
    (t, t_after), (d, d_after) = _run(
        lambda L: _shuffled_epochs(L, L.Generator().manual_seed(7) if seeded else None))
    assert d == t
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())


@pytest.mark.parametrize("lib", LIBS)
def test_dataloader_shuffle_literal(lib):
    lib.manual_seed(0)
    assert _shuffled_epochs(lib)[:2] == [
        ([[6, 7, 1, 4], [2, 0, 9, 8], [3, 5]], 900450186894289455),
        ([[2, 4, 7, 0], [8, 9, 5, 3], [6, 1]], 1895649597198586619)]
    lib.manual_seed(0)
    assert [s.indices for s in _data(lib).random_split(range(10), [3, 7])] == [
        [4, 1, 7], [5, 3, 9, 0, 8, 6, 2]]


class _WorkerSeeds:
    """Each item: the worker's seed, its id, and the initial seed of its default generator."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 4

    def __getitem__(self, index):
        info = _data(self.lib).get_worker_info()
        return self.lib.tensor([info.seed, info.id, self.lib.initial_seed()])


@requires_torch
def test_worker_seeds_match_torch():
    # each worker is seeded base_seed + worker_id, base_seed drawn as torch's loader draws it
    (t, t_after), (d, d_after) = _run(lambda L: [batch.tolist() for batch in _data(L).DataLoader(
        _WorkerSeeds(L), batch_size=1, num_workers=2)])
    assert d == t
    assert [row[0][0] - row[0][1] for row in d] == [d[0][0][0]] * 4
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())


class _WorkerDraws:
    """Each item: what python's, numpy's and the library's generators draw in the worker."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 6

    def __getitem__(self, index):
        lib = self.lib
        return lib.tensor([random.random(), float(np.random.rand()), lib.rand(1).item(),
                           float(lib.randint(0, 1000, (1,)).item())], dtype=lib.float64)


@requires_torch
@pytest.mark.parametrize("persistent", [False, True], ids=["fresh_workers", "persistent"])
def test_worker_random_draws_match_torch(persistent):
    # python's random, numpy's global RandomState and the default generator in each worker
    def epochs(L):
        loader = _data(L).DataLoader(_WorkerDraws(L), batch_size=2, num_workers=2,
                                     shuffle=True, persistent_workers=persistent)
        return [[batch.tolist() for batch in loader] for _ in range(3)]

    (t, t_after), (d, d_after) = _run(epochs)
    assert d == t
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())


# ---------------------------------------------------------------- whole programs

def _lenet_losses(L, steps=20):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.drop = nn.Dropout(0.25)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = self.drop(L.flatten(x, 1))
            x = self.drop(F.relu(self.fc1(x)))
            return self.fc3(F.relu(self.fc2(x)))

    model = LeNet()
    rng = np.random.default_rng(0)
    images = L.tensor(rng.standard_normal((96, 1, 28, 28)).astype(np.float32))
    labels = L.tensor(rng.integers(0, 10, 96))
    D = _data(L)
    loader = D.DataLoader(D.TensorDataset(images, labels), batch_size=16, shuffle=True)
    optimizer = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return _train_losses(model, loader, optimizer, F.cross_entropy, steps)


def _lstm_losses(L, steps=20):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, dropout=0.2)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(16, 5)

        def forward(self, x):
            out, _ = self.lstm(self.embedding(x))
            return self.head(self.drop(out[:, -1]))

    model = Tagger()
    rng = np.random.default_rng(1)
    tokens = L.tensor(rng.integers(0, 20, (64, 7)))
    labels = L.tensor(rng.integers(0, 5, 64))
    D = _data(L)
    loader = D.DataLoader(D.TensorDataset(tokens, labels), batch_size=8, shuffle=True)
    optimizer = L.optim.Adam(model.parameters(), lr=0.01)
    return _train_losses(model, loader, optimizer, F.cross_entropy, steps)


@requires_torch
@pytest.mark.parametrize("program", [_lenet_losses, _lstm_losses], ids=["lenet", "lstm"])
def test_training_program_matches_torch_step_by_step(program):
    # 20 steps over 2+ shuffled epochs; measured max difference 2.4e-7 (float32 BLAS order)
    expected = program(torch)
    got = program(dark)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("lib", LIBS)
def test_lenet_first_losses_literal(lib):
    np.testing.assert_allclose(_lenet_losses(lib, steps=4),
                               [2.3319008, 2.3167832, 2.3003790, 2.3200130], rtol=0, atol=1e-5)


def _quickstart_losses(L, images, labels, steps=20):
    """PyTorch's quickstart network (with a dropout added) on real FashionMNIST images, shuffled."""
    nn = L.nn
    L.manual_seed(0)

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Dropout(0.2),
                nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    model = NeuralNetwork()
    D = _data(L)
    dataset = D.TensorDataset(L.tensor(images).float().div(255).unsqueeze(1), L.tensor(labels))
    loader = D.DataLoader(dataset, batch_size=64, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = L.optim.SGD(model.parameters(), lr=0.1)
    return _train_losses(model, loader, optimizer, loss_fn, steps)


@requires_torch
def test_quickstart_fashion_mnist_matches_torch(data_root):
    # 640 test-split images, batches of 64: 20 steps are two shuffled epochs
    test_split = dark.data.datasets.FashionMNIST(data_root, train=False)
    images, labels = test_split.data.numpy()[:640], test_split.targets.numpy()[:640]
    expected = _quickstart_losses(torch, images, labels)
    got = _quickstart_losses(dark, images, labels)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rrelu_training_noise_matches_torch(dtype):
    # one float64 uniform per element <= 0 (zeros included, NaN not), in C order, bounds and
    # slope in the op's math type; backward is the saved slope
    base = np.concatenate([np.random.default_rng(0).standard_normal(60), [0.0, -0.0, np.nan]])

    def program(L):
        x = L.tensor(base.astype(dtype)).requires_grad_()
        y = L.nn.functional.rrelu(x, 0.1, 0.7, training=True)
        y.sum().backward()
        module = L.nn.RReLU()
        strided = module(L.tensor(base.astype(dtype)).reshape(7, 9)[:, ::2])
        inplace = L.tensor(base.astype(dtype))
        L.nn.functional.rrelu_(inplace, training=True)
        return [y, x.grad, strided, inplace]

    (t, t_after), (d, d_after) = _run(program)
    for a, b in zip(_arrays(t), _arrays(d)):
        np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(d_after.numpy(), t_after.numpy())
