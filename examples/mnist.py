"""Train an MLP or a CNN on MNIST with dark, written as pytorch/examples' mnist/main.py
(replace `dark` by `torch` and `dark.data` by `torchvision` and it is a PyTorch program).

    python examples/mnist.py                  # CNN, reaches >= 99% test accuracy
    python examples/mnist.py --model mlp      # MLP 784-512-256-10, >= 98%
    python examples/mnist.py --limit 2000 --epochs 1   # a quick run on a slice

The MNIST files are read from --data-root (default: $DARK_DATA when set, else ./data, the
folder PyTorch's quickstart tutorial uses), in torchvision's layout DIR/MNIST/raw/. When they
are missing they are downloaded there (11 MB, MD5-checked); --no-download forbids that.

Each epoch shows a progress bar with the running loss and accuracy, then the test loss and
accuracy and the wall time; a checkpoint (model, optimizer, epoch) is written after each
epoch, and at the end a PNG of the training curves and of misclassified test digits.
--tensorboard DIR also logs them for TensorBoard (`tensorboard --logdir DIR`)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import sys
import time

from tqdm import tqdm

import dark
import dark.nn as nn
import dark.nn.functional as F
import dark.optim as optim
from dark.data import datasets, transforms
from dark.optim.lr_scheduler import StepLR
from dark.utils.data import DataLoader, Subset

# Measured on 2 CPU cores (see README): the settings that reach the targets quickly.
DEFAULTS = {
    "mlp": {"epochs": 5, "lr": 1e-3, "optimizer": "adam"},
    "cnn": {"epochs": 3, "lr": 1e-3, "optimizer": "adam"},
    "net": {"epochs": 2, "lr": 1.0, "optimizer": "adadelta"},
}


class MLP(nn.Module):
    """784-512-256-10 with ReLU and dropout; input (N, 1, 28, 28), output logits (N, 10)."""

    def __init__(self, dropout: float = 0.2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(256, 10))

    def forward(self, x):
        return self.layers(self.flatten(x))


class CNN(nn.Module):
    """LeNet-like: two 5x5 conv + 2x2 max-pool stages, then 1568-128-10; about seven times
    cheaper than pytorch/examples' Net (`--model net`) on a CPU, and as accurate on MNIST."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = dark.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


class Net(nn.Module):
    """pytorch/examples' MNIST Net: conv 32, conv 64, max-pool, dropout, 9216-128-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = dark.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


MODELS = {"mlp": MLP, "cnn": CNN, "net": Net}


def default_data_root() -> str:
    """$DARK_DATA when set, else ./data (the root of PyTorch's quickstart tutorial)."""
    return os.environ.get("DARK_DATA") or "data"


def data_error_message(root: str, error: RuntimeError) -> str:
    """What to tell the user when the MNIST files cannot be read: the folder(s) looked in,
    how to point the example at files elsewhere, and the URLs to fetch them by hand."""
    text = str(error)
    if not text.startswith(("Error downloading", "Dataset not found")):
        return f"mnist.py: {text}"  # a file that is there but corrupt: the message names it
    folder = os.path.abspath(os.path.join(os.path.expanduser(root), "MNIST", "raw"))
    places = [folder]
    if os.environ.get("DARK_DATA"):
        shared = os.path.abspath(os.path.join(
            os.path.expanduser(os.environ["DARK_DATA"]), "MNIST", "raw"))
        places += [f"{shared} (DARK_DATA)"] if shared != folder else []
    head = f"mnist.py: the MNIST files are not in {' nor in '.join(places)}"
    if text.startswith("Error downloading"):
        head += f" and downloading them failed (no network?):\n{text}"
    else:
        head += " and --no-download forbids downloading them."
    urls = "\n".join(f"  {datasets.MNIST.mirrors[0]}{name}"
                     for name, _ in datasets.MNIST.resources)
    return (f"{head}\nPoint --data-root DIR (or the DARK_DATA environment variable) at a "
            f"folder that holds MNIST/raw/, or download these four files by hand into "
            f"{folder}:\n{urls}")


def train(model, device, loader, optimizer, epoch: int, writer=None) -> tuple:
    """One epoch; returns the mean training loss and accuracy (%). With a TensorBoard
    ``writer``, logs the loss of every 10th batch under train/batch_loss."""
    model.train()
    criterion = nn.CrossEntropyLoss()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=f"Epoch {epoch}", unit="batch", dynamic_ncols=True)
    for batch, (data, target) in enumerate(bar):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(target)
        correct += (output.argmax(1) == target).sum().item()
        seen += len(target)
        if writer is not None and batch % 10 == 0:
            writer.add_scalar("train/batch_loss", loss.item(), (epoch - 1) * len(loader) + batch)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{100 * correct / seen:.2f}%",
                        refresh=False)
    return total_loss / seen, 100 * correct / seen


