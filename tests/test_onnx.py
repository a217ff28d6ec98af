"""dark.onnx.export: each covered op and model is exported, passes onnx.checker, and
onnxruntime's outputs equal dark's (float32 to 1e-5) on inputs of two sizes of the dynamic
axes."""
import importlib.util
import io
import pathlib

import numpy as np
import pytest

import dark
import dark.nn as nn
import dark.nn.functional as F

onnx = pytest.importorskip("onnx", reason="dark.onnx needs the onnx extra (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="the ONNX tests run the files in onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _export(model, inputs, dynamic=None, **kwargs):
    names = [f"x{i}" for i in range(len(inputs))]
    buffer = io.BytesIO()
    dark.onnx.export(model, tuple(inputs), buffer, input_names=names, dynamic_axes=dynamic,
                     **kwargs)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])


def _outputs(value):
    if isinstance(value, dark.Tensor):
        return [value.numpy()]
    out = []
    for item in value:
        out.extend(_outputs(item))
    return out


def _max_diff(model, session, inputs):
    feed = {f"x{i}": t.numpy().copy() for i, t in enumerate(inputs)}
    with dark.no_grad():
        expected = _outputs(model(*inputs))
    got = session.run(None, feed)
    assert len(got) == len(expected)
    diff = 0.0
    for g, e in zip(got, expected):
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        diff = max(diff, float(np.abs(g.astype(np.float64) - e).max()) if e.size else 0.0)
    return diff


def _module_diff(model, proto, inputs):
    """dark.onnx.OnnxModule (the graph run by dark's ops) against the model."""
    module = dark.onnx.OnnxModule(proto)
    feed = [dark.tensor(t.numpy().copy()) for t in inputs]
    with dark.no_grad():
        got = _outputs(module(*feed))
        expected = _outputs(model(*inputs))
    assert len(got) == len(expected)
    return max(float(np.abs(g.astype(np.float64) - e).max()) if e.size else 0.0
               for g, e in zip(got, expected))


def check(model, make_inputs, sizes=(2, 3), dynamic_axes=((0,),), tol=1e-5, **kwargs):
    """Export at the first size, run onnxruntime at every size (and OnnxModule at the
    last); returns the max difference."""
    if isinstance(model, nn.Module):
        model.eval()
    inputs = make_inputs(sizes[0])
    dynamic = {f"x{i}": list(axes) for i, axes in enumerate(dynamic_axes) if axes}
    proto, session = _export(model, inputs, dynamic or None, **kwargs)
    diff = 0.0
    for size in sizes:
        diff = max(diff, _max_diff(model, session, make_inputs(size) if size != sizes[0]
                                   else inputs))
    assert diff <= tol, diff
    module_diff = _module_diff(model, proto, make_inputs(sizes[-1]))
    assert module_diff <= tol, ("OnnxModule", module_diff)
    return diff


def randn(*shape):
    return lambda n: (dark.randn(n, *shape),)


@pytest.fixture(autouse=True)
def _seed():
    dark.manual_seed(0)


# ----------------------------------------------------------------------------- layers

