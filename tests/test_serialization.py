"""dark.save / dark.load (PyTorch's checkpoint format, both ways) and safetensors."""
from __future__ import annotations

import collections
import importlib.util
import io
import json
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
from dark import _torch_pickle

# bfloat16 tensors load as dark.bfloat16 with the optional ml_dtypes, as float32 without it
BF16_LOADS_AS = dark.bfloat16 if importlib.util.find_spec("ml_dtypes") else dark.float32

try:
    import safetensors.numpy as safetensors_numpy
except ImportError:
    safetensors_numpy = None

TESTS = pathlib.Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
          "complex64", "complex128"]


def _array(dtype: str, shape=(2, 3)) -> np.ndarray:
    values = np.arange(int(np.prod(shape))).reshape(shape) - 2
    if dtype == "bool":
        return values % 2 == 0
    if dtype == "uint8":
        return (values + 250).astype(np.uint8)
    if dtype.startswith("complex"):
        return (values + 0.5j * values).astype(dtype)
    return (values * (0.5 if dtype.startswith("float") else 1)).astype(dtype)


def _roundtrip(obj, path, **load_args):
    dark.save(obj, path)
    return dark.load(path, **load_args)


def _assert_tensor(tensor, expected: np.ndarray, dtype=None):
    assert isinstance(tensor, dark.Tensor)
    assert tensor.dtype is (dtype or dark._backend.from_numpy_dtype(expected.dtype))
    assert tuple(tensor.shape) == expected.shape
    values = tensor.detach().cpu()
    if values.dtype is dark.bfloat16:
        values = values.float()  # exact
    np.testing.assert_array_equal(values.numpy(), expected)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_dtypes(dtype, legacy, tmp_path):
    array = _array(dtype)
    path = tmp_path / "x.pt"
    dark.save(dark.from_numpy(array.copy()), path, _use_new_zipfile_serialization=not legacy)
    _assert_tensor(dark.load(path), array)


@pytest.mark.parametrize("make", [
    lambda a: a[1, 1, ...],        # 0-d view
    lambda a: a[:0],               # empty
    lambda a: a.T,                 # transposed (F-ordered view)
    lambda a: a[:, ::2],           # strided
    lambda a: a[::-1],             # negative strides: saved as a copy
    lambda a: np.broadcast_to(a[:1], (3, 3)),  # stride 0
], ids=["0d", "empty", "transposed", "strided", "reversed", "expanded"])
def test_roundtrip_views(make, tmp_path):
    base = np.arange(9, dtype=np.float32).reshape(3, 3)
    expected = make(base)
    loaded = _roundtrip(dark.from_numpy(expected), tmp_path / "x.pt")
    _assert_tensor(loaded, np.array(expected))


@pytest.mark.parametrize("protocol", [1, 2, 3, 4, 5])
def test_pickle_protocols(protocol, tmp_path):
    path = tmp_path / "x.pt"
    base = dark.arange(4.0)
    value = {"x": base, "tail": base[2:], "dtype": dark.int8, "bytes": b"xy", "set": {1}}
    dark.save(value, path, pickle_protocol=protocol)
    loaded = dark.load(path)
    _assert_tensor(loaded["tail"], np.array([2.0, 3.0], np.float32))
    assert loaded["dtype"] is dark.int8 and loaded["bytes"] == b"xy" and loaded["set"] == {1}


def test_unsupported_contents(tmp_path):
    path = tmp_path / "x.pt"
    _write_zip(path, b"\x80\x02ctorch\nuint16\n.")
    with pytest.raises(RuntimeError, match="dtype torch.uint16"):
        dark.load(path)
    _write_zip(path, b"\x80\x02N.", {"x": b""})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("archive/constants.pkl", b"")
    with pytest.raises(RuntimeError, match="TorchScript"):
        dark.load(path)


def test_roundtrip_scalar_tensor_and_requires_grad(tmp_path):
    loaded = _roundtrip({"s": dark.tensor(3.5), "w": dark.ones(2, requires_grad=True)},
                        tmp_path / "x.pt")
    _assert_tensor(loaded["s"], np.array(3.5, np.float32))
    assert loaded["w"].requires_grad and loaded["w"].is_leaf
    assert not loaded["s"].requires_grad


def test_views_share_one_storage(tmp_path):
    base = dark.arange(6.0).reshape(2, 3)
    path = tmp_path / "x.pt"
    dark.save({"base": base, "column": base[:, 1], "t": base.t()}, path)
    with zipfile.ZipFile(path) as archive:
        assert [n for n in archive.namelist() if "/data/" in n] == ["archive/data/0"]
    loaded = dark.load(path)
    _assert_tensor(loaded["column"], np.array([1.0, 4.0], np.float32))
    loaded["base"].numpy()[0, 1] = 100.0  # a write through one shows in the others, as in torch
    assert loaded["column"][0].item() == 100.0 and loaded["t"][1, 0].item() == 100.0


