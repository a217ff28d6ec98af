"""Laplace(loc, scale) (defined with Exponential in dark.distributions.exponential)."""
from .exponential import Laplace

__all__ = ["Laplace"]
