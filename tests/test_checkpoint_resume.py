"""A model + optimizer checkpoint round-trips through dark.save / dark.load and training
continues with exactly the losses of an uninterrupted run (issue 4's acceptance)."""
import numpy as np
import pytest

import dark


def _model():
    return dark.nn.Sequential(dark.nn.Linear(6, 16), dark.nn.ReLU(), dark.nn.Dropout(0.0),
                              dark.nn.Linear(16, 3))


def _step(model, optimizer, scheduler, inputs, targets):
    optimizer.zero_grad()
    loss = dark.nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_training_resumes_with_the_same_losses(tmp_path, optimizer_name):
    rng = np.random.default_rng(0)
    batches = [(dark.tensor(rng.standard_normal((8, 6)), dtype=dark.float32),
                dark.tensor(rng.integers(0, 3, 8))) for _ in range(12)]
    options = {"lr": 0.05, "momentum": 0.9} if optimizer_name in ("SGD", "RMSprop") \
        else {"lr": 0.01}

    def build(seed):
        dark.manual_seed(seed)
        model = _model()
        optimizer = getattr(dark.optim, optimizer_name)(model.parameters(), **options)
        scheduler = dark.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        return model, optimizer, scheduler

    model, optimizer, scheduler = build(0)
    uninterrupted = [_step(model, optimizer, scheduler, *batch) for batch in batches]

    model, optimizer, scheduler = build(0)
    first_half = [_step(model, optimizer, scheduler, *batch) for batch in batches[:6]]
    path = tmp_path / "checkpoint.pt"
    dark.save({"epoch": 6, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
               "scheduler": scheduler.state_dict()}, path)

    resumed_model, resumed_optimizer, resumed_scheduler = build(1)  # other initial weights
    checkpoint = dark.load(path)
    resumed_model.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["epoch"] == 6
    second_half = [_step(resumed_model, resumed_optimizer, resumed_scheduler, *batch)
                   for batch in batches[6:]]
    assert first_half + second_half == uninterrupted
