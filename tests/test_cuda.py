"""dark.cuda: device queries, seeding and memory statistics. Without CuPy or a GPU the
queries answer as PyTorch's do on a CPU-only build and the GPU-only functions raise
RuntimeError with the reason; with a GPU they are exercised for real."""
import ctypes
import shutil
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.data as ddata
from dark import _backend
from dark.optim import _fused
from dark.optim import adam as adam_module
from dark.optim import sgd as sgd_module

HAS_GPU = dark._backend.cuda_available()
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="CUDA is not available (no CuPy or GPU)")
no_gpu = pytest.mark.skipif(HAS_GPU, reason="checks the behaviour without a GPU")


def test_is_available_agrees_with_backend():
    assert dark.cuda.is_available() is HAS_GPU
    assert (dark.cuda.device_count() > 0) is HAS_GPU


@no_gpu
@pytest.mark.parametrize("lib", LIBS)
def test_without_gpu_answers_like_torch_cpu_build(lib):
    if lib.cuda.is_available():
        pytest.skip(f"{lib.__name__} sees a GPU")
    assert lib.cuda.is_available() is False
    assert lib.cuda.device_count() == 0
    assert lib.cuda.memory_allocated() == 0
    assert lib.cuda.max_memory_allocated() == 0
    assert lib.cuda.memory_reserved() == 0
    dark.cuda.empty_cache()
    dark.cuda.manual_seed(1)
    dark.cuda.manual_seed_all(1)
    dark.cuda.seed()
    dark.cuda.seed_all()


@no_gpu
@pytest.mark.parametrize("call", [
    dark.cuda.current_device, dark.cuda.synchronize, dark.cuda.get_device_name,
    lambda: dark.cuda.set_device(0), dark.cuda.initial_seed, dark.cuda.get_rng_state,
    lambda: dark.zeros(2, device="cuda"), lambda: dark.rand(2, device="cuda"),
    lambda: dark.Generator("cuda"), lambda: dark.ones(2).cuda(),
])
def test_gpu_only_functions_raise_with_reason(call):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        call()


@no_gpu
def test_cuda_seeds_are_kept_until_the_generator_exists():
    dark.cuda.manual_seed(123)  # the current device (0) is not used yet
    assert dark.random.cuda_default_generator(0).initial_seed() == 123
    dark.manual_seed(77)
    assert dark.random.cuda_default_generator(0).initial_seed() == 77
    assert dark.random.cuda_default_generator(1).initial_seed() == 77
    dark.cuda.manual_seed_all(5)
    assert dark.random.cuda_default_generator(0).initial_seed() == 5


def test_cuda_generator_state_is_seed_and_offset():
    generator = dark.Generator(dark.device("cuda", 0))
    generator.manual_seed(9)
    generator._offset = 41  # as after 41 draws
    state = generator.get_state()
    assert state.dtype is dark.uint8 and state.shape == (16,)
    generator.manual_seed(1)
    assert generator._offset == 0
    generator.set_state(state)
    assert generator.initial_seed() == 9 and generator._offset == 41
    with pytest.raises(RuntimeError, match="size"):
        generator.set_state(dark.Generator().get_state())


def test_importing_dark_never_imports_cupy():
    code = "import dark, sys; dark.zeros(2); dark.cuda.is_available; print('cupy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------------------- why not

@pytest.fixture
def fresh_backend(monkeypatch):
    """_backend as before its first CuPy import; monkeypatch restores the real state."""
    monkeypatch.setattr(_backend, "_cupy", None)
    monkeypatch.setattr(_backend, "_cupy_error", None)
    monkeypatch.setattr(_backend, "_device_count", 0)
    return monkeypatch


def fake_cupy(device_count):
    """A stand-in for the cupy module whose runtime reports ``device_count`` (an int, or an
    exception to raise as the CUDA runtime does without a driver)."""
    def get_device_count():
        if isinstance(device_count, Exception):
            raise device_count
        return device_count

    def device(index):
        raise AssertionError(f"cupy.cuda.Device({index}) reached: the index was not checked")

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count, getDevice=lambda: 0)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=device))


def asking_for_cuda():
    return [lambda: dark.zeros(2, device="cuda"), lambda: dark.ones(2).cuda(),
            lambda: dark.ones(2).to("cuda:0"), dark.cuda.synchronize,
            lambda: dark.nn.Linear(2, 2).to("cuda")]


