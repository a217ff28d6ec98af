"""dark.onnx: export dark models to ONNX (torch.onnx), on the ``onnx`` package (extra
``[onnx]``: ``pip install dark[onnx]``; onnxruntime runs the exported files).

``export`` runs the model once with a recording dispatch on the op layer (_trace), maps
each recorded op class to ONNX nodes (_symbolics: one function per op class; LSTM/GRU
modules as ONNX LSTM/GRU/RNN), and writes a checked ONNX model. ``OnnxModule`` runs an ONNX
graph with dark ops (_module). ``onnx`` is imported only when they are used."""
from __future__ import annotations

from ._export import (OperatorExportTypes, TrainingMode, export, is_in_onnx_export)
from ._graph import OnnxExporterError, UnsupportedOperatorError
from ._module import OnnxModule
from . import errors

__all__ = ["export", "TrainingMode", "OperatorExportTypes", "is_in_onnx_export",
           "OnnxExporterError", "UnsupportedOperatorError", "OnnxModule"]
