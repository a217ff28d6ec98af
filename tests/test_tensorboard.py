"""dark.utils.tensorboard.SummaryWriter: what it writes, read back by TensorBoard's own event
reader (EventAccumulator) and plugins' data formats, with the same tags, steps and values."""
import os

import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install "
                    "dark[tensorboard])")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

import dark  # noqa: E402
from dark import nn  # noqa: E402
from dark.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(path):
    acc = EventAccumulator(str(path), size_guidance={"images": 0, "histograms": 0,
                                                     "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_steps_values_and_default_logdir(tmp_path, monkeypatch):
    with SummaryWriter(tmp_path / "run") as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("acc", dark.tensor(0.75), dark.tensor(7))
        w.add_scalar("new", np.float64(2.5), 1, new_style=True, double_precision=True)
    acc = _read(tmp_path / "run")
    events = acc.Scalars("loss")
    assert [e.step for e in events] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([e.value for e in events], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5],
                               rtol=1e-7)
    assert [(e.step, e.value) for e in acc.Scalars("acc")] == [(7, 0.75)]
    tensor_event = acc.Tensors("new")[0]
    assert tensor_util.make_ndarray(tensor_event.tensor_proto).item() == 2.5
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_lr0.1") and os.uname().nodename in run


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("run/loss", {"train": step, "test": 2 * step}, step)
    for key, factor in (("train", 1), ("test", 2)):
        acc = _read(tmp_path / f"run_loss_{key}")
        assert [(e.step, e.value) for e in acc.Scalars("run/loss")] == [
            (s, factor * s) for s in range(3)]


def test_histogram(tmp_path):
    values = dark.randn(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", values, 3)
        w.add_histogram("b", np.arange(10.0), 4, bins=5)
    acc = _read(tmp_path)
    (h,) = acc.Histograms("w")
    v = values.numpy().astype(np.float64)
    assert h.step == 3 and h.histogram_value.num == 1000
    np.testing.assert_allclose([h.histogram_value.min, h.histogram_value.max],
                               [v.min(), v.max()])
    np.testing.assert_allclose(h.histogram_value.sum, v.sum(), rtol=1e-9)
    np.testing.assert_allclose(h.histogram_value.sum_squares, v.dot(v), rtol=1e-9)
    assert sum(h.histogram_value.bucket) == 1000
    (b,) = acc.Histograms("b")
    counts, limits = np.histogram(np.arange(10.0), bins=5)
    assert list(b.histogram_value.bucket) == [0, *counts]
    np.testing.assert_allclose(b.histogram_value.bucket_limit, limits)


def test_images_formats_and_values(tmp_path):
    import io

    from PIL import Image

    chw = dark.rand(3, 8, 10)
    hwc_uint8 = (np.arange(8 * 10 * 3) % 256).astype(np.uint8).reshape(8, 10, 3)
    batch = dark.rand(10, 1, 4, 5)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", chw, 0)
        w.add_image("hwc", hwc_uint8, 1, dataformats="HWC")
        w.add_image("hw", dark.ones(6, 7), 2, dataformats="HW")
        w.add_images("batch", batch, 3)
        with pytest.raises(AssertionError, match="size of input tensor and input format"):
            w.add_image("bad", dark.ones(2, 2), dataformats="CHW")
    acc = _read(tmp_path)

    def decode(tag):
        (event,) = acc.Images(tag)
        return event, np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))

    event, pixels = decode("chw")
    assert (event.height, event.width) == (8, 10)
    expected = (chw.numpy().transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    np.testing.assert_array_equal(decode("hwc")[1], hwc_uint8)
    assert (decode("hw")[1] == 255).all()
    event, grid = decode("batch")  # 10 images, 8 per row: 2 rows
    assert (event.height, event.width) == (8, 40)
    first = (batch.numpy()[0, 0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[:4, :5, 0], first)
    assert (grid[4:, 10:] == 0).all()  # the empty cells of the second row


def test_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [0, 1])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", figure, 5)
    (event,) = _read(tmp_path).Images("fig")
    assert (event.step, event.width, event.height) == (5, 100, 50)
    assert not plt.get_fignums()  # closed


def test_text_and_pr_curve(tmp_path):
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    predictions = np.array([0.9, 0.1, 0.8, 0.4, 0.6, 0.2, 0.7, 0.3])
    with SummaryWriter(tmp_path) as w:
        w.add_text("note", "hello **dark**", 2)
        w.add_pr_curve("pr", dark.tensor(labels), dark.tensor(predictions), 1,
                       num_thresholds=5)
    acc = _read(tmp_path)
    (t,) = acc.Tensors("note/text_summary")
    assert tensor_util.make_ndarray(t.tensor_proto)[0] == b"hello **dark**"
    (pr,) = acc.Tensors("pr")
    data = tensor_util.make_ndarray(pr.tensor_proto)
    assert data.shape == (6, 5)
    # threshold 0: every prediction positive: tp = 4, fp = 4, precision 0.5, recall 1
    np.testing.assert_allclose(data[:, 0], [4, 4, 0, 0, 0.5, 1.0])
    # predictions >= 0.75 (bucket 3 of 0..4): 0.9, 0.8: both positives
    np.testing.assert_allclose(data[:, 3], [2, 0, 4, 2, 1.0, 0.5])
    assert "pr" in acc.PluginTagToContent("pr_curves")


def test_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "bsize": 32, "opt": "sgd", "nesterov": True},
                      {"hparam/accuracy": 0.9}, run_name="trial")
    acc = _read(tmp_path / "trial")
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["bsize"].number_value == 32
    assert start.hparams["opt"].string_value == "sgd"
    assert start.hparams["nesterov"].bool_value is True
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    assert acc.Scalars("hparam/accuracy")[0].value == pytest.approx(0.9)
    with pytest.raises(TypeError, match="should be dictionary"):
        SummaryWriter(tmp_path).add_hparams([("lr", 1)], {})