def test_reason_no_cupy_installed(fresh_backend):
    def no_cupy():
        raise ImportError("No module named 'cupy'")

    fresh_backend.setattr(_backend, "_import_cupy", no_cupy)
    assert dark.cuda.is_available() is False and dark.cuda.device_count() == 0
    for call in asking_for_cuda():
        with pytest.raises(RuntimeError, match=r"CUDA is not available: CuPy is not "
                                               r"installed .*\[cuda12\].*\[cuda13\]"):
            call()


@pytest.mark.parametrize("runtime_answer", [
    0, RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected"),
    RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")],
    ids=["zero-devices", "no-device", "no-driver"])
def test_reason_cupy_installed_but_no_gpu(fresh_backend, runtime_answer):
    fresh_backend.setattr(_backend, "_import_cupy", lambda: fake_cupy(runtime_answer))
    assert dark.cuda.is_available() is False and dark.cuda.device_count() == 0
    for call in asking_for_cuda():
        with pytest.raises(RuntimeError, match="CUDA is not available: CuPy is installed but "
                                               "no GPU is visible") as caught:
            call()
        if isinstance(runtime_answer, Exception):  # the runtime's own words are kept
            assert str(runtime_answer) in str(caught.value)


def test_reason_device_index_out_of_range(fresh_backend):
    fresh_backend.setattr(_backend, "_import_cupy", lambda: fake_cupy(2))
    assert dark.cuda.is_available() is True and dark.cuda.device_count() == 2
    assert _backend.cuda_index(dark.device("cuda:1")) == 1
    for call in [lambda: _backend.cuda_index(dark.device("cuda:2")),
                 lambda: dark.zeros(2, device="cuda:2"), lambda: dark.cuda.set_device(5),
                 lambda: dark.cuda.get_device_name(2), lambda: dark.cuda.device("cuda:7")]:
        with pytest.raises(RuntimeError, match=r"invalid device ordinal: cuda:\d is out of "
                                               r"range \(2 GPUs visible, indices 0\.\.1\)"):
            call()
    dark.cuda.set_device(-1)  # negative: a no-op, as in PyTorch
    with dark.cuda.device(-1), dark.cuda.device(None):
        pass


def test_device_parsing():
    d = dark.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert dark.device("cuda", 1) == d == "cuda:1" and dark.device(1) == d
    assert repr(d) == "device(type='cuda', index=1)"
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        dark.device("gpu:0")


@requires_torch
def test_device_repr_is_torchs():
    assert repr(dark.device("cuda:1")) == repr(torch.device("cuda:1"))


# ----------------------------------------------------------------------------- pinned memory

@no_gpu
@requires_torch
def test_pin_memory_without_gpu_matches_torch():
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU")
    with pytest.raises(RuntimeError) as theirs:
        torch.ones(2).pin_memory()
    with pytest.raises(RuntimeError) as mine:
        _backend.pin_array(np.ones(2, dtype=np.float32))
    assert str(theirs.value) in str(mine.value)
    assert torch.ones(2).is_pinned() is False


@no_gpu
def test_pin_memory_without_gpu():
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                           "available"):
        _backend.pin_array(np.ones(2, dtype=np.float32))
    assert _backend.is_pinned_array(np.ones(2)) is False
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        dark.ones(2).pin_memory()
    assert dark.ones(2).is_pinned() is False


PIN_FACTORIES = [
    lambda lib: lib.zeros(2, pin_memory=True), lambda lib: lib.ones(2, pin_memory=True),
    lambda lib: lib.empty(2, pin_memory=True), lambda lib: lib.full((2,), 1.0, pin_memory=True),
    lambda lib: lib.eye(2, pin_memory=True), lambda lib: lib.tensor([1.0], pin_memory=True),
    lambda lib: lib.randn(2, pin_memory=True), lambda lib: lib.rand(2, pin_memory=True),
    lambda lib: lib.randint(0, 3, (2,), pin_memory=True),
    lambda lib: lib.randperm(3, pin_memory=True),
    lambda lib: lib.zeros(1).new_zeros(2, pin_memory=True)]


