"""LogNormal(loc, scale) (defined in dark.distributions.transformed_distribution)."""
from .transformed_distribution import LogNormal

__all__ = ["LogNormal"]