@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(6, 4), (6,)),
    (lambda: nn.Linear(6, 4, bias=False), (5, 6)),
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (3, 9)),
    (lambda: nn.Conv2d(3, 4, 3, padding=1, dilation=1, groups=1), (3, 7, 7)),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=2), (4, 9, 9)),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (3, 5, 5)),
    (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 9, 9)),
    (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 7, 7)),
    (lambda: nn.MaxPool1d(2), (2, 8)),
    (lambda: nn.AvgPool2d(2), (2, 8, 8)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 9, 9)),
    (lambda: nn.AdaptiveAvgPool2d(1), (3, 5, 5)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (3, 4, 6)),
    (lambda: nn.BatchNorm2d(3), (3, 4, 4)),
    (lambda: nn.BatchNorm1d(3), (3,)),
    (lambda: nn.LayerNorm(6), (4, 6)),
    (lambda: nn.LayerNorm((4, 6), elementwise_affine=False), (4, 6)),
    (lambda: nn.Dropout(0.5), (6,)),
    (lambda: nn.ReLU(), (6,)),
    (lambda: nn.ReLU(inplace=True), (6,)),
    (lambda: nn.GELU(), (6,)),
    (lambda: nn.GELU(approximate="tanh"), (6,)),
    (lambda: nn.Tanh(), (6,)),
    (lambda: nn.Sigmoid(), (6,)),
    (lambda: nn.LeakyReLU(0.2), (6,)),
    (lambda: nn.SiLU(), (6,)),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), (6,)),
    (lambda: nn.ELU(alpha=0.5), (6,)),
    (lambda: nn.SELU(), (6,)),
    (lambda: nn.Hardtanh(-0.5, 0.7), (6,)),
    (lambda: nn.ReLU6(), (6,)),
    (lambda: nn.Hardswish(), (6,)),
    (lambda: nn.Softmax(dim=-1), (3, 6)),
    (lambda: nn.LogSoftmax(dim=1), (3, 6)),
    (lambda: nn.Flatten(), (2, 3, 4)),
    (lambda: nn.GroupNorm(2, 4), (4, 3, 3)),
    (lambda: nn.InstanceNorm2d(4, affine=True), (4, 3, 3)),
    (lambda: nn.BatchNorm1d(3, track_running_stats=False), (3,)),
    (lambda: nn.Upsample(scale_factor=2), (2, 3, 3)),
    (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 3)),
    (lambda: nn.Upsample(size=(5, 7), mode="bicubic", align_corners=True), (2, 3, 3)),
    (lambda: nn.ReflectionPad2d((1, 2, 0, 1)), (2, 3, 3)),
    (lambda: nn.ReplicationPad1d(2), (2, 3)),
    (lambda: nn.ZeroPad2d((1, 2, 0, 1)), (2, 3, 3)),
    (lambda: nn.PixelShuffle(2), (8, 3, 3)),
    (lambda: nn.AdaptiveMaxPool2d(1), (2, 4, 4)),
    (lambda: nn.Conv2d(2, 2, 3, padding="same"), (2, 5, 5)),
    (lambda: nn.PReLU(), (3,)),
    (lambda: nn.GLU(), (4,)),
    (lambda: nn.RMSNorm(4), (4,)),
])
def test_layer(layer, shape):
    m = layer()
    scale = 3.0

    def make(n):
        return (dark.randn(n, *shape) * scale,)
    check(m, make)


def test_embedding_gather():
    m = nn.Embedding(10, 4)
    proto, _ = _export(m, (dark.tensor([[1, 2, 3]]),))
    assert "Gather" in [n.op_type for n in proto.graph.node]
    check(m, lambda n: (dark.randint(0, 10, (n, 5)),), dynamic_axes=((0, 1),))


def test_parameters_are_initializers_named_as_state_dict():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2)).eval()
    proto, _ = _export(m, (dark.randn(2, 3),))
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias",
            "3.running_mean", "3.running_var"} <= names
    weight = next(i for i in proto.graph.initializer if i.name == "0.weight")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(weight), m[0].weight.detach().numpy())
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Gemm",
                                                     "BatchNormalization"]


