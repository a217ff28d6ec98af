"""dark.onnx: export dark models to ONNX (torch.onnx), on the ``onnx`` package (extra
``[onnx]``: ``pip install dark[onnx]``; onnxruntime runs the exported files).

``export`` runs the model once with a recording dispatch on the op layer (dark._trace), maps
each recorded op class to ONNX nodes (dark._symbolics: one function per op class; LSTM/GRU
modules as ONNX LSTM/GRU), and writes a checked ONNX model. ``onnx`` is imported only when
``export`` runs."""
from __future__ import annotations

from ._export import (OperatorExportTypes, TrainingMode, export, is_in_onnx_export)
from ._graph import OnnxExporterError, UnsupportedOperatorError

__all__ = ["export", "TrainingMode", "OperatorExportTypes", "is_in_onnx_export",
           "OnnxExporterError", "UnsupportedOperatorError"]