@no_gpu
@pytest.mark.parametrize("factory", PIN_FACTORIES)
def test_factory_pin_memory_without_gpu(factory):
    """pin_memory=True is never ignored: without CUDA it is torch's error, with the reason."""
    with pytest.raises(RuntimeError, match=r"^pin_memory=True requires a CUDA or other "
                                           r"accelerator backend; no pinned memory allocator "
                                           r"is available on this system\. \(CUDA is not "
                                           r"available: "):
        factory(dark)


@no_gpu
@pytest.mark.parametrize("factory", PIN_FACTORIES)
@requires_torch
def test_factory_pin_memory_without_gpu_matches_torch(factory):
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU")
    with pytest.raises(RuntimeError) as theirs:
        factory(torch)
    with pytest.raises(RuntimeError) as mine:
        factory(dark)
    assert str(mine.value).startswith(str(theirs.value))


@no_gpu
@requires_torch
def test_data_loader_pin_memory_without_gpu_warns_like_torch():
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = [b.tolist() for b in torch.utils.data.DataLoader(
            torch.arange(5.0), batch_size=2, pin_memory=True)]
    with pytest.warns(UserWarning) as mine:
        got = [b.tolist() for b in ddata.DataLoader(dark.arange(5.0), batch_size=2,
                                                    pin_memory=True)]
    assert got == expected
    assert [str(w.message) for w in mine] == [str(w.message) for w in theirs]


def test_data_loader_pins_every_tensor_of_a_batch(monkeypatch):
    """The structure of a batch is kept and each CPU tensor in it goes through pin_array
    (simulated here: the real one needs a GPU and is tested below)."""
    import dark.data.dataloader as loader_module

    pinned_ids = set()

    def fake_pin(array):
        copy = array.copy()
        pinned_ids.add(id(copy))
        return copy

    monkeypatch.setattr(_backend, "pin_array", fake_pin)
    monkeypatch.setattr(_backend, "cuda_available", lambda: True)

    class Pairs(ddata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": dark.full((2,), float(i)), "meta": ("id", dark.tensor(i))}

    batches = list(ddata.DataLoader(Pairs(), batch_size=2, pin_memory=True))
    assert len(batches) == 2
    for batch in batches:
        assert set(batch) == {"x", "meta"} and isinstance(batch["meta"], list)
        assert batch["meta"][0] == ("id", "id")
        assert id(batch["x"]._data) in pinned_ids and id(batch["meta"][1]._data) in pinned_ids
    assert batches[1]["x"].tolist() == [[2.0, 2.0], [3.0, 3.0]]
    assert loader_module.pin_memory("text") == "text"


# ----------------------------------------------------------------------------- fused updates

SGD_OPTIONS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
               dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
               dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)]
ADAM_OPTIONS = [("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, weight_decay=0.1)),
                ("Adam", dict(lr=0.01, betas=(0.3, 0.99), amsgrad=True, maximize=True)),
                ("AdamW", dict(lr=0.01)), ("AdamW", dict(lr=0.02, amsgrad=True, eps=1e-6))]
FUSED_CASES = [("SGD", o) for o in SGD_OPTIONS] + ADAM_OPTIONS


def run_optimizer(name, options, dtype, device="cpu", steps=3):
    """Parameters and state after ``steps`` steps from fixed data (numpy arrays)."""
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (5,)]
    params = [dark.tensor(rng.standard_normal(s).astype(dtype), device=device,
                          requires_grad=True) for s in shapes]
    optimizer = getattr(dark.optim, name)(params, **options)
    for _ in range(steps):
        for param in params:
            param.grad = dark.tensor(rng.standard_normal(param.shape).astype(dtype),
                                     device=device)
        optimizer.step()
    state = [{key: value.cpu().numpy() for key, value in optimizer.state[p].items()}
             for p in params]
    return [p.detach().cpu().numpy() for p in params], state


def assert_same_run(mine, expected):
    for m, e in zip(mine[0], expected[0]):
        np.testing.assert_array_equal(m, e)
    for m, e in zip(mine[1], expected[1]):
        assert m.keys() == e.keys()
        for key in m:
            np.testing.assert_array_equal(m[key], e[key], err_msg=key)