def test_python_values_roundtrip(tmp_path):
    value = {"int": 3, "float": 0.5, "str": "adam", "none": None, "bool": True,
             "tuple": (0.9, 0.999), "list": [1, [2, 3]], "bytes": b"\x00\xff", "set": {1, 2},
             "frozenset": frozenset({3}), "complex": 1 + 2j, "big": 2 ** 70,
             "ordered": collections.OrderedDict(b=1, a=2), "dtype": dark.float16,
             "device": dark.device("cpu"), "size": dark.Size([2, 3])}
    loaded = _roundtrip(value, tmp_path / "x.pt")
    assert loaded == value
    assert type(loaded["ordered"]) is collections.OrderedDict
    assert loaded["dtype"] is dark.float16 and type(loaded["size"]) is dark.Size


def test_nested_checkpoint_restores_model_and_optimizer(tmp_path):
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(4, 3), dark.nn.ReLU(), dark.nn.Linear(3, 2))
    optimizer = dark.optim.Adam(model.parameters(), lr=0.01)
    inputs = dark.randn(5, 4)
    for _ in range(2):
        optimizer.zero_grad()
        model(inputs).pow(2).mean().backward()
        optimizer.step()
    path = tmp_path / "checkpoint.pt"
    dark.save({"epoch": 2, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

    checkpoint = dark.load(path)
    assert checkpoint["epoch"] == 2
    fresh = dark.nn.Sequential(dark.nn.Linear(4, 3), dark.nn.ReLU(), dark.nn.Linear(3, 2))
    fresh.load_state_dict(checkpoint["model"])
    np.testing.assert_array_equal(fresh(inputs).detach().numpy(),
                                  model(inputs).detach().numpy())
    fresh_optimizer = dark.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_optimizer.load_state_dict(checkpoint["optimizer"])
    saved = optimizer.state_dict()
    assert fresh_optimizer.state_dict()["param_groups"] == saved["param_groups"]
    for index, state in saved["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(
                fresh_optimizer.state_dict()["state"][index][key].numpy(), value.numpy())


def test_parameter_loads_as_parameter(tmp_path):
    weight = dark.nn.Parameter(dark.ones(2, 2))
    frozen = dark.nn.Parameter(dark.zeros(3), requires_grad=False)
    loaded = _roundtrip([weight, frozen, weight], tmp_path / "x.pt")
    assert type(loaded[0]) is dark.nn.Parameter and loaded[0].requires_grad
    assert type(loaded[1]) is dark.nn.Parameter and not loaded[1].requires_grad
    assert loaded[2] is loaded[0]  # one object saved twice loads as one object


def test_zip64_records_stay_aligned(tmp_path, monkeypatch):
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)  # records over 100 bytes take zip64 sizes
    path = tmp_path / "x.pt"
    dark.save({"a": dark.arange(1000.0), "b": dark.ones(3)}, path)
    with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            assert _torch_pickle._data_offset(file, info) % 64 == 0, info.filename
    _assert_tensor(dark.load(path, mmap=True)["a"], np.arange(1000, dtype=np.float32))
    if torch is not None:
        assert torch.load(path)["a"][-1].item() == 999.0


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    dark.save({"x": dark.arange(3)}, buffer)
    buffer.seek(0)
    _assert_tensor(dark.load(buffer)["x"], np.arange(3))

    class Stream(io.RawIOBase):  # a pipe: no seek
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readinto(self, view):
            return self.inner.readinto(view)

        def readable(self):
            return True

    _assert_tensor(dark.load(Stream(buffer.getvalue()))["x"], np.arange(3))
    with open(tmp_path / "x.pt", "wb") as file:
        dark.save(dark.ones(2), file)
    _assert_tensor(dark.load(str(tmp_path / "x.pt")), np.ones(2, np.float32))


def test_mmap_load_is_copy_on_write(tmp_path):
    path = tmp_path / "x.pt"
    dark.save({"a": dark.arange(4.0), "b": dark.ones(2, 2, dtype=dark.int32)}, path)
    before = path.read_bytes()
    loaded = dark.load(path, mmap=True)
    _assert_tensor(loaded["a"], np.arange(4, dtype=np.float32))
    _assert_tensor(loaded["b"], np.ones((2, 2), np.int32))
    loaded["a"].add_(1)
    assert loaded["a"][0].item() == 1.0 and path.read_bytes() == before
    with pytest.raises(ValueError, match="f must be a file path"):
        dark.load(io.BytesIO(before), mmap=True)
    dark.save(dark.ones(1), path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used"):
        dark.load(path, mmap=True)


def test_argument_errors(tmp_path):
    path = tmp_path / "x.pt"
    dark.save(dark.ones(1), path)
    with pytest.raises(TypeError, match="map_location must be"):
        dark.load(path, map_location=3)
    with pytest.raises(TypeError, match="unexpected arguments"):
        dark.load(path, fix_imports=False)
    with pytest.raises(RuntimeError, match="Parent directory"):
        dark.save(dark.ones(1), tmp_path / "missing" / "x.pt")
    with pytest.raises(FileNotFoundError):
        dark.load(tmp_path / "absent.pt")


# ----------------------------------------------------------------------------- map_location
def _tensor_pickle(size, stride, offset=0, numel=4, location="cpu",
                   storage_type="FloatStorage") -> bytes:
    """A data.pkl holding one tensor (float32 unless told), written opcode by opcode as torch
    writes it."""
    def text(value: str) -> bytes:
        return b"X" + struct.pack("<I", len(value)) + value.encode()

    def ints(values) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"

    storage = (b"(" + text("storage") + f"ctorch\n{storage_type}\n".encode() + text("0")
               + text(location)
               + b"J" + struct.pack("<i", numel) + b"tQ")
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"J"
            + struct.pack("<i", offset) + ints(size) + ints(stride)
            + b"\x89ccollections\nOrderedDict\n)Rt" + b"R.")


def _write_zip(path, data_pkl: bytes, records: dict | None = None, prefix="archive") -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{prefix}/data.pkl", data_pkl)
        for key, data in (records or {}).items():
            archive.writestr(f"{prefix}/data/{key}", data)


@pytest.fixture
def cuda_checkpoint(tmp_path):
    """A checkpoint whose storage was saved from 'cuda:0'."""
    path = tmp_path / "cuda.pt"
    _write_zip(path, _tensor_pickle((2,), (1,), numel=2, location="cuda:0"),
               {"0": np.array([1.5, -2.0], np.float32).tobytes()})
    return path


@pytest.mark.parametrize("map_location", [
    None, "cpu", dark.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cuda:0"},
    lambda storage, location: storage, lambda storage, location: None,
    lambda storage, location: storage.cpu(),
], ids=["none", "str", "device", "dict", "dict-other", "callable", "callable-none",
        "callable-cpu"])
def test_map_location_cpu(map_location, tmp_path):
    loaded = _roundtrip({"x": dark.arange(3.0)}, tmp_path / "x.pt", map_location=map_location)
    assert loaded["x"].device == dark.device("cpu")
    _assert_tensor(loaded["x"], np.arange(3, dtype=np.float32))


@pytest.mark.parametrize("map_location", [
    "cpu", dark.device("cpu"), {"cuda:0": "cpu"}, {"cuda:0": dark.device("cpu")},
    lambda storage, location: storage.cpu() if location == "cuda:0" else None,
], ids=["str", "device", "dict", "dict-device", "callable"])
def test_map_cuda_checkpoint_to_cpu(map_location, cuda_checkpoint):
    loaded = dark.load(cuda_checkpoint, map_location=map_location)
    _assert_tensor(loaded, np.array([1.5, -2.0], np.float32))
    assert loaded.device == dark.device("cpu")


def test_cuda_checkpoint_without_gpu(cuda_checkpoint):
    if dark.cuda.is_available():
        loaded = dark.load(cuda_checkpoint)
        assert loaded.device == dark.device("cuda:0")
        return
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        dark.load(cuda_checkpoint)


def test_unknown_location(tmp_path):
    path = tmp_path / "x.pt"
    _write_zip(path, _tensor_pickle((1,), (1,), numel=1, location="mps"),
               {"0": np.zeros(1, np.float32).tobytes()})
    with pytest.raises(RuntimeError, match="tagged with mps"):
        dark.load(path)


def test_cuda_save_and_load(device, tmp_path):
    x = dark.arange(6.0, device=device).reshape(2, 3)
    path = tmp_path / "x.pt"
    dark.save({"x": x, "row": x[1]}, path)
    with zipfile.ZipFile(path) as archive:
        location = "cpu" if device == "cpu" else "cuda:0"
        assert location.encode() in archive.read("archive/data.pkl")
    loaded = dark.load(path)
    assert loaded["x"].device == x.device
    _assert_tensor(loaded["row"], np.array([3.0, 4.0, 5.0], np.float32))
    assert dark.load(path, map_location="cpu")["x"].device == dark.device("cpu")


# ----------------------------------------------------------------------------- atomicity
class _Unpicklable:
    def __reduce__(self):
        raise pickle.PicklingError("cannot pickle this on purpose")


def _assert_only(directory, names):
    assert sorted(os.listdir(directory)) == sorted(names)  # no temporary file left behind


def test_failed_pickling_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.pt"
    dark.save({"w": dark.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(pickle.PicklingError, match="on purpose"):
        dark.save({"a": dark.zeros(1000), "b": dark.ones(5), "bad": _Unpicklable()}, path)
    assert path.read_bytes() == before
    _assert_tensor(dark.load(path)["w"], np.ones(3, np.float32))
    _assert_only(tmp_path, ["model.pt"])


def test_failure_half_way_through_the_data_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    dark.save({"w": dark.ones(3)}, path)
    before = path.read_bytes()
    write_record = _torch_pickle._write_record

    def crash_on_data(archive, name, data, start):
        if "/data/1" in name:
            raise OSError("disk full")
        write_record(archive, name, data, start)

    monkeypatch.setattr(_torch_pickle, "_write_record", crash_on_data)
    with pytest.raises(OSError, match="disk full"):
        dark.save({"a": dark.zeros(1000), "b": dark.ones(5)}, path)
    assert path.read_bytes() == before
    _assert_only(tmp_path, ["model.pt"])


def test_overwrite_keeps_mode_and_symlink(tmp_path):
    path = tmp_path / "model.pt"
    dark.save(dark.ones(1), path)
    os.chmod(path, 0o600)
    link = tmp_path / "latest.pt"
    link.symlink_to(path)
    dark.save(dark.zeros(2), link)
    assert link.is_symlink()
    assert os.stat(path).st_mode & 0o777 == 0o600
    _assert_tensor(dark.load(path), np.zeros(2, np.float32))


# ----------------------------------------------------------------------------- safety
class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, _Point) and other.x == self.x


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _RunsCommand(f"touch {marker}")}, protocol=2)
    path = tmp_path / "evil.pt"
    _write_zip(path, payload)
    with pytest.raises(pickle.UnpicklingError,
                       match=r"(?s)Weights only load failed.*Unsupported global: GLOBAL "
                             rf"{os.system.__module__}\.system"):
        dark.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("contents", ["command", "class", "dict", "int"])