def test(model, device, loader) -> tuple:
    """Mean test loss, accuracy (%) and up to 64 misclassified (image, prediction, target)."""
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct, wrong = 0.0, 0, []
    with dark.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            total_loss += criterion(output, target).item()
            pred = output.argmax(1)
            correct += (pred == target).sum().item()
            if len(wrong) < 64:
                missed = (pred != target).nonzero().flatten().tolist()[:64 - len(wrong)]
                wrong += [(data[i].cpu(), pred[i].item(), target[i].item()) for i in missed]
    size = len(loader.dataset)
    print(f"\nTest set: Average loss: {total_loss / size:.4f}, "
          f"Accuracy: {correct}/{size} ({100 * correct / size:.2f}%)\n")
    return total_loss / size, 100 * correct / size, wrong


def log_epoch(writer, epoch: int, model, optimizer, metrics: tuple, wrong: list) -> None:
    """One epoch's TensorBoard record: losses and accuracies, the learning rate, a grid of
    the misclassified test digits (un-normalised to [0, 1]) and every parameter's
    histogram."""
    train_loss, train_acc, test_loss, test_acc = metrics
    writer.add_scalars("loss", {"train": train_loss, "test": test_loss}, epoch)
    writer.add_scalar("accuracy/train", train_acc, epoch)
    writer.add_scalar("accuracy/test", test_acc, epoch)
    writer.add_scalar("learning_rate", optimizer.param_groups[0]["lr"], epoch)
    if wrong:
        images = dark.stack([image for image, _, _ in wrong]) * 0.3081 + 0.1307
        writer.add_images("test/misclassified", images.clamp(0, 1), epoch)
        writer.add_text("test/misclassified_labels", ", ".join(
            f"{target}->{pred}" for _, pred, target in wrong), epoch)
    for name, parameter in model.named_parameters():
        writer.add_histogram(f"weights/{name}", parameter.detach(), epoch)
    writer.flush()