@pytest.mark.parametrize("case", FUSED_CASES, ids=str)
def test_fused_kernels_are_not_used_for_numpy_arrays(case, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("fused kernel called for a numpy parameter")

    monkeypatch.setattr(sgd_module, "_sgd_update_cuda", refuse)
    monkeypatch.setattr(adam_module, "_adam_update_cuda", refuse)
    run_optimizer(*case, "float32")
    assert not _fused.applies(np.zeros(2, np.float32), np.zeros(2, np.float32))


def kernel_source(name, ctype, array_flags, gpu):
    """C++ (or CUDA) source of KERNELS[name] looped over n elements, as CuPy's
    ElementwiseKernel would run it: array params bound per element (outputs by reference),
    scalars passed by value."""
    in_params, out_params, body = _fused.KERNELS[name]
    params = [(p.split()[0], p.split()[1], False) for p in in_params.split(",")]
    params += [(p.split()[0], p.split()[1], True) for p in out_params.split(",")]
    arguments, bindings = ["long n"], []
    for (type_name, param_name, is_out), is_array in zip(params, array_flags):
        if is_array:
            arguments.append(f"T *{param_name}_ptr")
            bindings.append(f"T &{param_name} = {param_name}_ptr[i];" if is_out
                            else f"const T {param_name} = {param_name}_ptr[i];")
        else:
            arguments.append(f"{type_name} {param_name}")
    qualifier = "__global__" if gpu else ""
    loop = ("long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; "
            "i += blockDim.x * gridDim.x") if gpu else "long i = 0; i < n; ++i"
    binding_text = "\n".join(bindings)
    return (f"namespace k_{name}_{ctype} {{\ntypedef {ctype} T;\n"
            f"extern \"C\" {qualifier} void {name}_{ctype}({', '.join(arguments)}) {{\n"
            f"for ({loop}) {{\n{binding_text}\n{body}\n}}\n}}\n}}\n")


# CuPy's own headers typedef the fixed-size types; CUDA's math functions need no include
GPU_PREAMBLE = "typedef int int32;\n"
CPU_PREAMBLE = "#include <cmath>\nusing std::sqrt;\n" + GPU_PREAMBLE


def compiled_on_cpu(tmp_path_factory):
    """A stand-in for _fused.kernel: KERNELS compiled by the host C++ compiler (no
    contraction into fused multiply-adds, as on the GPU) and run on numpy arrays."""
    compiled = {}

    def kernel(name):
        def launch(*args):
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            assert all(a.flags.c_contiguous and a.shape == arrays[0].shape for a in arrays)
            ctype = {np.float32: "float", np.float64: "double"}[arrays[0].dtype.type]
            flags = tuple(isinstance(a, np.ndarray) for a in args)
            key = (name, ctype, flags)
            if key not in compiled:
                folder = tmp_path_factory.mktemp("kernel")
                source = folder / "kernel.cpp"
                source.write_text(CPU_PREAMBLE + kernel_source(name, ctype, flags, gpu=False))
                subprocess.run(["g++", "-O2", "-ffp-contract=off", "-shared", "-fPIC",
                                "-o", str(folder / "kernel.so"), str(source)], check=True)
                compiled[key] = getattr(ctypes.CDLL(str(folder / "kernel.so")),
                                        f"{name}_{ctype}")
            scalar = ctypes.c_float if ctype == "float" else ctypes.c_double
            in_params, out_params, _ = _fused.KERNELS[name]
            types_ = [p.split()[0] for p in f"{in_params}, {out_params}".split(",")]
            converted = [ctypes.c_void_p(a.ctypes.data) if isinstance(a, np.ndarray)
                         else (ctypes.c_int(a) if t == "int32" else scalar(a))
                         for a, t in zip(args, types_)]
            compiled[key](ctypes.c_long(arrays[0].size), *converted)
        return launch

    return kernel


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", FUSED_CASES, ids=str)
def test_fused_kernel_bodies_compute_the_numpy_path_bit_for_bit(case, dtype, monkeypatch,
                                                               tmp_path_factory):
    """The kernels' code, compiled for the CPU and dispatched to as for CuPy arrays, gives
    exactly the numpy path's parameters and state (so do the scalars the host computes)."""
    expected = run_optimizer(*case, dtype)
    monkeypatch.setattr(_fused, "applies", lambda param, grad: True)
    monkeypatch.setattr(_fused, "kernel", compiled_on_cpu(tmp_path_factory))
    assert_same_run(run_optimizer(*case, dtype), expected)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs the CUDA compiler (nvcc)")
def test_fused_kernel_bodies_compile_as_cuda(tmp_path):
    """Every kernel body is valid CUDA C++ for float and double (CuPy compiles the same body
    with NVRTC on first use; this catches a mistake without a GPU)."""
    source = GPU_PREAMBLE
    for name, (in_params, out_params, _) in _fused.KERNELS.items():
        names = [p.split()[1] for p in in_params.split(",")]
        flags = [n == "grad" for n in names] + [True] * len(out_params.split(","))
        for ctype in ("float", "double"):
            source += kernel_source(name, ctype, flags, gpu=True)
    path = tmp_path / "kernels.cu"
    path.write_text(source)
    result = subprocess.run(["nvcc", "--ptx", "-arch=sm_90", *_fused.COMPILE_OPTIONS,
                             "-o", str(tmp_path / "kernels.ptx"), str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- with a GPU

@needs_gpu
def test_device_queries():
    count = dark.cuda.device_count()
    assert count >= 1
    index = dark.cuda.current_device()
    assert 0 <= index < count
    dark.cuda.set_device(index)
    assert isinstance(dark.cuda.get_device_name(), str) and dark.cuda.get_device_name(0)
    dark.cuda.synchronize()
    with dark.cuda.device(0):
        assert dark.cuda.current_device() == 0


@needs_gpu
def test_memory_statistics():
    dark.cuda.empty_cache()
    before = dark.cuda.memory_allocated()
    x = dark.zeros(1024, 1024, device="cuda")
    assert dark.cuda.memory_allocated() >= before + 4 * 1024 * 1024
    assert dark.cuda.max_memory_allocated() >= dark.cuda.memory_allocated()
    assert dark.cuda.memory_reserved() >= dark.cuda.memory_allocated()
    del x
    dark.cuda.empty_cache()
    assert dark.cuda.memory_allocated() < before + 4 * 1024 * 1024


@needs_gpu
def test_cuda_seeding_and_state():
    dark.cuda.manual_seed(3)
    first = dark.rand(8, device="cuda").cpu().numpy()
    dark.cuda.manual_seed(3)
    np.testing.assert_array_equal(dark.rand(8, device="cuda").cpu().numpy(), first)
    assert dark.cuda.initial_seed() == 3
    state = dark.cuda.get_rng_state()
    expected = dark.randn(5, device="cuda").cpu().numpy()
    dark.cuda.set_rng_state(state)
    np.testing.assert_array_equal(dark.randn(5, device="cuda").cpu().numpy(), expected)
    # the CPU generator is separate: seeding the GPU does not change CPU draws
    dark.manual_seed(0)
    cpu = dark.rand(3).numpy()
    dark.manual_seed(0)
    dark.cuda.manual_seed(99)
    np.testing.assert_array_equal(dark.rand(3).numpy(), cpu)


@needs_gpu
def test_tensors_move_and_stay_on_their_device():
    x = dark.randn(3, 4, requires_grad=True)
    y = x.cuda()
    assert y.is_cuda and y.device == dark.device("cuda:0") and y.get_device() == 0
    assert x.to("cuda").device == y.device and y.cpu().device == dark.device("cpu")
    np.testing.assert_array_equal(y.cpu().detach().numpy(), x.detach().numpy())
    (y * 2).sum().backward()  # the copy is differentiable; the gradient comes back to the CPU
    assert x.grad.device == dark.device("cpu")
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2, np.float32))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        y + x


@needs_gpu
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_module_to_cuda_after_the_optimizer_is_made(name):
    """As in PyTorch: the parameters keep their identity, so the optimizer follows them;
    state loaded from a CPU run moves to the parameters' device."""
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(4, 8), dark.nn.ReLU(), dark.nn.Linear(8, 2))
    options = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    optimizer = getattr(dark.optim, name)(model.parameters(), **options)
    x, target = dark.randn(16, 4), dark.randn(16, 2)
    dark.nn.functional.mse_loss(model(x), target).backward()
    optimizer.step()
    saved = optimizer.state_dict()
    before = [id(p) for p in model.parameters()]
    model.to("cuda")
    assert [id(p) for p in model.parameters()] == before
    assert all(p.is_cuda and p.grad.is_cuda for p in model.parameters())
    optimizer.load_state_dict(saved)
    for state in optimizer.state.values():
        assert all(v.is_cuda for k, v in state.items() if k != "step")
    optimizer.zero_grad()
    dark.nn.functional.mse_loss(model(x.cuda()), target.cuda()).backward()
    optimizer.step()
    assert all(p.is_cuda for p in model.parameters())