def test_weights_only_messages_are_true(contents, weights_only, tmp_path):
    """A pickle that dark.save / torch.save did not write is not loaded (nor run), whatever
    weights_only says, and the message says so rather than suggest weights_only=False; on a
    real checkpoint (zip or legacy), weights_only=False does load what True refused."""
    marker = tmp_path / "pwned"
    value = {"command": {"w": _RunsCommand(f"touch {marker}")}, "class": {"p": _Point(1)},
             "dict": {"w": [1, 2]}, "int": 7}[contents]
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(RuntimeError, match="plain.pkl is not a valid checkpoint: .*not a "
                       "checkpoint written by dark.save or torch.save") as info:
        dark.load(path, weights_only=weights_only)
    assert "weights_only" not in str(info.value).replace(str(path), "")
    if contents in ("command", "class"):
        assert ("system" if contents == "command" else "_Point") in str(info.value)
    assert not marker.exists()
    if contents != "class":
        return
    for legacy in (False, True):
        dark.save(value, path, _use_new_zipfile_serialization=not legacy)
        if weights_only:
            with pytest.raises(pickle.UnpicklingError, match="`weights_only` set to `False` "
                               "will likely succeed"):
                dark.load(path, weights_only=True)
        else:
            assert dark.load(path, weights_only=False) == value


