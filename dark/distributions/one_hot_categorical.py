"""OneHotCategorical (defined in dark.distributions.categorical)."""
from .categorical import OneHotCategorical, OneHotCategoricalStraightThrough

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]
