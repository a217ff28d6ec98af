"""Summary protobufs for TensorBoard, built with the ``tensorboard`` package's own protos
(the formats its plugins read: scalars, histograms, images, text, hparams, pr_curves)."""
from __future__ import annotations

import io
import numbers

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.histogram_pb2 import HistogramProto
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_data
from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

from ..._tensor import Tensor


def to_numpy(value) -> np.ndarray:
    """A host numpy array of a tensor (CPU or GPU, detached), array or python number."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, "__cuda_array_interface__"):
        return value.get()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (numbers.Number, np.generic)):
        return np.array([value])
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise NotImplementedError(f"Got {type(value)}, but numpy array or dark tensor are "
                              "expected.")


def _plugin(name: str, content: bytes = b"") -> SummaryMetadata:
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=name,
                                                                  content=content))


# ---------------------------------------------------------------------------------- scalars
def scalar(tag, value, new_style=False, double_precision=False) -> Summary:
    array = to_numpy(value).squeeze()
    if array.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given "
                             f"size: {array.size} and {array.ndim} dimensions.")
    number = float(array)
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=number)])
    proto = TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision else \
        TensorProto(float_val=[number], dtype="DT_FLOAT")
    return Summary(value=[Summary.Value(tag=tag, tensor=proto, metadata=_plugin("scalars"))])


# ------------------------------------------------------------------------------- histograms
def _tensorflow_bins() -> np.ndarray:
    """TensorFlow's default histogram bucket edges (histogram.cc): 1e-12 growing by 10%
    up to 1e20, mirrored, with 0 in the middle."""
    v, positive = 1e-12, []
    while v < 1e20:
        positive.append(v)
        v *= 1.1
    positive = np.array(positive)
    return np.concatenate([-positive[::-1], [0.0], positive])


_BINS = None


def histogram_proto(values, bins, max_bins=None) -> HistogramProto:
    global _BINS
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    if isinstance(bins, str) and bins == "tensorflow":
        if _BINS is None:
            _BINS = _tensorflow_bins()
        bins = _BINS
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        step = len(counts) // max_bins
        if len(counts) % step:
            counts = np.pad(counts, (0, step - len(counts) % step))
        counts = counts.reshape(-1, step).sum(axis=-1)
        limits = np.concatenate([limits[:-1:step], limits[-1:]])
    # keep the support: from the bin before the first non-empty one to the last non-empty
    nonzero = np.flatnonzero(counts)
    start, end = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 1)
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return HistogramProto(min=values.min(), max=values.max(), num=values.size,
                          sum=values.sum(), sum_squares=values.dot(values),
                          bucket_limit=limits.tolist(), bucket=counts.tolist())


def histogram(tag, values, bins, max_bins=None) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, histo=histogram_proto(
        to_numpy(values), bins, max_bins))])


def histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,  # noqa: A002
                  bucket_counts) -> Summary:
    proto = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                           bucket_limit=list(bucket_limits), bucket=list(bucket_counts))
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


# ----------------------------------------------------------------------------------- images
def grid(images: np.ndarray, ncols: int = 8) -> np.ndarray:
    """NCHW images (1 or 3 channels) tiled into one CHW image, row by row, ``ncols`` wide."""
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, 1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    n, _, h, w = images.shape
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    canvas = np.zeros((3, h * nrows, w * ncols), dtype=images.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = images[i]
    return canvas


def to_hwc(array: np.ndarray, dataformats: str) -> np.ndarray:
    """An image array laid out as ``dataformats`` (NCHW, NHWC, CHW, HWC, HW ...) as HWC
    with 3 (or 4) channels; a batch is tiled into a grid."""
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError(f"You can not use the same dimension shorthand twice. "
                             f"input_format: {dataformats}")
    if array.ndim != len(dataformats):
        raise AssertionError(f"size of input tensor and input format are different. tensor "
                             f"shape: {array.shape}, input_format: {dataformats}")
    fmt = dataformats.upper()
    if len(fmt) == 4:
        return grid(array.transpose([fmt.find(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = array.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, 2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        return np.stack([array.transpose([fmt.find(c) for c in "HW"])] * 3, 2)
    raise AssertionError(f"dataformats must have 2 to 4 letters, got {dataformats!r}")


def _png(hwc_uint8: np.ndarray, rescale=1) -> Summary.Image:
    from PIL import Image  # noqa: PLC0415 - Pillow is optional, needed for images only

    height, width, channels = hwc_uint8.shape
    image = Image.fromarray(hwc_uint8)
    if rescale != 1:
        image = image.resize((int(width * rescale), int(height * rescale)),
                             Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Summary.Image(height=height, width=width, colorspace=channels,
                         encoded_image_string=buffer.getvalue())


def image(tag, value, rescale=1, dataformats="NCHW") -> Summary:
    """Floats are read in [0, 1], uint8 in [0, 255] (as torch's writer); clipped."""
    hwc = to_hwc(to_numpy(value), dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    hwc = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=_png(hwc, rescale))])


