"""The acceptance program of dark.distributions: pytorch/examples' VAE (vae/main.py) made
tiny (784-64-8), its reparameterisation written with ``distributions.Normal(mu, std).rsample()``
and its KL term with ``kl_divergence(q, Normal(0, 1))``, trained on a slice of MNIST for 20
Adam steps. Written once for ``lib`` (dark or torch): from ``manual_seed(0)`` both build the
same initial weights and draw the same rsample noise (dark's CPU generator is torch's), so
the losses agree with torch's to 1e-4 (relative)."""
from __future__ import annotations

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

STEPS, BATCH = 20, 32


def _images(data_root):
    from dark.data.datasets import MNIST
    data = MNIST(data_root, train=True, download=False)
    return data.data[:STEPS * BATCH].numpy().reshape(-1, 784).astype(np.float32) / 255.0


def _vae_losses(lib, images):
    nn, F = lib.nn, lib.nn.functional
    Normal, kl_divergence = lib.distributions.Normal, lib.distributions.kl_divergence

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 64)
            self.fc21 = nn.Linear(64, 8)
            self.fc22 = nn.Linear(64, 8)
            self.fc3 = nn.Linear(8, 64)
            self.fc4 = nn.Linear(64, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def decode(self, z):
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            q = Normal(mu, lib.exp(0.5 * logvar))
            z = q.rsample()
            return self.decode(z), q

    lib.manual_seed(0)
    model = VAE()
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    prior = Normal(lib.zeros(8), lib.ones(8))
    losses = []
    model.train()
    for step in range(STEPS):
        data = lib.tensor(images[step * BATCH:(step + 1) * BATCH])
        optimizer.zero_grad()
        recon, q = model(data)
        bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
        kld = kl_divergence(q, prior).sum()
        loss = bce + kld
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data))
    return initial, np.array(losses)


def test_vae_trains(data_root):
    images = _images(data_root)
    _, losses = _vae_losses(dark, images)
    assert np.all(np.isfinite(losses))
    assert losses[-5:].mean() < losses[:5].mean() - 50  # it learns: about 549 -> 426 nats per image


@requires_torch
def test_vae_losses_equal_torch(data_root):
    images = _images(data_root)
    mine_init, mine = _vae_losses(dark, images)
    theirs_init, theirs = _vae_losses(torch, images)
    assert mine_init.keys() == theirs_init.keys()
    for key in mine_init:
        np.testing.assert_array_equal(mine_init[key], theirs_init[key], err_msg=key)
    np.testing.assert_allclose(mine, theirs, rtol=1e-4)
    print("dark", mine[[0, -1]], "torch", theirs[[0, -1]],
          "max rel diff", np.max(np.abs(mine - theirs) / np.abs(theirs)))


def test_vae_reparameterisation_is_rsample():
    # rsample is loc + eps * scale with eps = empty().normal_(): the same noise as
    # pytorch/examples' randn_like(std) after the same seed
    mu = dark.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    std = dark.tensor([[1.0, 0.5], [0.1, 2.0]], requires_grad=True)
    dark.manual_seed(1)
    z = dark.distributions.Normal(mu, std).rsample()
    dark.manual_seed(1)
    eps = dark.randn_like(std)
    np.testing.assert_array_equal(z.detach().numpy(), (mu + eps * std).detach().numpy())
    z.sum().backward()
    np.testing.assert_array_equal(std.grad.numpy(), eps.numpy())
    with pytest.raises(RuntimeError):
        dark.distributions.Normal(mu, std).sample().sum().backward()