def test_export_to_path_and_options(tmp_path):
    m = nn.Linear(3, 2)
    path = tmp_path / "m.onnx"
    assert dark.onnx.export(m, (dark.randn(2, 3),), str(path), input_names=["inp"],
                            output_names=["out"], dynamic_axes={"inp": {0: "batch"},
                                                                "out": {0: "batch"}}) is None
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 20
    assert [i.name for i in proto.graph.input] == ["inp"]
    assert [o.name for o in proto.graph.output] == ["out"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    dark.onnx.export(m, (dark.randn(2, 3),), str(path), opset_version=17)
    assert onnx.load(str(path)).opset_import[0].version == 17
    assert m.training  # eval only during the export
    with pytest.raises(ValueError, match="opset_version 5"):
        dark.onnx.export(m, (dark.randn(2, 3),), str(path), opset_version=5)


# ----------------------------------------------------------------------------- ops

class Fn(nn.Module):
    def __init__(self, function, *params):
        super().__init__()
        self.function = function
        self.params = nn.ParameterList([nn.Parameter(p) for p in params])

    def forward(self, *inputs):
        return self.function(*inputs, *self.params)


OPS = {
    "view_size0": (lambda x: x.view(x.size(0), -1), (3, 4)),
    "reshape_minus1": (lambda x: x.reshape(-1, 4) * 2, (3, 4)),
    "flatten": (lambda x: dark.flatten(x, 1), (3, 2, 2)),
    "permute": (lambda x: x.permute(2, 0, 1), (3, 4)),
    "transpose": (lambda x: x.transpose(0, 1).contiguous(), (3, 4)),
    "cat": (lambda x: dark.cat([x, x * 2], 1), (3, 4)),
    "stack": (lambda x: dark.stack([x, -x], 1), (3,)),
    "split": (lambda x: x.split(2, 1)[1] + 1, (5, 2)),
    "chunk": (lambda x: x.chunk(2, 2)[0] * x.chunk(2, 2)[1], (3, 4)),
    "slice": (lambda x: x[:, 1:3] + x[:, -2:, -1:], (3, 4)),
    "slice_step": (lambda x: x[:, ::2, 1], (5, 4)),
    "select_none": (lambda x: x[:, None, 1], (3, 4)),
    "index_tensor": (lambda x: x[:, dark.tensor([0, 2, 2])], (3, 4)),
    "unsqueeze_squeeze": (lambda x: x.unsqueeze(1).squeeze(1).unsqueeze(-1), (3, 4)),
    "sum": (lambda x: x.sum(1), (3, 4)),
    "sum_all": (lambda x: x.sum().reshape(1) + x[:, 0, 0], (3, 4)),
    "mean_keepdim": (lambda x: x.mean(-1, keepdim=True), (3, 4)),
    "max_dim": (lambda x: x.max(1)[0] + x.max(1)[1].float(), (3, 4)),
    "amax": (lambda x: dark.amax(x, (1, 2)), (3, 4)),
    "min_argmax": (lambda x: x.min(2).values * x.argmax(2).float(), (3, 4)),
    "var_std": (lambda x: x.var(1) + x.std(1, keepdim=True).sum(1), (3, 4)),
    "arith": (lambda x: (x + 1) * 2 - x / 3 + 2 - x, (3, 4)),
    "rsub_div": (lambda x: 1 / (x.abs() + 1) - (2 - x), (3,)),
    "pow_sqrt": (lambda x: x ** 2 + x.abs().sqrt() + x.abs() ** 1.5, (3,)),
    "exp_log_neg": (lambda x: x.exp() + (x.abs() + 0.1).log() - x, (3,)),
    "clamp": (lambda x: x.clamp(-0.5, 0.5) + x.clamp(min=0) + x.clamp(max=0.1), (3,)),
    "where_compare": (lambda x: dark.where(x > 0, x, x * 0.1), (3,)),
    "masked_fill": (lambda x: x.masked_fill(x < 0, -1.0), (3,)),
    "matmul": (lambda x, w: x @ w, (3, 4)),
    "bmm": (lambda x: dark.bmm(x, x.transpose(1, 2)), (3, 4)),
    "softmax_fn": (lambda x: F.softmax(x, -1) + F.log_softmax(x, 0), (3,)),
    "expand": (lambda x: x[:, :1].expand(-1, 3, 4) + x, (3, 4)),
    "pad": (lambda x: F.pad(x, (1, 2)), (3, 4)),
    "erf_rsqrt": (lambda x: x.erf() + (x * x + 1).rsqrt(), (3,)),
    "constant": (lambda x: x + dark.arange(4.0), (3, 4)),
    "int_cast": (lambda x: (x > 0).float() + x.long().float(), (3,)),
    "tril": (lambda x: dark.tril(x) + dark.triu(x, 1), (4, 4)),
    "inplace_on_input": (lambda x: x.add_(1).relu_().mul_(x), (3,)),
    "activations_more": (lambda x: F.hardsigmoid(x) + F.mish(x) + F.logsigmoid(x)
                         + F.softshrink(x, 0.3) + F.hardshrink(x, 0.4)
                         + F.threshold(x, 0.1, -2.0) + F.celu(x, 0.7), (5,)),
    "unary_more": (lambda x: x.sin() + x.cos() + x.floor() + x.sign() + x.expm1()
                   + x.abs().log1p() + x.ceil() + dark.square(x), (5,)),
    "compare_logical": (lambda x: ((x > 0.5) | (x <= -0.5)).float()
                        + ((x != 0.1) & ~(x == 0.2)).float() + dark.maximum(x, x * 2)
                        + dark.minimum(x, -x), (5,)),
    "pow_scalar": (lambda x: 2.0 ** x + x.abs() ** x, (4,)),
    "cumsum_flip": (lambda x: dark.cumsum(x, 1) + dark.flip(x, [1]), (5,)),
    "repeat_unbind_narrow": (lambda x: x.repeat(1, 2)[:, :3] + sum(x.unbind(1))[:, None]
                             + x.narrow(1, 1, 3)[:, :1], (4,)),
    "norm_logsumexp_prod": (lambda x: x.norm(dim=1) + dark.logsumexp(x, 1)
                            + x.prod(1) + dark.linalg.vector_norm(x, 1, dim=1), (4,)),
    "to_double": (lambda x: (x.double() * 2).float() + x.to(dark.float16).float(), (4,)),
    "einsum": (lambda x: dark.einsum("bij,bkj->bik", x, x), (3, 4)),
    "sdpa_causal": (lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True), (5, 4)),
    "normalize": (lambda x: F.normalize(x, dim=1) + F.cosine_similarity(x, x + 1)[:, None],
                  (4,)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op(name):
    function, shape = OPS[name]
    params = (dark.randn(4, 2),) if name == "matmul" else ()
    check(Fn(function, *params), lambda n: (dark.randn(n, *shape) * 2,))


def test_sequence_axis_dynamic():
    """Batch and sequence dynamic: the reshapes of attention read both from shapes."""
    m = nn.MultiheadAttention(8, 2, batch_first=False)
    check(m, lambda n: tuple(dark.randn(n + 2, n, 8) for _ in range(3)), sizes=(2, 3, 5),
          dynamic_axes=((0, 1), (0, 1), (0, 1)))


# ----------------------------------------------------------------------------- modules

@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first, bidirectional, layers", [
    (False, False, 1), (True, True, 2), (False, True, 1)])
