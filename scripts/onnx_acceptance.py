"""Issue 19's ONNX acceptance figures: resnet18 (dark.data.models), examples/mnist.py's CNN
(and pytorch/examples' Net from the same file) and a 2-layer nn.TransformerEncoder exported
by dark.onnx.export with a dynamic batch axis (and sequence axis for the Transformer), each
file checked by onnx.checker (full_check) and run in onnxruntime at two batch sizes (and two
sequence lengths): the max abs difference to dark's own outputs, and to dark.onnx.OnnxModule.

    DARK_DATA=... python scripts/onnx_acceptance.py [--size 224]

Needs the onnx and onnxruntime packages (and tqdm, which examples/mnist.py imports)."""
from __future__ import annotations

import argparse
import importlib.util
import io
import pathlib
import time

import numpy as np
import onnx
import onnxruntime as ort

import dark
import dark.nn as nn
from dark.data import models

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _mnist_module():
    spec = importlib.util.spec_from_file_location("mnist_example", ROOT / "examples" /
                                                  "mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(value):
    if isinstance(value, dark.Tensor):
        return [value.numpy()]
    return [a for item in value for a in _outputs(item)]


def _dims(value_info) -> str:
    return ",".join(d.dim_param or str(d.dim_value)
                    for d in value_info.type.tensor_type.shape.dim)


def measure(name, model, make, sizes, dynamic_axes):
    """Export at sizes[0]; returns one line per size with the max abs differences."""
    model.eval()
    example = make(sizes[0])
    names = [f"input{i}" for i in range(len(example))]
    buffer = io.BytesIO()
    start = time.perf_counter()
    dark.onnx.export(model, example, buffer, input_names=names, output_names=["output"],
                     dynamic_axes={n: {d: f"{n}_dim{d}" for d in axes}
                                   for n, axes in zip(names, dynamic_axes)} |
                     {"output": {}})
    seconds = time.perf_counter() - start
    data = buffer.getvalue()
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)  # raises when not clean
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    module = dark.onnx.OnnxModule(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    lines = [f"{name}: exported in {seconds:.2f} s, {len(data) / 1e6:.2f} MB, "
             f"opset {proto.opset_import[0].version}, {len(proto.graph.node)} nodes, "
             f"onnx.checker.check_model(full_check=True): clean",
             f"  ops: {' '.join(ops)}",
             "  inputs: " + ", ".join(f"{i.name}[{_dims(i)}]" for i in proto.graph.input)]
    worst = 0.0
    for size in sizes:
        inputs = example if size == sizes[0] else make(size)
        with dark.no_grad():
            expected = _outputs(model(*inputs))
            via_module = _outputs(module(*[dark.tensor(t.numpy().copy()) for t in inputs]))
        got = session.run(None, {n: t.numpy().copy() for n, t in zip(names, inputs)})
        ort_diff = max(float(np.abs(g.astype(np.float64) - e).max())
                       for g, e in zip(got, expected))
        module_diff = max(float(np.abs(g.astype(np.float64) - e).max())
                          for g, e in zip(via_module, expected))
        scale = max(float(np.abs(e).max()) for e in expected)
        assert all(g.shape == e.shape and g.dtype == e.dtype for g, e in zip(got, expected))
        worst = max(worst, ort_diff)
        shapes = " ".join(str(tuple(t.shape)) for t in inputs)
        lines.append(f"  input {shapes} -> output {tuple(expected[0].shape)}: "
                     f"max|onnxruntime - dark| = {ort_diff:.3g}, "
                     f"max|OnnxModule - dark| = {module_diff:.3g} (max|output| {scale:.3g})")
    return lines, worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="resnet18's image size")
    args = parser.parse_args()
    dark.manual_seed(0)
    mnist = _mnist_module()
    layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    cases = [
        ("resnet18 (dark.data.models.resnet18(), random init, batch dynamic)",
         models.resnet18(), lambda n: (dark.randn(n, 3, args.size, args.size),), (1, 3),
         ((0,),)),
        ("MNIST CNN (examples/mnist.py --model cnn, the default; batch dynamic)",
         mnist.CNN(), lambda n: (dark.randn(n, 1, 28, 28),), (2, 5), ((0,),)),
        ("MNIST Net (examples/mnist.py --model net, pytorch/examples' Net; batch dynamic)",
         mnist.Net(), lambda n: (dark.randn(n, 1, 28, 28),), (2, 5), ((0,),)),
        ("2-layer nn.TransformerEncoder (d_model 64, 4 heads, ff 128; sequence and batch "
         "dynamic)", encoder, lambda n: (dark.randn(2 * n + 1, n, 64),), (2, 5), ((0, 1),)),
    ]
    print(f"dark.onnx acceptance: onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
          f"numpy {np.__version__}")
    for case in cases:
        lines, worst = measure(*case)
        print("\n".join(lines))
        assert worst <= 1e-4, (case[0], worst)


if __name__ == "__main__":
    main()
