"""Random number generators: Generator, the per-device default generators, manual_seed /
seed / initial_seed / get_rng_state / set_rng_state / fork_rng. The random ops that draw from
them (rand, randn, normal, bernoulli, uniform_ ...) are in dark.ops.random.

The ops draw through an engine (``engine_for(generator, device)``; a Generator's own is
``generator._draw()``) with these methods: ``uniform(shape, np_dtype, out=None)`` on [0, 1),
``normal`` and ``exponential`` alike (floats, written into ``out`` when the engine can),
``integers(low, high, shape)`` (int64 on [low, high)), ``permutation(n)`` (int64) and
``poisson(rates)``.

The CPU draws from numpy's ``Generator(PCG64)``. A CUDA generator is a (seed, offset) pair as
PyTorch's: each draw reseeds a cuRAND Philox generator (through CuPy, imported only when a CUDA
generator is first used) from a hash of both and advances the offset, so a seed gives the same
numbers on every run and the state is 16 bytes that can be saved and restored. Values are
drawn directly in the target dtype (float32 by default)."""
from __future__ import annotations

import contextlib
import os

import numpy as np

from . import _backend
from ._tensor import Tensor

_DEFAULT_SEED = 67280421310721  # PyTorch's initial seed
_MASK64 = (1 << 64) - 1


def _seed_value(seed) -> int:
    """A seed as PyTorch takes it: any int in [-2**63, 2**64), negatives wrapped mod 2**64."""
    seed = int(seed)
    if not -(1 << 63) <= seed <= _MASK64:
        raise ValueError("Overflow when unpacking long long")
    return seed & _MASK64