def test_rnn(kind, batch_first, bidirectional, layers):
    m = getattr(nn, kind)(5, 7, num_layers=layers, batch_first=batch_first,
                          bidirectional=bidirectional)
    axes = (0, 1)
    proto, _ = _export(m.eval(), (dark.randn(4, 2, 5),))
    assert kind in [n.op_type for n in proto.graph.node]
    assert len(proto.graph.output) == (3 if kind == "LSTM" else 2)
    check(m, lambda n: (dark.randn(n + 1, n, 5),), dynamic_axes=(axes,))


def test_rnn_relu():
    m = nn.RNN(5, 7, nonlinearity="relu", bidirectional=True)
    check(m, lambda n: (dark.randn(n + 1, n, 5),), dynamic_axes=((0, 1),))


def test_lstm_with_initial_state():
    m = nn.LSTM(5, 7, num_layers=2)

    def make(n):
        return dark.randn(4, n, 5), dark.randn(2, n, 7), dark.randn(2, n, 7)

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = m

        def forward(self, x, h, c):
            out, (h, c) = self.lstm(x, (h, c))
            return out, h, c

    check(WithState(), make, dynamic_axes=((1,), (1,), (1,)))


def test_multihead_attention_and_mask():
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    mask = nn.Transformer.generate_square_subsequent_mask(5)

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = m

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=mask)

    check(Masked(), lambda n: (dark.randn(n, 5, 8),))