def test_custom_classes_need_weights_only_false_or_allowlisting(tmp_path):
    path = tmp_path / "x.pt"
    dark.save({"point": _Point(3), "w": dark.ones(1)}, path)
    with pytest.raises(pickle.UnpicklingError, match="_Point was not an allowed global"):
        dark.load(path)
    assert dark.load(path, weights_only=False)["point"] == _Point(3)
    with dark.serialization.safe_globals([_Point]):
        assert dark.load(path)["point"] == _Point(3)
    with pytest.raises(pickle.UnpicklingError):
        dark.load(path)  # the allowlist ended with the block


def test_out_of_bounds_tensor_is_refused(tmp_path):
    path = tmp_path / "x.pt"
    _write_zip(path, _tensor_pickle((100,), (1,), numel=4), {"0": bytes(16)})
    with pytest.raises(RuntimeError, match="not a valid checkpoint.*does not fit"):
        dark.load(path)
    _write_zip(path, _tensor_pickle((2,), (-1,), numel=4), {"0": bytes(16)})
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        dark.load(path)


def _corruptions(data: bytes):
    flipped = bytearray(data)
    flipped[data.index(b"\x00\x00\x80\x3f")] ^= 0xFF  # inside the storage bytes
    return {"empty": b"", "garbage": b"not a checkpoint at all", "half": data[:len(data) // 2],
            "no-end": data[:-10], "crc": bytes(flipped)}


@pytest.mark.parametrize("kind", ["empty", "garbage", "half", "no-end", "crc"])
def test_corrupt_zip_files(kind, tmp_path):
    path = tmp_path / "x.pt"
    dark.save({"w": dark.ones(50)}, path)
    path.write_bytes(_corruptions(path.read_bytes())[kind])
    with pytest.raises(RuntimeError, match=rf"{path.name} is not a valid checkpoint"):
        dark.load(path)


@pytest.mark.parametrize("cut", [10, 60, -300, -8])
def test_truncated_legacy_files(cut, tmp_path):
    path = tmp_path / "x.pt"
    dark.save({"w": dark.ones(100)}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(RuntimeError, match="is not a valid checkpoint"):
        dark.load(path)


def _set_central_sizes(path, name: str, compressed: int, size: int) -> None:
    """Make the central directory claim these sizes for the record ``name``."""
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x01\x02")
    while True:
        (length,) = struct.unpack("<H", data[start + 28:start + 30])
        if data[start + 46:start + 46 + length].decode() == name:
            data[start + 20:start + 28] = struct.pack("<II", compressed, size)
            break
        start = data.index(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("record, compressed, size, message", [
    ("data.pkl", 0xFFFFFFF0, 0xFFFFFFF0, "record 'archive/data.pkl' claims 4294967280 bytes "
     "but the file has"),
    ("data/0", 0xFFFFFFF0, 0xFFFFFFF0, "record 'archive/data/0' claims 4294967280 bytes"),
    ("data/0", 16, 32, "stored record 'archive/data/0' claims 32 bytes and 16 stored"),
], ids=["pickle", "storage", "stored-sizes"])
def test_record_sizes_beyond_the_file(record, compressed, size, message, tmp_path):
    path = tmp_path / "x.pt"
    _write_zip(path, _tensor_pickle((4,), (1,), numel=4), {"0": bytes(16)})
    _set_central_sizes(path, f"archive/{record}", compressed, size)
    with pytest.raises(RuntimeError, match=f"x.pt is not a valid checkpoint: {message}"):
        dark.load(path)


def test_deflated_record_claiming_more_than_deflate_gives(tmp_path):
    path = tmp_path / "x.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", _tensor_pickle((4,), (1,), numel=4))
        archive.writestr("archive/data/0", bytes(16))
    compressed = zipfile.ZipFile(path).getinfo("archive/data/0").compress_size
    _set_central_sizes(path, "archive/data/0", compressed, 2 ** 31)
    with pytest.raises(RuntimeError, match=f"deflated record 'archive/data/0' claims {2 ** 31} "
                       f"bytes from {compressed} compressed"):
        dark.load(path)


@pytest.mark.parametrize("error, message", [
    (EOFError(), "x.pt is not a valid checkpoint: the data ends early \\(EOFError\\)$"),
    (ValueError(), "x.pt is not a valid checkpoint: ValueError raised without a message$"),
    (KeyError("archive/data/7"), "x.pt is not a valid checkpoint: archive/data/7 \\(KeyError\\)$"),
    (MemoryError(), "dark.load of .*x.pt failed: MemoryError raised without a message$"),
], ids=["EOFError", "ValueError", "KeyError", "MemoryError"])
def test_load_errors_name_their_cause(error, message, tmp_path, monkeypatch):
    path = tmp_path / "x.pt"
    dark.save(dark.ones(2), path)

    def fail(*args):
        raise error

    monkeypatch.setattr(_torch_pickle, "read_zip", fail)
    with pytest.raises(RuntimeError, match=message):
        dark.load(path)


def test_huge_tensor_geometry_is_refused(tmp_path):
    path = tmp_path / "x.pt"
    big = 2 ** 31 - 1
    _write_zip(path, _tensor_pickle((big, big, big), (0, 0, 0), numel=4), {"0": bytes(16)})
    with pytest.raises(RuntimeError, match=rf"x.pt is not a valid checkpoint: a tensor of size "
                       rf"\[{big}, {big}, {big}\] is larger than any array can be"):
        dark.load(path)


@pytest.mark.parametrize("opened", ["open", "stringio"])
def test_text_mode_file_is_refused(opened, tmp_path):
    path = tmp_path / "x.pt"
    dark.save(dark.ones(2), path)
    with (open(path, encoding="latin-1") if opened == "open" else io.StringIO("PK")) as file:
        with pytest.raises(TypeError, match="dark.load: the file object .* is in text mode "
                           r"\(it reads str\); open the file in binary mode, open\(path, 'rb'\)"):
            dark.load(file)


# ----------------------------------------------------------------------------- memory
def _traced_peak(load):
    """The result of ``load()`` and tracemalloc's peak while it ran (numpy traces its arrays'
    memory, so the peak counts the loaded tensors and every temporary)."""
    tracemalloc.start()
    try:
        result = load()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _deflate_zip(source, target) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED,
                                                         compresslevel=1) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))


