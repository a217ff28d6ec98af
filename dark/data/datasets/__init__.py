"""dark.data.datasets: torchvision.datasets' image data sets (MNIST, FashionMNIST, KMNIST,
EMNIST, QMNIST, CIFAR10, CIFAR100, SVHN, STL10, FakeData, DatasetFolder, ImageFolder) on the
VisionDataset base."""
from . import utils  # noqa: F401
from .cifar import CIFAR10, CIFAR100
from .emnist import EMNIST, QMNIST
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, KMNIST, FashionMNIST
from .stl10 import STL10
from .svhn import SVHN
from .vision import VisionDataset

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "CIFAR10",
           "CIFAR100", "SVHN", "STL10", "FakeData", "DatasetFolder", "ImageFolder"]