@needs_gpu
def test_pin_memory_on_gpu():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    pinned = _backend.pin_array(array)
    assert _backend.is_pinned_array(pinned) and not _backend.is_pinned_array(array)
    np.testing.assert_array_equal(pinned, array)
    assert _backend.pin_array(pinned) is pinned
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        _backend.pin_array(dark.ones(2, device="cuda")._data)
    batches = list(ddata.DataLoader(ddata.TensorDataset(dark.arange(6.0), dark.arange(6)),
                                    batch_size=4, pin_memory=True))
    for x, y in batches:
        assert _backend.is_pinned_array(x._data) and _backend.is_pinned_array(y._data)
    assert batches[1][0].cuda().tolist() == [4.0, 5.0]
    if hasattr(dark.Tensor, "pin_memory"):
        t = dark.ones(3).pin_memory()
        assert t.is_pinned() and not dark.ones(3).is_pinned()


@needs_gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", FUSED_CASES, ids=str)
def test_fused_kernels_on_gpu_match_the_numpy_path(case, dtype, monkeypatch):
    calls = []
    for module, function in ((sgd_module, "_sgd_update_cuda"),
                             (adam_module, "_adam_update_cuda")):
        real = getattr(module, function)
        monkeypatch.setattr(module, function,
                            lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k))
    assert_same_run(run_optimizer(*case, dtype, device="cuda"), run_optimizer(*case, dtype))
    assert calls, "the fused kernel was not used for CuPy parameters"