def plot(history: dict, wrong: list, path: str) -> None:
    """The loss and accuracy curves and a grid of misclassified digits in one PNG (matplotlib),
    or, without matplotlib, the digit grid alone via dark.data.utils.save_image."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        grid_path = str(pathlib.Path(path).with_suffix("")) + "_misclassified.png"
        print(f"matplotlib is not installed (pip install matplotlib): no training curves; "
              f"{len(wrong)} misclassified test digits saved to {grid_path}")
        if wrong:
            images = dark.stack([image for image, _, _ in wrong]) * 0.3081 + 0.1307
            dark.data.utils.save_image(images, grid_path, nrow=8, padding=2, pad_value=1.0)
        return
    epochs = range(1, len(history["train_loss"]) + 1)
    figure = plt.figure(figsize=(14, 4.5), layout="constrained")
    grid = figure.add_gridspec(1, 3)
    for column, key, label in ((0, "loss", "loss"), (1, "acc", "accuracy (%)")):
        axes = figure.add_subplot(grid[0, column])
        axes.plot(epochs, history[f"train_{key}"], "o-", label="train")
        axes.plot(epochs, history[f"test_{key}"], "s-", label="test")
        axes.set_xticks(list(epochs))
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.legend()
        axes.grid(alpha=0.3)
    shown = wrong[:36]
    digits = grid[0, 2].subgridspec(6, 6)
    for index, (image, pred, target) in enumerate(shown):
        axes = figure.add_subplot(digits[index // 6, index % 6])
        axes.imshow(image[0].numpy(), cmap="gray")
        axes.set_title(f"{pred} ({target})", fontsize=8, color="red")
        axes.axis("off")
    figure.suptitle("training curves; misclassified test digits: predicted (true)")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print(f"training curves and misclassified digits saved to {path}")


def make_optimizer(name: str, parameters, lr: float, momentum: float):
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum)
    return {"adam": optim.Adam, "adamw": optim.AdamW, "adadelta": optim.Adadelta}[name](
        parameters, lr=lr)


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Rejects (parser.error: usage and exit status 2) values that would make the run fail
    late or silently do something else, before any data is read."""
    for name, value, least in (("--epochs", args.epochs, 1), ("--limit", args.limit, 1),
                               ("--batch-size", args.batch_size, 1),
                               ("--test-batch-size", args.test_batch_size, 1),
                               ("--num-workers", args.num_workers, 0)):
        if value is not None and value < least:
            parser.error(f"{name} must be >= {least}, got {value}")
    for name, value in (("--lr", args.lr), ("--gamma", args.gamma)):
        if value is not None and not value > 0:
            parser.error(f"{name} must be > 0, got {value:g}")
    if not args.momentum >= 0:
        parser.error(f"--momentum must be >= 0, got {args.momentum:g}")
    for name, path in (("--save", args.save), ("--plot", args.plot)):
        if not path:
            continue
        if os.path.isdir(path):
            parser.error(f"{name} {path}: is a directory; give a file name")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            parser.error(f"{name} {path}: the directory {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            parser.error(f"{name} {path}: the directory {folder} is not writable")
    root = os.path.expanduser(args.data_root)
    if os.path.exists(root) and not os.path.isdir(root):
        parser.error(f"--data-root {args.data_root}: not a directory")
    if args.tensorboard:
        if os.path.exists(args.tensorboard) and not os.path.isdir(args.tensorboard):
            parser.error(f"--tensorboard {args.tensorboard}: not a directory")
        if importlib.util.find_spec("tensorboard") is None:
            parser.error("--tensorboard needs the tensorboard package: "
                         "pip install -e '.[tensorboard]'")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="dark MNIST example")
    parser.add_argument("--model", choices=MODELS, default="cnn",
                        help="mlp, cnn (LeNet-like, default) or net (pytorch/examples' Net)")
    parser.add_argument("--epochs", type=int, help="default: 5 (mlp), 3 (cnn), 2 (net)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "adadelta"),
                        help="default: adam (adadelta for net)")
    parser.add_argument("--lr", type=float, help="default: 1e-3 (adam), 1.0 (adadelta)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--gamma", type=float, default=0.7,
                        help="StepLR: learning-rate factor per epoch (1 keeps it constant)")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        help="default: cuda when available, else cpu")
    parser.add_argument("--data-root", default=default_data_root(), metavar="DIR",
                        help="folder holding MNIST/raw/ (torchvision's layout); default: "
                             "$DARK_DATA when set, else ./data. Missing files are downloaded "
                             "there")
    parser.add_argument("--no-download", dest="download", action="store_false",
                        help="never download: fail with a message when the files are missing")
    parser.add_argument("--save", help="checkpoint path (default: mnist_<model>.pt)")
    parser.add_argument("--plot", default="training_curves.png",
                        help="PNG of the curves and misclassified digits ('' for none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int,
                        help="use only the first N training and N//6 test samples")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--tensorboard", metavar="DIR",
                        help="log loss, accuracy, learning rate, misclassified digits and "
                             "weight histograms to DIR for TensorBoard (needs the tensorboard "
                             "package: pip install -e '.[tensorboard]')")
    args = parser.parse_args(argv)
    defaults = DEFAULTS[args.model]
    if args.optimizer is None:
        args.optimizer = defaults["optimizer"]
    if args.lr is None:
        args.lr = defaults["lr"] if args.optimizer == defaults["optimizer"] else {
            "sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "adadelta": 1.0}[args.optimizer]
    if args.epochs is None:
        args.epochs = defaults["epochs"]
    args.save = args.save or f"mnist_{args.model}.pt"
    check_args(parser, args)
    if args.device is None:
        args.device = "cuda" if dark.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not dark.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here (dark needs CuPy and an "
                     "NVIDIA GPU; pip install -e '.[cuda12]'); use --device cpu")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    dark.manual_seed(args.seed)
    device = dark.device(args.device)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    try:
        train_set = datasets.MNIST(args.data_root, train=True, transform=transform,
                                   download=args.download)
        test_set = datasets.MNIST(args.data_root, train=False, transform=transform,
                                  download=args.download)
    except RuntimeError as error:
        sys.exit(data_error_message(args.data_root, error))
    if args.limit:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
        test_set = Subset(test_set, range(min(max(1, args.limit // 6), len(test_set))))
    loader_options = {"num_workers": args.num_workers, "pin_memory": args.device == "cuda"}
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              **loader_options)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, **loader_options)

    model = MODELS[args.model]().to(device)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    print(f"{args.model} on {args.device}: {sum(p.numel() for p in model.parameters()):,} "
          f"parameters, {args.optimizer} lr={args.lr:g}, {len(train_set)} training / "
          f"{len(test_set)} test samples, batch {args.batch_size}, {args.epochs} epoch(s)")

    writer = None
    if args.tensorboard:
        from dark.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tensorboard)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_loss, train_acc = train(model, device, train_loader, optimizer, epoch, writer)
        train_seconds = time.perf_counter() - start
        test_loss, test_acc, wrong = test(model, device, test_loader)
        if writer is not None:
            log_epoch(writer, epoch, model, optimizer, (train_loss, train_acc, test_loss,
                                                        test_acc), wrong)
        scheduler.step()
        for key, value in zip(history, (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(value)
        dark.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "epoch": epoch}, args.save)
        print(f"Epoch {epoch}: {train_seconds:.1f} s training, "
              f"{time.perf_counter() - start - train_seconds:.1f} s testing; "
              f"checkpoint saved to {args.save}")
    if writer is not None:
        writer.close()
        print(f"TensorBoard logs written to {args.tensorboard} "
              f"(tensorboard --logdir {args.tensorboard})")
    if args.plot:
        plot(history, wrong, args.plot)
    print(f"Final test accuracy: {history['test_acc'][-1]:.2f}%")


if __name__ == "__main__":
    main()
