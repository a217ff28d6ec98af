"""Functions the processes of tests/test_multiprocessing.py run: defined at the top level of a
module that imports only dark, so that spawned children unpickle them quickly."""
import os
import sys

import dark


def write_rank(i, folder, scale):
    """Each process writes a tensor of its index, scaled, to its own file."""
    dark.save(dark.full((2,), float(i) * scale), os.path.join(folder, f"{i}.pt"))


def fail_on_one(i):
    if i == 1:
        raise ValueError(f"process {i} says no")


def exit_with(i, code):
    sys.exit(code)


def kill_self(i):
    os.kill(os.getpid(), 9)


def echo_tensors(inbox, outbox):
    """Read tensors from ``inbox``, send back each doubled (detached: a non-leaf that requires
    grad does not cross processes), until None."""
    while True:
        item = inbox.get()
        if item is None:
            return
        outbox.put((item * 2).detach())


def add_in_place(tensor, amount):
    with dark.no_grad():
        tensor.add_(amount)


def sgd_steps(i, model, steps):
    """``steps`` SGD steps of ``model`` (shared with the parent) on fixed data."""
    sgd_train(model, steps)


def sgd_train(model, steps):
    optimizer = dark.optim.SGD(model.parameters(), lr=0.1)
    x = dark.linspace(-1.0, 1.0, 12).view(4, 3)
    y = dark.tensor([0, 1, 1, 0])
    for _ in range(steps):
        optimizer.zero_grad()
        dark.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def write_through_queue(inbox, done):
    """Take a tensor from ``inbox``, write 7 into its first element, say so on ``done``."""
    tensor = inbox.get()
    tensor[0] = 7.0
    done.put(tensor.is_shared())