def figure_to_image(figures, close=True) -> np.ndarray:
    """A matplotlib figure (or a list of them) rendered to a CHW (NCHW) uint8 array."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - optional
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    def render(figure):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        width, height = figure.canvas.get_width_height()
        rgba = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(height, width, 4)
        if close:
            plt.close(figure)
        return np.moveaxis(rgba[:, :, :3], 2, 0)

    if isinstance(figures, list):
        return np.stack([render(f) for f in figures])
    return render(figures)


# ------------------------------------------------------------------------------------- text
def text(tag, text_string) -> Summary:
    proto = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(
        tag=tag + "/text_summary", tensor=proto,
        metadata=_plugin("text", TextPluginData(version=0).SerializeToString()))])


# ---------------------------------------------------------------------------------- hparams
def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The three summaries the hparams plugin reads: the experiment (names of the
    hyperparameters and metrics), the session start (their values) and end."""

    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing "
                        "logged.")
    for key, values in domains.items():
        if key not in hparam_dict or not isinstance(values, list) or not all(
                isinstance(d, type(hparam_dict[key])) for d in values):
            raise TypeError(f"parameter: hparam_domain_discrete[{key}] should be a list of "
                            f"same type as hparam_dict[{key}].")
    start = hparams_data.SessionStartInfo()
    infos = []
    for key, value in hparam_dict.items():
        if value is None:
            continue
        if isinstance(value, Tensor):
            value = float(to_numpy(value).reshape(-1)[0])
        if isinstance(value, bool):
            field, kind = "bool_value", "DATA_TYPE_BOOL"
        elif isinstance(value, (int, float)):
            field, kind = "number_value", "DATA_TYPE_FLOAT64"
        elif isinstance(value, str):
            field, kind = "string_value", "DATA_TYPE_STRING"
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        setattr(start.hparams[key], field, value)
        domain = None
        if key in domains:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d})
                                                  for d in domains[key]])
        infos.append(api_pb2.HParamInfo(name=key, type=api_pb2.DataType.Value(kind),
                                        domain_discrete=domain))

    def summary(tag, **content):
        plugin = hparams_data.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **content)
        return Summary(value=[Summary.Value(tag=tag, metadata=_plugin(
            metadata.PLUGIN_NAME, plugin.SerializeToString()))])

    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict])
    end = hparams_data.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    return (summary(metadata.EXPERIMENT_TAG, experiment=experiment),
            summary(metadata.SESSION_START_INFO_TAG, session_start_info=start),
            summary(metadata.SESSION_END_INFO_TAG, session_end_info=end))


# ---------------------------------------------------------------------------------- pr curve
def compute_curve(labels, predictions, num_thresholds, weights=None) -> np.ndarray:
    """tp, fp, tn, fn, precision, recall at ``num_thresholds`` thresholds (the pr_curves
    plugin's layout, as its own summary computes it)."""
    weights = 1.0 if weights is None else weights
    buckets = np.floor(predictions * (num_thresholds - 1)).astype(np.int32)
    labels = labels.astype(np.float64)
    span = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(buckets, bins=num_thresholds, range=span,
                                 weights=labels * weights)
    fp_buckets, _ = np.histogram(buckets, bins=num_thresholds, range=span,
                                 weights=(1.0 - labels) * weights)
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def pr_curve_from_data(tag, data: np.ndarray, num_thresholds) -> Summary:
    content = PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    proto = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(),
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=s)
                                                           for s in data.shape]))
    return Summary(value=[Summary.Value(tag=tag, tensor=proto,
                                        metadata=_plugin("pr_curves", content))])


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None) -> Summary:
    num_thresholds = min(num_thresholds, 127)  # the plugin's limit
    return pr_curve_from_data(tag, compute_curve(labels, predictions, num_thresholds,
                                                 weights), num_thresholds)