def test_transformer_encoder_layer():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
    check(layer, lambda n: (dark.randn(n, 2 * n, 8),), dynamic_axes=((0, 1),))


def test_transformer_decoder_layer_and_transformer():
    """TransformerDecoderLayer and the whole nn.Transformer (encoder-decoder): batch and both
    sequence lengths dynamic."""
    layer = nn.TransformerDecoderLayer(16, 4, 32, batch_first=True)
    check(layer, lambda n: (dark.randn(n, n + 1, 16), dark.randn(n, n + 3, 16)),
          dynamic_axes=((0, 1), (0, 1)))
    transformer = nn.Transformer(16, 4, 2, 2, 32, batch_first=True)
    check(transformer, lambda n: (dark.randn(n, n + 3, 16), dark.randn(n, n + 1, 16)),
          dynamic_axes=((0, 1), (0, 1)))


def test_dropout_in_eval_is_removed():
    """Dropout modules and F.dropout(training=self.training) leave no node in eval."""
    class Functional(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.3, training=self.training) * 2

    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.ReLU(), nn.AlphaDropout(0.2),
                      Functional(), nn.Dropout(0.1, inplace=True))
    proto, _ = _export(m, (dark.randn(2, 4),))
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Mul"]
    check(m, lambda n: (dark.randn(n, 4),))
    proto, _ = _export(nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d(0.5)),
                       (dark.randn(2, 2, 3, 3),))
    assert [n.op_type for n in proto.graph.node] == ["Conv"]


def test_unsupported_op_names_op_and_module():
    class Inner(nn.Module):
        def forward(self, x):
            return dark.fft.fft(x).real

    m = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Inner()))
    with pytest.raises(dark.onnx.UnsupportedOperatorError, match=r"FftC2C.*'1\.1'"):
        dark.onnx.export(m, (dark.randn(2, 4),), io.BytesIO())


def test_training_dropout_is_refused():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    with pytest.raises(dark.onnx.UnsupportedOperatorError, match="_Dropout.*'1'"):
        dark.onnx.export(m, (dark.randn(2, 4),), io.BytesIO(),
                         training=dark.onnx.TrainingMode.TRAINING)
    assert m.training


def test_autocast_is_refused():
    with dark.autocast("cpu"), pytest.raises(dark.onnx.errors.OnnxExporterError,
                                            match="autocast"):
        dark.onnx.export(nn.Linear(2, 2), (dark.randn(1, 2),), io.BytesIO())


def test_amp_dispatch_is_restored():
    """The tracer composes with the op dispatch already set and puts it back."""
    from dark.autograd.function import Op
    before = Op.__dict__["apply"]
    dark.onnx.export(nn.Linear(2, 2), (dark.randn(1, 2),), io.BytesIO())
    assert Op.__dict__["apply"] is before


# ----------------------------------------------------------------------------- models

def _small_resnet():
    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += x
            return self.relu(out)

    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Block(4), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3))


def test_small_resnet_block_inplace_add():
    m = _small_resnet()
    for module in m.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    check(m, lambda n: (dark.randn(n, 3, 8, 8),))


def _mnist_model(name):
    spec = importlib.util.spec_from_file_location("mnist_example", ROOT / "examples" /
                                                  "mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)()


@pytest.mark.parametrize("name", ["CNN", "Net", "MLP"])
def test_mnist_models(name):
    """examples/mnist.py's models: CNN (its default), pytorch/examples' Net, the MLP."""
    pytest.importorskip("tqdm", reason="examples/mnist.py imports tqdm")
    check(_mnist_model(name), lambda n: (dark.randn(n, 1, 28, 28),))


def test_transformer_encoder_two_layers():
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1)
    m = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    check(m, lambda n: (dark.randn(n + 3, n, 16),), dynamic_axes=((0, 1),))


