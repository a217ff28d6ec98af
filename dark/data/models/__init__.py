"""dark.data.models: torchvision.models' classification networks, so ``torchvision.models``
ports as ``dark.data.models``.

Each network has torchvision's module names and structure (its state_dict keys, order and
shapes are torchvision's, so torchvision's weight files load with ``dark.load`` and
``load_state_dict``) and torchvision's initialisation (after ``dark.manual_seed(s)`` a
network's weights equal torchvision's after ``torch.manual_seed(s)``, bit for bit on CPU).
The builders take ``weights=None`` (random initialisation), a ``<Model>_Weights`` member or
its name (``"DEFAULT"``: the file is downloaded from torchvision's URL through
``dark.hub.load_state_dict_from_url`` into the hub cache; without a network that raises a
RuntimeError saying so), the deprecated ``pretrained=True/False`` (torchvision's warnings),
``progress`` and the network class's keyword arguments (``num_classes``, ``dropout``, ...).
``dark.hub.load("pytorch/vision", "<builder>", ...)`` calls these builders.
"""
from ._api import (Weights, WeightsEnum, get_model, get_model_builder,  # noqa: F401
                   get_model_weights, get_weight, list_models)
from ._ops import Conv2dNormActivation  # noqa: F401
from .alexnet import *  # noqa: F403
from .densenet import *  # noqa: F403
from .mobilenetv2 import *  # noqa: F403
from .resnet import *  # noqa: F403
from .squeezenet import *  # noqa: F403
from .vgg import *  # noqa: F403
from ... import hub as _hub
from ._api import BUILTIN_MODELS as _BUILTIN_MODELS

__all__ = [name for name in dir() if not name.startswith("_")]

# dark.hub.load("pytorch/vision", name, ...) builds these (torchvision's hubconf entries).
_hub._BUILTIN_REPOS["pytorch/vision"] = {**_BUILTIN_MODELS, "get_weight": get_weight,
                                         "get_model_weights": get_model_weights}