@pytest.mark.parametrize("kind", ["stored", "deflated", "legacy", "bfloat16"])
def test_load_needs_little_more_memory_than_the_tensor(kind, tmp_path):
    """Records are read into the tensor's memory (pieces at a time where they are compressed
    or need converting), never as a whole bytes object beside it."""
    values = np.arange(4 * 2 ** 20, dtype=np.float32) * 0.25  # 16 MiB
    path = tmp_path / "x.pt"
    if kind == "bfloat16":  # the top halves of float32s; loads as bfloat16 (or those float32s)
        values = (values.view(np.uint32) & 0xFFFF0000).view(np.float32)
        top = (values.view(np.uint32) >> 16).astype("<u2")
        _write_zip(path, _tensor_pickle((values.size,), (1,), numel=values.size,
                                        storage_type="BFloat16Storage"), {"0": top.tobytes()})
        del top
    else:
        dark.save(dark.from_numpy(values), path, _use_new_zipfile_serialization=kind != "legacy")
    if kind == "deflated":
        _deflate_zip(path, tmp_path / "deflated.pt")
        path = tmp_path / "deflated.pt"
        assert {info.compress_type for info in zipfile.ZipFile(path).infolist()} == {
            zipfile.ZIP_DEFLATED}
    loaded, peak = _traced_peak(lambda: dark.load(path))
    _assert_tensor(loaded, values, BF16_LOADS_AS if kind == "bfloat16" else None)
    assert peak < 1.2 * values.nbytes, f"peak {peak / values.nbytes:.2f}x the tensor's bytes"