def _word_language_model():
    spec = importlib.util.spec_from_file_location(
        "wlm_model", ROOT / "examples" / "ported" / "word_language_model" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH"])
def test_word_language_model_rnn(kind):
    """pytorch/examples' word_language_model export_onnx: (input, hidden) in, seq and batch
    dynamic."""
    model = _word_language_model().RNNModel(kind, 50, 16, 16, 2)

    def make(n):
        hidden = model.init_hidden(n)
        hidden = hidden if isinstance(hidden, tuple) else (hidden,)
        return (dark.randint(0, 50, (n + 2, n)),) + tuple(h + dark.randn(*h.shape)
                                                          for h in hidden)

    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, *hidden):
            out, hidden = self.model(x, hidden if len(hidden) > 1 else hidden[0])
            return (out,) + (hidden if isinstance(hidden, tuple) else (hidden,))

    axes = ((0, 1),) + ((1,),) * (2 if kind == "LSTM" else 1)
    check(Flat(), make, dynamic_axes=axes)


def test_word_language_model_transformer():
    """Its mask is made by ops on constants (folded) and cached on the module."""
    model = _word_language_model().TransformerModel(50, 16, 2, 32, 2)
    check(model, lambda n: (dark.randint(0, 50, (5, n)),), sizes=(2, 3, 6),
          dynamic_axes=((1,),))


def test_constant_folding():
    class Masked(nn.Module):
        def forward(self, x):
            mask = dark.triu(dark.ones(4, 4), 1) * -100.0
            return x + mask

    proto, _ = _export(Masked(), (dark.randn(2, 4, 4),))
    assert [n.op_type for n in proto.graph.node] == ["Add"]
    proto, _ = _export(Masked(), (dark.randn(2, 4, 4),), do_constant_folding=False)
    assert sorted(n.op_type for n in proto.graph.node) == ["Add", "Mul", "Trilu"]
    check(Masked(), lambda n: (dark.randn(n, 4, 4),))


def _models():
    try:
        from dark.data import models
    except ImportError:
        return None
    return models


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vgg11"])
def test_torchvision_models(name):
    models = _models()
    if models is None or not hasattr(models, name):
        pytest.skip(f"dark.data.models.{name} is not there")
    if name == "vgg11":
        # vgg11's features, pooling and classifier layout, the classifier narrower (vgg11's
        # own 4096-wide one holds 120M parameters: slow to make, not more to export)
        from dark.data.models import vgg
        m = nn.Sequential(vgg.make_layers(vgg.cfgs["A"]), nn.AdaptiveAvgPool2d((7, 7)),
                          nn.Flatten(), nn.Linear(512 * 7 * 7, 32), nn.ReLU(True),
                          nn.Dropout(), nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(),
                          nn.Linear(32, 10))
    else:
        m = getattr(models, name)(num_classes=10)
    check(m, lambda n: (dark.randn(n, 3, 32, 32),), sizes=(1, 2), tol=1e-4)


def test_word_language_model_transformer_dynamic_sequence():
    """The mask made from len(src) follows the sequence axis (ones -> ConstantOfShape)."""
    model = _word_language_model().TransformerModel(50, 16, 2, 32, 2)
    check(model, lambda n: (dark.randint(0, 50, (n + 3, n)),), sizes=(2, 3, 6),
          dynamic_axes=((0, 1),))


def test_sized_constants():
    class Positions(nn.Module):
        def forward(self, x):
            n = x.size(1)
            return x * dark.arange(n) + dark.ones(x.size(0), 1) * 2

    check(Positions(), lambda n: (dark.randn(n, n + 2),), dynamic_axes=((0, 1),))


