"""``SummaryWriter`` as ``torch.utils.tensorboard.SummaryWriter``: event files written by the
``tensorboard`` package's own ``EventFileWriter`` (a background thread that flushes every
``flush_secs`` or when ``max_queue`` events are pending), so TensorBoard reads them."""
from __future__ import annotations

import os
import socket
import time
import urllib.parse
from datetime import datetime

import numpy as np
from google.protobuf import text_format
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util.tensor_util import make_tensor_proto

from . import _summary
from ._graph import graph as _graph_def

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """Writes ``Event`` protobufs to one event file in ``log_dir``."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        log_dir = str(log_dir)
        self.event_writer = EventFileWriter(log_dir, max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime=None):
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        self.event_writer.reopen()


def _step(global_step):
    if global_step is None:
        return None
    if hasattr(global_step, "item"):
        global_step = global_step.item()
    return int(global_step)


class SummaryWriter:
    """Log scalars, histograms, images, figures, text, hyperparameters, embeddings, PR curves
    and the model's graph for TensorBoard, as ``torch.utils.tensorboard.SummaryWriter``.

    ``log_dir`` defaults to ``runs/<Mon>DD_HH-MM-SS_<host><comment>``. ``purge_step``: on a
    restart from a checkpoint, TensorBoard discards the events of a previous run at steps >=
    it. Values are written when the queue holds ``max_queue`` events, every ``flush_secs``
    seconds, on ``flush()`` and on ``close()`` (also as a context manager).
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        if not log_dir:
            current = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = None
        self._get_file_writer()
        self.default_bins = "tensorflow"

    def _get_file_writer(self):
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step, self.purge_step = self.purge_step, None
                self.file_writer.add_event(Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=step, session_log=SessionLog(
                    status=SessionLog.START)))
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def _write(self, summary, global_step, walltime):
        self._get_file_writer().add_summary(summary, _step(global_step), walltime)

    # --------------------------------------------------------------------------- scalars
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._write(_summary.scalar(tag, scalar_value, new_style, double_precision),
                    global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """One run per key, in ``log_dir/<main_tag>_<key>``, all under the tag ``main_tag``
        (TensorBoard draws them in one chart)."""
        walltime = time.time() if walltime is None else walltime
        base = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(base, main_tag.replace("/", "_") + "_" + tag)
            writer = self.all_writers.get(path)
            if writer is None:
                writer = FileWriter(path, self.max_queue, self.flush_secs,
                                    self.filename_suffix)
                self.all_writers[path] = writer
            writer.add_summary(_summary.scalar(main_tag, value), _step(global_step), walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        proto = make_tensor_proto(_summary.to_numpy(tensor))
        self._write(Summary(value=[Summary.Value(tag=tag, tensor=proto)]), global_step,
                    walltime)

    # ------------------------------------------------------------------------ histograms
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._write(_summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares,  # noqa: A002
                          bucket_limits, bucket_counts, global_step=None, walltime=None):
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._write(_summary.histogram_raw(tag, min, max, num, sum, sum_squares,
                                           bucket_limits, bucket_counts), global_step,
                    walltime)

    # ---------------------------------------------------------------------------- images
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: floats in [0, 1] or uint8 in [0, 255]; ``dataformats`` CHW, HWC, HW."""
        self._write(_summary.image(tag, img_tensor, dataformats=dataformats), global_step,
                    walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        """A batch of images tiled into one grid (8 per row)."""
        self._write(_summary.image(tag, img_tensor, dataformats=dataformats), global_step,
                    walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, tiled) rendered as an image."""
        if isinstance(figure, list):
            self.add_image(tag, _summary.figure_to_image(figure, close), global_step,
                           walltime, dataformats="NCHW")
        else:
            self.add_image(tag, _summary.figure_to_image(figure, close), global_step,
                           walltime, dataformats="CHW")

    # ------------------------------------------------------------------------------ text
    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._write(_summary.text(tag, text_string), global_step, walltime)

    # --------------------------------------------------------------------------- hparams
    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None):
        """The hyperparameters and final metrics of a run, in a run of its own
        (``log_dir/<run_name or the time>``), for the HParams tab."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        experiment, start, end = _summary.hparams(hparam_dict, metric_dict,
                                                  hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(
            time.time()))
        with SummaryWriter(log_dir=logdir) as writer:
            writer.file_writer.add_summary(experiment, global_step)
            writer.file_writer.add_summary(start, global_step)
            writer.file_writer.add_summary(end, global_step)
            for key, value in metric_dict.items():
                writer.add_scalar(key, value, global_step)

    # ------------------------------------------------------------------------- embedding
    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag="default", metadata_header=None):
        """Vectors (N, D) for the Projector: ``tensors.tsv``, ``metadata.tsv`` (labels),
        ``sprite.png`` (label images, NCHW in [0, 1]) under ``log_dir/<step>/<tag>`` and an
        entry in ``log_dir/projector_config.pbtxt``."""
        mat = _summary.to_numpy(mat)
        if mat.ndim != 2:
            raise AssertionError("mat should be 2D, where mat.size(0) is the number of data "
                                 "points")
        step = 0 if global_step is None else _step(global_step)
        subdir = f"{str(step).zfill(5)}/{self._encode(tag)}"
        save_path = os.path.join(self._get_file_writer().get_logdir(), subdir)
        os.makedirs(save_path, exist_ok=True)
        if metadata is not None:
            if len(metadata) != mat.shape[0]:
                raise AssertionError("#labels should equal with #data points")
            if metadata_header:
                if len(metadata_header) != len(metadata[0]):
                    raise AssertionError("len of header must be equal to the number of "
                                         "columns in metadata")
                lines = ["\t".join(str(e) for e in row)
                         for row in [metadata_header, *metadata]]
            else:
                lines = [str(m) for m in metadata]
            with open(os.path.join(save_path, "metadata.tsv"), "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        if label_img is not None:
            images = _summary.to_numpy(label_img)
            if images.shape[0] != mat.shape[0]:
                raise AssertionError("#images should equal with #data points")
            self._sprite(images, save_path)
        with open(os.path.join(save_path, "tensors.tsv"), "w", encoding="utf-8") as f:
            for row in mat:
                f.write("\t".join(str(v.item()) for v in row) + "\n")
        info = EmbeddingInfo(tensor_name=f"{tag}:{str(step).zfill(5)}",
                             tensor_path=f"{subdir}/tensors.tsv")
        if metadata is not None:
            info.metadata_path = f"{subdir}/metadata.tsv"
        if label_img is not None:
            info.sprite.image_path = f"{subdir}/sprite.png"
            info.sprite.single_image_dim.extend([images.shape[3], images.shape[2]])
        config_path = os.path.join(self._get_file_writer().get_logdir(),
                                   "projector_config.pbtxt")
        config = ProjectorConfig()
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                text_format.Parse(f.read(), config)
        config.embeddings.add().CopyFrom(info)
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(text_format.MessageToString(config))

    @staticmethod
    def _encode(rawstr):
        # the projector reads these names from a URL: escape what a path cannot hold
        return urllib.parse.quote(rawstr, safe="")

    @staticmethod
    def _sprite(images, save_path):
        from PIL import Image  # noqa: PLC0415 - optional

        n = images.shape[0]
        side = int(np.ceil(n ** 0.5))
        chw = _summary.grid(images, ncols=side)
        square = np.zeros((chw.shape[2], chw.shape[2], 3))
        square[:chw.shape[1]] = chw.transpose(1, 2, 0)
        Image.fromarray(np.uint8((square * 255).clip(0, 255))).save(
            os.path.join(save_path, "sprite.png"), format="PNG")

    # -------------------------------------------------------------------------- pr curves
    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127,
                     weights=None, walltime=None):
        labels, predictions = _summary.to_numpy(labels), _summary.to_numpy(predictions)
        self._write(_summary.pr_curve(tag, labels, predictions, num_thresholds, weights),
                    global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts,
                         true_negative_counts, false_negative_counts, precision, recall,
                         global_step=None, num_thresholds=127, weights=None, walltime=None):
        data = np.stack([_summary.to_numpy(v) for v in (
            true_positive_counts, false_positive_counts, true_negative_counts,
            false_negative_counts, precision, recall)])
        self._write(_summary.pr_curve_from_data(tag, data, min(num_thresholds, 127)),
                    global_step, walltime)

    # ----------------------------------------------------------------------------- graph
    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The model's graph, recorded by running it once on ``input_to_model``
        (``use_strict_trace`` is accepted for torch's signature: dark records, it does not
        trace)."""
        self._get_file_writer().add_graph(_graph_def(model, input_to_model, verbose))

    # ------------------------------------------------------------------------- lifecycle
    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
