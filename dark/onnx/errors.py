"""The errors of dark.onnx (torch.onnx.errors)."""
from ._graph import OnnxExporterError, UnsupportedOperatorError

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]