def test_short_storage_record(tmp_path):
    path = tmp_path / "x.pt"
    _write_zip(path, _tensor_pickle((4,), (1,), numel=4), {"0": bytes(8)})
    with pytest.raises(RuntimeError, match="holds 8 bytes, 16 expected"):
        dark.load(path)


# ----------------------------------------------------------------------------- torch interop
@requires_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_dark_save_torch_load(legacy, tmp_path):
    path = tmp_path / "x.pt"
    base = dark.arange(6.0).reshape(2, 3)
    tensors = {name: dark.from_numpy(_array(name)) for name in DTYPES}
    dark.save({"tensors": tensors, "column": base[:, 1], "base": base, "epoch": 7,
               "param": dark.nn.Parameter(dark.ones(2)), "dtype": dark.int16,
               "size": dark.Size([4]), "device": dark.device("cpu")}, path,
              _use_new_zipfile_serialization=not legacy)
    loaded = torch.load(path)  # weights_only=True: dark writes only what torch allows
    for name, array in ((n, _array(n)) for n in DTYPES):
        assert loaded["tensors"][name].dtype == getattr(torch, name)
        np.testing.assert_array_equal(loaded["tensors"][name].numpy(), array)
    assert loaded["column"].tolist() == [1.0, 4.0]
    assert loaded["column"].untyped_storage().data_ptr() == \
        loaded["base"].untyped_storage().data_ptr()
    assert type(loaded["param"]) is torch.nn.Parameter and loaded["param"].requires_grad
    assert loaded["dtype"] is torch.int16 and loaded["size"] == torch.Size([4])
    assert loaded["device"] == torch.device("cpu") and loaded["epoch"] == 7
    if not legacy:
        assert torch.load(path, mmap=True)["base"].tolist() == base.tolist()


@requires_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_save_dark_load(legacy, tmp_path):
    base = torch.arange(12.0).reshape(3, 4)
    tensors = {name: torch.from_numpy(_array(name)) for name in DTYPES}
    path = tmp_path / "some name.ckpt"  # torch names the archive's folder after the file
    torch.save({"tensors": tensors, "base": base, "column": base[:, 1], "t": base.t(),
                "tail": base.view(-1)[5:], "bf16": base.to(torch.bfloat16),
                "param": torch.nn.Parameter(torch.ones(2)), "dtype": torch.bfloat16,
                "size": torch.Size([2]), "device": torch.device("cuda", 1)}, path,
               _use_new_zipfile_serialization=not legacy)
    loaded = dark.load(path)
    for name in DTYPES:
        _assert_tensor(loaded["tensors"][name], _array(name))
    expected = np.arange(12, dtype=np.float32).reshape(3, 4)
    _assert_tensor(loaded["column"], expected[:, 1])
    _assert_tensor(loaded["t"], expected.T)
    _assert_tensor(loaded["tail"], expected.reshape(-1)[5:])
    _assert_tensor(loaded["bf16"], expected, BF16_LOADS_AS)
    assert np.shares_memory(loaded["column"].numpy(), loaded["base"].numpy())
    assert type(loaded["param"]) is dark.nn.Parameter and loaded["param"].requires_grad
    assert loaded["dtype"] is BF16_LOADS_AS and loaded["size"] == dark.Size([2])
    assert loaded["device"] == dark.device("cuda:1")


@requires_torch
def test_torch_buffer_archive_and_optimizer_state():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    loaded = dark.load(buffer)
    assert list(loaded["model"]) == ["weight", "bias"]
    _assert_tensor(loaded["model"]["weight"], model.weight.detach().numpy())
    state = optimizer.state_dict()
    assert loaded["optimizer"]["param_groups"] == state["param_groups"]
    _assert_tensor(loaded["optimizer"]["state"][0]["momentum_buffer"],
                   state["state"][0]["momentum_buffer"].numpy())


@requires_torch
def test_torch_whole_module_with_weights_only_false():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        dark.load(buffer)
    buffer.seek(0)
    loaded = dark.load(buffer, weights_only=False)
    assert isinstance(loaded, dark.nn.Sequential)
    inputs = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded(dark.from_numpy(inputs)).detach().numpy(),
                               model(torch.from_numpy(inputs)).detach().numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- the fixture
