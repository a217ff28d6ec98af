"""dark.utils.model_zoo: torch.utils.model_zoo's one name, ``load_url``, which is
``dark.hub.load_state_dict_from_url``."""
from ..hub import load_state_dict_from_url as load_url

__all__ = ["load_url"]