def test_function_kwargs_and_input_names():
    def f(x, y):
        return (x * y).sum(1)

    buffer = io.BytesIO()
    dark.onnx.export(f, (dark.randn(2, 3), dark.randn(2, 3)), buffer)
    assert [i.name for i in onnx.load_from_string(buffer.getvalue()).graph.input] == ["x", "y"]

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x, scale=None):
            return self.linear(x) * scale

    x, scale = dark.randn(2, 3), dark.tensor(2.0)
    buffer = io.BytesIO()
    m = Scaled()
    dark.onnx.export(m, (x,), buffer, kwargs={"scale": scale})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "scale"]
    got = session.run(None, {"x": x.numpy(), "scale": scale.numpy()})[0]
    with dark.no_grad():
        np.testing.assert_allclose(got, m(x, scale=scale).numpy(), rtol=1e-6, atol=1e-6)


def test_export_params_false_and_initializers_as_inputs():
    m = nn.Linear(3, 2)
    buffer = io.BytesIO()
    dark.onnx.export(m, (dark.randn(2, 3),), buffer, export_params=False)
    proto = onnx.load_from_string(buffer.getvalue())
    assert not proto.graph.initializer
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]
    buffer = io.BytesIO()
    dark.onnx.export(m, (dark.randn(2, 3),), buffer, keep_initializers_as_inputs=True)
    proto = onnx.load_from_string(buffer.getvalue())
    assert {i.name for i in proto.graph.initializer} == {"weight", "bias"}
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]


def test_onnx_module_runs_torch_export():
    """OnnxModule runs a file written by torch.onnx.export (TorchScript exporter)."""
    torch = pytest.importorskip("torch", reason="the file is written by torch.onnx")
    import warnings
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                            torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                            torch.nn.Linear(64, 5), torch.nn.LogSoftmax(1)).eval()
    x = torch.randn(2, 3, 8, 8)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), buffer, dynamo=False)
    module = dark.onnx.OnnxModule(buffer.getvalue())
    with torch.no_grad():
        expected = m(x).numpy()
    np.testing.assert_allclose(module(dark.tensor(x.numpy())).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-5)


def test_onnx_module_is_differentiable_and_trainable():
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    buffer = io.BytesIO()
    dark.onnx.export(m, (dark.randn(2, 3),), buffer)
    module = dark.onnx.OnnxModule(buffer.getvalue(), trainable=True)
    assert len(list(module.parameters())) == 4
    x = dark.randn(5, 3)
    module(x).sum().backward()
    m(x).sum().backward()
    grads = sorted(p.grad.abs().sum().item() for p in module.parameters())
    expected = sorted(p.grad.abs().sum().item() for p in m.parameters())
    np.testing.assert_allclose(grads, expected, rtol=1e-5)
    with pytest.raises(NotImplementedError, match="NonMaxSuppression"):
        graph = onnx.helper.make_graph(
            [onnx.helper.make_node("NonMaxSuppression", ["a", "b"], ["c"])], "g",
            [onnx.helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [1, 1, 4]),
             onnx.helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1, 1, 1])],
            [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.INT64, [1, 3])])
        dark.onnx.OnnxModule(onnx.helper.make_model(graph))


def test_transformer_encoder_padding_and_causal_masks():
    """A bool key padding mask as a graph input and a causal mask made from x.size(1): both
    follow the dynamic batch and sequence axes."""
    layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, x, padding):
            causal = nn.Transformer.generate_square_subsequent_mask(x.size(1))
            return self.encoder(x, mask=causal, src_key_padding_mask=padding.float() * -1e9)

    def make(n):
        padding = dark.zeros(n, n + 2, dtype=dark.bool)
        padding[:, -1] = True
        return dark.randn(n, n + 2, 16), padding

    check(Masked(), make, sizes=(2, 3, 1), dynamic_axes=((0, 1), (0, 1)))