def check_torch_fixture(path) -> None:
    """Checks a checkpoint written by scripts/make_torch_fixture.py, with dark alone."""
    checkpoint = dark.load(path)
    model, inputs = checkpoint["model"], checkpoint["inputs"]
    assert checkpoint["epoch"] == 2
    assert list(model) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    hidden = (inputs @ model["0.weight"].T + model["0.bias"]).relu()
    outputs = hidden @ model["2.weight"].T + model["2.bias"]
    np.testing.assert_allclose(outputs.numpy(), checkpoint["outputs"].numpy(), rtol=1e-5,
                               atol=1e-6)
    network = dark.nn.Sequential(dark.nn.Linear(4, 3), dark.nn.ReLU(), dark.nn.Linear(3, 2))
    network.load_state_dict(model)
    np.testing.assert_allclose(network(inputs).detach().numpy(),
                               checkpoint["outputs"].numpy(), rtol=1e-5, atol=1e-6)

    optimizer = checkpoint["optimizer"]
    group = optimizer["param_groups"][0]
    assert group["params"] == [0, 1, 2, 3] and group["betas"] == (0.9, 0.999)
    assert group["lr"] == 0.01 and group["foreach"] is None and group["amsgrad"] is False
    for index, name in enumerate(model):
        state = optimizer["state"][index]
        assert sorted(state) == ["exp_avg", "exp_avg_sq", "step"]
        assert state["step"].item() == 2.0 and state["exp_avg"].shape == model[name].shape
    adam = dark.optim.Adam(network.parameters(), lr=0.5)
    adam.load_state_dict(optimizer)
    assert adam.param_groups[0]["lr"] == 0.01

    extras = checkpoint["extras"]
    base = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    assert type(extras["parameter"]) is dark.nn.Parameter and extras["parameter"].requires_grad
    np.testing.assert_array_equal(extras["parameter"].detach().numpy(), model["2.weight"].numpy())
    for name, expected in [("base", base), ("column", base[:, 1]), ("transposed", base.T),
                           ("bfloat16", base), ("float16", base.astype(np.float16)),
                           ("float64", base.astype(np.float64)), ("int64", np.arange(-3, 3)),
                           ("int32", np.arange(-3, 3, dtype=np.int32)),
                           ("int16", np.arange(-3, 3, dtype=np.int16)),
                           ("int8", np.arange(-3, 3, dtype=np.int8)),
                           ("uint8", np.arange(250, 256, dtype=np.uint8)),
                           ("bool", np.arange(6) % 2 == 0), ("scalar", np.array(7)),
                           ("empty", np.zeros((0, 2), np.float32))]:
        _assert_tensor(extras[name], expected, BF16_LOADS_AS if name == "bfloat16" else None)
    assert np.shares_memory(extras["column"].numpy(), extras["base"].numpy())
    assert extras["size"] == dark.Size([2, 3]) and extras["dtype"] is dark.float16
    assert extras["device"] == dark.device("cpu") and extras["bytes"] == b"dark"
    assert extras["set"] == {1, 2}


def test_torch_fixture_loads_without_torch():
    script = (f"import sys; sys.modules['torch'] = None; sys.path.insert(0, {str(TESTS)!r}); "
              "from test_serialization import check_torch_fixture; "
              f"check_torch_fixture({str(FIXTURES / 'torch_mlp.pt')!r}); "
              f"check_torch_fixture({str(FIXTURES / 'torch_mlp_legacy.pt')!r}); "
              "assert sys.modules['torch'] is None; print('fixtures ok')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=TESTS.parent)
    assert result.returncode == 0, result.stderr
    assert "fixtures ok" in result.stdout


# ----------------------------------------------------------------------------- safetensors
def _safetensors_file(path, header: dict, data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("dtype", [d for d in DTYPES if not d.startswith("complex")])
def test_safetensors_roundtrip_dtypes(dtype, tmp_path):
    path = tmp_path / "x.safetensors"
    array = _array(dtype)
    dark.save_safetensors({"x": dark.from_numpy(array), "scalar": dark.tensor(2.0),
                           "empty": dark.zeros(0, 4), "t": dark.from_numpy(array.T)}, path,
                          metadata={"format": "pt"})
    loaded = dark.load_safetensors(path)
    _assert_tensor(loaded["x"], array)
    _assert_tensor(loaded["t"], array.T)
    _assert_tensor(loaded["scalar"], np.array(2.0, np.float32))
    _assert_tensor(loaded["empty"], np.zeros((0, 4), np.float32))
    assert sorted(dark.load(path)) == ["empty", "scalar", "t", "x"]  # load dispatches on suffix
    length = struct.unpack("<Q", path.read_bytes()[:8])[0]
    assert length % 8 == 0
    assert json.loads(path.read_bytes()[8:8 + length])["__metadata__"] == {"format": "pt"}


def test_safetensors_bfloat16_loads(tmp_path):
    path = tmp_path / "x.safetensors"
    values = np.array([1.5, -2.25, 1.5 * 2.0 ** 20], np.float32)  # exact in bfloat16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    _safetensors_file(path, {"b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}},
                      bf16.tobytes())
    _assert_tensor(dark.load_safetensors(path)["b"], values, BF16_LOADS_AS)


def test_safetensors_map_location_and_save_errors(tmp_path):
    path = tmp_path / "x.safetensors"
    dark.save_safetensors({"w": dark.ones(2)}, path)
    assert dark.load(path, map_location="cpu")["w"].device == dark.device("cpu")
    with pytest.raises(TypeError, match="dict of str to Tensor"):
        dark.save_safetensors({"w": np.ones(2)}, path)
    with pytest.raises(TypeError, match="metadata must be"):
        dark.save_safetensors({"w": dark.ones(2)}, path, metadata={"epoch": 3})
    with pytest.raises(TypeError, match="complex64"):
        dark.save_safetensors({"w": dark.ones(2, dtype=dark.complex64)}, path)
    with pytest.raises(ValueError, match="reserved"):
        dark.save_safetensors({"__metadata__": dark.ones(2)}, path)
    _assert_tensor(dark.load_safetensors(path)["w"], np.ones(2, np.float32))
    _assert_only(tmp_path, ["x.safetensors"])


@pytest.mark.parametrize("header, data, message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4), "holds 4"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), "needs 12 bytes"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, bytes(8), "contiguous"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), "invalid shape"),
    ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), "exactly dtype"),
    ([1, 2], b"", "not a JSON object"),
], ids=["short-data", "wrong-size", "overlap", "negative", "missing-key", "not-object"])
def test_safetensors_invalid_files(header, data, message, tmp_path):
    path = tmp_path / "x.safetensors"
    _safetensors_file(path, header, data)
    with pytest.raises(RuntimeError, match=f"not a valid safetensors file: .*{message}"):
        dark.load_safetensors(path)


