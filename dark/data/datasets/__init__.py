"""dark.data.datasets: torchvision.datasets' image data sets (MNIST, FashionMNIST, KMNIST,
CIFAR10, CIFAR100) on the VisionDataset base."""
from .cifar import CIFAR10, CIFAR100
from .mnist import MNIST, KMNIST, FashionMNIST
from .vision import VisionDataset

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100"]