def _mix64(seed: int, offset: int) -> int:
    """splitmix64 of (seed, offset): the per-draw seed of a CUDA generator."""
    z = (seed + (offset + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _state_tensor(values) -> Tensor:
    return Tensor._make(np.frombuffer(b"".join(v.to_bytes(8, "little") for v in values),
                                      dtype=np.uint8).copy())


# ----------------------------------------------------------------------------- engines

class _CPUEngine:
    """numpy's PCG64 Generator; float draws can fill an ``out`` array in place."""

    def __init__(self, seed: int):
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def _float(self, method, shape, np_dtype, out):
        if np_dtype in (np.float32, np.float64):
            if out is not None and out.flags.c_contiguous:
                return method(out=out, dtype=np_dtype)
            return method(shape, dtype=np_dtype)
        return method(shape, dtype=np.float32).astype(np_dtype)

    def uniform(self, shape, np_dtype, out=None):
        return self._float(self.rng.random, shape, np_dtype, out)

    def normal(self, shape, np_dtype, out=None):
        return self._float(self.rng.standard_normal, shape, np_dtype, out)

    def exponential(self, shape, np_dtype, out=None):
        return self._float(self.rng.standard_exponential, shape, np_dtype, out)

    def integers(self, low: int, high: int, shape):
        return self.rng.integers(low, high - 1, shape, dtype=np.int64, endpoint=True)

    def permutation(self, n: int):
        return self.rng.permutation(n).astype(np.int64, copy=False)

    def poisson(self, rates):
        return self.rng.poisson(rates)

    def get_state(self) -> list:
        state = self.rng.bit_generator.state
        return [state["state"]["state"] & _MASK64, state["state"]["state"] >> 64,
                state["state"]["inc"] & _MASK64, state["state"]["inc"] >> 64,
                state["has_uint32"] | (state["uinteger"] << 32)]

    def set_state(self, words) -> None:
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": words[0] | (words[1] << 64), "inc": words[2] | (words[3] << 64)},
            "has_uint32": words[4] & 1, "uinteger": words[4] >> 32}


class _CUDAEngine:
    """CuPy's cuRAND Philox, reseeded per draw from (seed, offset) of its Generator."""

    def __init__(self, generator: Generator):
        cupy = _backend.cupy_module()
        from cupy.cuda import curand  # noqa: PLC0415 - CuPy is imported only for CUDA

        self.cupy = cupy
        self.generator = generator
        self.index = generator.device.index
        with cupy.cuda.Device(self.index):
            # Philox is counter based: reseeding it per draw costs no state set-up kernel
            self.state = cupy.random.RandomState(
                np.uint64(0), method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def _next(self):
        generator = self.generator
        self.state.seed(np.uint64(_mix64(generator._seed, generator._offset)))
        generator._offset += 1
        return self.state

    def _float(self, kind, shape, np_dtype, out):
        with self.cupy.cuda.Device(self.index):
            if 0 in shape:  # cuRAND is not asked for zero numbers
                return self.cupy.empty(shape, dtype=np_dtype)
            dtype = np_dtype if np_dtype in (np.float32, np.float64) else np.float32
            state = self._next()
            method = {"uniform": state.random_sample, "normal": state.standard_normal,
                      "exponential": state.standard_exponential}[kind]
            return method(shape, dtype=dtype).astype(np_dtype, copy=False)

    def uniform(self, shape, np_dtype, out=None):
        return self._float("uniform", shape, np_dtype, out)

    def normal(self, shape, np_dtype, out=None):
        return self._float("normal", shape, np_dtype, out)

    def exponential(self, shape, np_dtype, out=None):
        return self._float("exponential", shape, np_dtype, out)

    def integers(self, low: int, high: int, shape):
        with self.cupy.cuda.Device(self.index):
            if 0 in shape:
                return self.cupy.empty(shape, dtype=np.int64)
            return self._next().randint(low, high, shape, dtype=np.int64)

    def permutation(self, n: int):
        with self.cupy.cuda.Device(self.index):
            if n == 0:
                return self.cupy.empty((0,), dtype=np.int64)
            return self._next().permutation(n).astype(np.int64, copy=False)

    def poisson(self, rates):
        with self.cupy.cuda.Device(self.index):
            return self._next().poisson(rates, dtype=np.int64)


# ----------------------------------------------------------------------------- Generator

class Generator:
    """A random number generator for one device (``Generator(device='cpu')``): its seed and
    state can be set, read and restored; pass it as ``generator=`` to any random function."""

    def __init__(self, device="cpu"):
        dev = _backend.to_device(device)
        if dev.type == "cuda":
            dev = _backend.device("cuda", _backend.cuda_index(dev))
        self.device = dev
        self._seed = _DEFAULT_SEED
        self._offset = 0
        self._engine = None

    def _draw(self):
        if self._engine is None:
            self._engine = _CPUEngine(self._seed) if self.device.type == "cpu" \
                else _CUDAEngine(self)
        return self._engine

    def manual_seed(self, seed) -> Generator:
        """Seed this generator (an int; negatives wrap modulo 2**64). Returns self."""
        self._seed = _seed_value(seed)
        self._offset = 0
        if self.device.type == "cpu":
            self._engine = None
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 CPU tensor (a copy) for ``set_state``."""
        if self.device.type == "cuda":
            return _state_tensor([self._seed, self._offset])
        return _state_tensor([self._seed] + self._draw().get_state())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from ``get_state`` of a generator of the same device type."""
        if not isinstance(new_state, Tensor) or new_state.dtype is not _backend.uint8:
            raise TypeError("RNG state must be a dark.ByteTensor")
        raw = np.ascontiguousarray(new_state.detach().cpu().numpy()).tobytes()
        expected = 16 if self.device.type == "cuda" else 48
        if len(raw) != expected:
            raise RuntimeError(f"Expected a {self.device.type} generator state of size "
                               f"{expected} but found the input RNG state size to be "
                               f"{len(raw)}")
        words = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
        self._seed = words[0]
        if self.device.type == "cuda":
            self._offset = words[1]
        else:
            self._engine = None
            self._draw().set_state(words[1:])
        return self

    def __repr__(self) -> str:
        return f"<dark.Generator object on {self.device}>"


default_generator = Generator("cpu")
_cuda_generators: dict[int, Generator] = {}
_cuda_seeds: dict[int, int] = {}  # seeds set before a device's generator existed
_cuda_seed_all: list = [_DEFAULT_SEED]


def cuda_default_generator(index: int) -> Generator:
    """The default generator of GPU ``index`` (made, and seeded, on first use)."""
    found = _cuda_generators.get(index)
    if found is None:
        found = Generator(_backend.device("cuda", index))
        found.manual_seed(_cuda_seeds.pop(index, _cuda_seed_all[0]))
        _cuda_generators[index] = found
    return found


def cuda_manual_seed(seed, index: int | None = None) -> None:
    """Seed GPU ``index`` (all GPUs when None), also those whose generator is not made yet."""
    seed = _seed_value(seed)
    if index is None:
        _cuda_seed_all[0] = seed
        _cuda_seeds.clear()
        for generator in _cuda_generators.values():
            generator.manual_seed(seed)
    elif index in _cuda_generators:
        _cuda_generators[index].manual_seed(seed)
    else:
        _cuda_seeds[index] = seed


def _generator_for(generator, dev: _backend.device) -> Generator:
    if generator is None:
        if dev.type == "cpu":
            return default_generator
        return cuda_default_generator(_backend.cuda_index(dev))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a dark.Generator, not {type(generator).__name__}")
    if generator.device.type != dev.type:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator


def engine_for(generator, dev: _backend.device):
    """The engine that draws for ``generator`` (a Generator of ``dev``'s device type, or None
    for the default generator of ``dev``): what the random ops call (see the module's
    docstring for its methods)."""
    return _generator_for(generator, dev)._draw()


def manual_seed(seed) -> Generator:
    """Seed the generators of every device; returns the default (CPU) generator."""
    seed = _seed_value(seed)
    cuda_manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed every device from the operating system's entropy; returns the seed."""
    value = default_generator.seed()
    cuda_manual_seed(value)
    return value


def initial_seed() -> int:
    """The seed of the default CPU generator."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The state of the default CPU generator (a uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default CPU generator from ``get_rng_state()``."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda"):
    """Within the block, random draws do not change the generators outside it: the CPU
    state and that of the given GPUs (by default those used so far) are restored at exit."""
    if not enabled:
        yield
        return
    indices = list(_cuda_generators) if devices is None else [
        _backend.cuda_index(_backend.to_device(d)) for d in devices]
    saved_cpu = default_generator.get_state()
    saved_cuda = [(i, cuda_default_generator(i).get_state()) for i in indices]
    try:
        yield
    finally:
        default_generator.set_state(saved_cpu)
        for index, state in saved_cuda:
            cuda_default_generator(index).set_state(state)


__all__ = ["Generator", "default_generator", "get_rng_state", "initial_seed", "manual_seed",
           "seed", "set_rng_state"]