def test_safetensors_bad_header_and_dtype(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 10 ** 6) + b"{}")
    with pytest.raises(RuntimeError, match="does not fit"):
        dark.load_safetensors(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(RuntimeError, match="not a valid safetensors file"):
        dark.load_safetensors(path)
    _safetensors_file(path, {"a": {"dtype": "U16", "shape": [1], "data_offsets": [0, 2]}},
                      bytes(2))
    with pytest.raises(TypeError, match="dtype U16, which dark cannot load"):
        dark.load_safetensors(path)


@pytest.mark.parametrize("shape, offsets, message", [
    ([2 ** 32, 2 ** 32], [0, 0], f"needs {2 ** 64 * 4} bytes, its data_offsets span 0"),
    ([2 ** 62, 4], [0, 0], f"needs {2 ** 64 * 4} bytes, its data_offsets span 0"),
    ([1] * 65, [0, 4], "65 dimensions, more than the 64"),
], ids=["wraps-to-zero", "wraps-int64", "too-many-dimensions"])
def test_safetensors_sizes_beyond_int64(shape, offsets, message, tmp_path):
    path = tmp_path / "big.safetensors"
    _safetensors_file(path, {"huge": {"dtype": "F32", "shape": shape, "data_offsets": offsets}},
                      bytes(offsets[1]))
    for load in (dark.load_safetensors, dark.load):
        with pytest.raises(RuntimeError) as info:
            load(path)
        assert str(info.value).startswith(f"{path} is not a valid safetensors file: tensor "
                                          f"'huge' ")
        assert message in str(info.value)


@pytest.mark.skipif(safetensors_numpy is None, reason="the safetensors package is not installed")
def test_safetensors_package_interop(tmp_path):
    arrays = {name: _array(name) for name in DTYPES if not name.startswith("complex")}
    theirs = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(arrays, str(theirs), metadata={"k": "v"})
    loaded = dark.load_safetensors(theirs)
    for name, array in arrays.items():
        _assert_tensor(loaded[name], array)
    ours = tmp_path / "ours.safetensors"
    dark.save_safetensors({n: dark.from_numpy(a) for n, a in arrays.items()}, ours)
    for name, array in safetensors_numpy.load_file(str(ours)).items():
        np.testing.assert_array_equal(array, arrays[name])
        assert array.dtype == arrays[name].dtype


@requires_torch
@pytest.mark.skipif(safetensors_numpy is None, reason="the safetensors package is not installed")
def test_torch_made_safetensors(tmp_path):
    import safetensors.torch  # noqa: PLC0415

    path = tmp_path / "torch.safetensors"
    base = torch.arange(6.0).reshape(2, 3)
    safetensors.torch.save_file({"w": base, "bf16": base.to(torch.bfloat16),
                                 "i": torch.arange(4), "h": base.half()}, str(path))
    loaded = dark.load(path)
    expected = np.arange(6, dtype=np.float32).reshape(2, 3)
    _assert_tensor(loaded["w"], expected)
    _assert_tensor(loaded["bf16"], expected, BF16_LOADS_AS)
    _assert_tensor(loaded["h"], expected.astype(np.float16))
    _assert_tensor(loaded["i"], np.arange(4))
    dark.save_safetensors({"w": dark.from_numpy(expected)}, path)
    assert safetensors.torch.load_file(str(path))["w"].tolist() == expected.tolist()
