"""PyTorch's quickstart tutorial (Fashion-MNIST) ported to dark: only the imports differ.

    python examples/fashion_mnist.py [--epochs 5] [--limit N] [--data-root DIR] [--save PATH]

Trains a 784-512-512-10 network with SGD (lr 1e-3) and prints the tutorial's output: the
batch shapes, the model, the loss every 100 batches and the test accuracy per epoch; then
saves the weights, loads them into a new model and predicts the first test image."""
import argparse
import os
import sys

import dark
from dark import nn
from dark.data import datasets
from dark.data.transforms import ToTensor
from dark.utils.data import DataLoader, Subset

classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer, device):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        # Compute prediction error
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn, device):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with dark.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(dark.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int,
                        help="use only the first N training and N//6 test samples")
    parser.add_argument("--data-root", default=os.environ.get("DARK_DATA") or "data",
                        metavar="DIR",
                        help="folder holding FashionMNIST/raw/; default: $DARK_DATA when set, "
                             "else ./data. Missing files are downloaded there")
    parser.add_argument("--save", default="model.pth")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be >= 1, got {args.limit}")

    # Download training data from open datasets (a no-op when the files are there).
    try:
        training_data = datasets.FashionMNIST(root=args.data_root, train=True, download=True,
                                              transform=ToTensor())
        test_data = datasets.FashionMNIST(root=args.data_root, train=False, download=True,
                                          transform=ToTensor())
    except RuntimeError as error:
        folder = os.path.abspath(os.path.join(args.data_root, "FashionMNIST", "raw"))
        sys.exit(f"fashion_mnist.py: {error}\nThe files were looked for in {folder}; point "
                 "--data-root DIR (or the DARK_DATA environment variable) at a folder that "
                 "holds FashionMNIST/raw/.")
    if args.limit:
        training_data = Subset(training_data, range(args.limit))
        test_data = Subset(test_data, range(max(1, args.limit // 6)))

    batch_size = 64

    # Create data loaders.
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = "cuda" if dark.cuda.is_available() else "cpu"
    print(f"Using {device} device")

    model = NeuralNetwork().to(device)
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = dark.optim.SGD(model.parameters(), lr=1e-3)

    for t in range(args.epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer, device)
        test(test_dataloader, model, loss_fn, device)
    print("Done!")

    dark.save(model.state_dict(), args.save)
    print(f"Saved Model State to {args.save}")

    model = NeuralNetwork().to(device)
    model.load_state_dict(dark.load(args.save, weights_only=True))

    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with dark.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')


if __name__ == "__main__":
    main()