@needs_gpu
def test_training_steps_keep_the_memory_pool_flat():
    model = dark.nn.Sequential(dark.nn.Linear(64, 128), dark.nn.ReLU(),
                               dark.nn.Linear(128, 10)).to("cuda")
    optimizer = dark.optim.Adam(model.parameters())
    x, target = dark.randn(32, 64, device="cuda"), dark.randint(0, 10, (32,), device="cuda")

    def step():
        optimizer.zero_grad()
        dark.nn.functional.cross_entropy(model(x), target).backward()
        optimizer.step()

    for _ in range(3):
        step()
    dark.cuda.synchronize()
    held = dark.cuda.memory_reserved()
    for _ in range(20):
        step()
    dark.cuda.synchronize()
    assert dark.cuda.memory_reserved() == held


class _SmallCNN(dark.nn.Module):
    """conv, ReLU, max pooling, dropout, linear: the layers of the MNIST example."""

    def __init__(self):
        super().__init__()
        self.conv = dark.nn.Conv2d(1, 4, 3, padding=1)
        self.dropout = dark.nn.Dropout(0.25)
        self.fc = dark.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = dark.nn.functional.max_pool2d(dark.nn.functional.relu(self.conv(x)), 2)
        return self.fc(self.dropout(dark.flatten(x, 1)))


@needs_gpu
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_step_makes_no_host_transfer(optimizer, monkeypatch):
    """A whole training step (zero_grad, forward, loss, backward, step) on the GPU neither
    synchronises with the host (CuPy's sync detection: device-to-host copies, .item(),
    bool() of an array) nor copies host arrays to the device; only reading the loss does."""
    import cupy
    import cupyx

    model = _SmallCNN().to("cuda")
    opt = (dark.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else dark.optim.Adam(model.parameters()))
    x = dark.randn(8, 1, 8, 8, device="cuda")
    target = dark.randint(0, 10, (8,), device="cuda")

    def step():
        opt.zero_grad()
        loss = dark.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        return loss

    step()  # the first step makes the optimizer state and compiles the kernels
    uploads = []
    for name in ("asarray", "array"):
        original = getattr(cupy, name)

        def counting(obj, *args, _original=original, **kwargs):
            if isinstance(obj, np.ndarray) and obj.size > 1:
                uploads.append(obj.shape)
            return _original(obj, *args, **kwargs)

        monkeypatch.setattr(cupy, name, counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # allow_synchronize is deprecated, still working
        with cupyx.allow_synchronize(False):
            loss = step()
    assert uploads == []
    assert np.isfinite(loss.item())