def test_embedding(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    mat = dark.randn(6, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=list("abcdef"), label_img=dark.rand(6, 1, 4, 4),
                        global_step=2, tag="feat")
    rows = (tmp_path / "00002" / "feat" / "tensors.tsv").read_text().splitlines()
    np.testing.assert_allclose(np.array([r.split("\t") for r in rows], float), mat.numpy(),
                               rtol=1e-6)
    assert (tmp_path / "00002" / "feat" / "metadata.tsv").read_text() == "a\nb\nc\nd\ne\nf\n"
    assert (tmp_path / "00002" / "feat" / "sprite.png").exists()
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    (info,) = config.embeddings
    assert info.tensor_name == "feat:00002" and info.metadata_path == "00002/feat/metadata.tsv"
    assert list(info.sprite.single_image_dim) == [4, 4]


def test_graph(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.fc2 = nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    with SummaryWriter(tmp_path) as w:
        w.add_graph(Net(), dark.randn(3, 4))
    graph = _read(tmp_path).Graph()
    names = {n.name: n for n in graph.node}
    assert "Net/fc1.weight" in names and names["Net/fc1.weight"].op == "Parameter"
    assert "input/input.0" in names and "output/output.0" in names
    ops = {n.op for n in graph.node}
    assert {"Addmm", "Relu"} <= ops
    (relu,) = [n for n in graph.node if n.op == "Relu"]
    assert relu.name.startswith("Net/")
    (addmm2,) = [n for n in graph.node if n.op == "Addmm" and "Linear[fc2]" in n.name]
    assert any("Relu" in i for i in addmm2.input)
    (addmm1,) = [n for n in graph.node if n.op == "Addmm" and "Linear[fc1]" in n.name]
    assert "input/input.0" in addmm1.input and "Net/fc1.bias" in addmm1.input
    with pytest.raises(RuntimeError, match="recorded no graph"):  # nothing requires grad
        SummaryWriter(tmp_path / "x").add_graph(nn.Identity(), dark.ones(2))


def test_purge_step_and_flush(tmp_path):
    w = SummaryWriter(tmp_path, purge_step=3, flush_secs=1000, max_queue=1000)
    w.add_scalar("x", 1.0, 3)
    w.flush()  # written without closing
    assert [e.step for e in _read(tmp_path).Scalars("x")] == [3]
    w.close()
    w.close()  # twice is fine
