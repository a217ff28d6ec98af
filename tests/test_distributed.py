"""dark.distributed, DistributedDataParallel and DistributedSampler. The multi-process tests
start tests/dist_worker.py on 2 or 3 processes the three ways users do (mpiexec, the
launcher, dark.multiprocessing.spawn); they skip when mpi4py / mpiexec are missing
(`pip install dark[mpi]`)."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest
from harness import requires_torch, torch

import dark
import dark.distributed as dist
from dark.distributed.run import find_mpiexec
from dark.utils.data.distributed import DistributedSampler

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "dist_worker.py"
try:
    MPIEXEC = find_mpiexec()
except RuntimeError:
    MPIEXEC = None
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="mpi4py / mpiexec not installed (pip install dark[mpi])")


def _env():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def run(command, timeout=240):
    result = subprocess.run(command, env=_env(), capture_output=True, text=True,
                            timeout=timeout, cwd=REPO)
    return result.returncode, result.stdout + result.stderr


def mpiexec(n, *args, timeout=240):
    return run([MPIEXEC, "-n", str(n), sys.executable, str(WORKER), *args], timeout)


# ------------------------------------------------------------------ without processes
def test_errors_before_init_are_torchs():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(dark.ones(2)),
                 lambda: dist.barrier()):
        with pytest.raises(ValueError, match="Default process group has not been initialized, "
                                             "please make sure to call init_process_group."):
            call()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dark.nn.parallel.DistributedDataParallel(dark.nn.Linear(2, 2))


def test_backend_and_reduce_op_names():
    assert dist.Backend("GLOO") == "gloo" and dist.Backend.NCCL == "nccl"
    with pytest.raises(ValueError, match="Invalid backend: 'tcp'"):
        dist.Backend("tcp")
    assert [int(getattr(dist.ReduceOp, n)) for n in ("SUM", "AVG", "PRODUCT", "MIN", "MAX")] \
        == [0, 1, 2, 3, 4]
    assert repr(dist.ReduceOp.SUM) == "<RedOpType.SUM: 0>"
    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)


def test_default_backend_for_device():
    """What the pytorch/examples distributed programs pass to init_process_group."""
    for device, backend in [("cpu", "gloo"), ("cuda", "nccl"), ("cuda:1", "nccl"),
                            (dark.device("cpu"), "gloo"), (dark.device("cuda", 0), "nccl")]:
        assert dist.get_default_backend_for_device(device) == backend
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        dist.get_default_backend_for_device("foo")


@requires_torch
def test_default_backend_for_device_is_torchs():
    for device in ["cpu", "cuda", "cuda:1"]:
        assert dist.get_default_backend_for_device(device) == \
            torch.distributed.get_default_backend_for_device(device)
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        torch.distributed.get_default_backend_for_device("foo")


@pytest.mark.parametrize("n, replicas, seed, epoch, drop_last", [
    (10, 3, 0, 0, False), (10, 3, 2, 1, True), (7, 2, 5, 3, False), (100, 4, 1, 2, True),
    (5, 8, 0, 0, False), (64, 2, 0, 7, False)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_distributed_sampler_indices(n, replicas, seed, epoch, drop_last, shuffle):
    shares = []
    for rank in range(replicas):
        sampler = DistributedSampler(range(n), replicas, rank, shuffle, seed, drop_last)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1])
    if drop_last:
        assert sorted(i for s in shares for i in s) == sorted(set(i for s in shares for i in s))
    else:
        assert set(i for s in shares for i in s) == set(range(n))
    if torch is not None:
        from torch.utils.data.distributed import DistributedSampler as TorchSampler

        for rank in range(replicas):
            theirs = TorchSampler(range(n), replicas, rank, shuffle, seed, drop_last)
            theirs.set_epoch(epoch)
            assert shares[rank] == list(theirs)


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval "
                                         r"\[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    if dist.is_available():
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            DistributedSampler(range(4))
    else:  # torch's words when its build has no distributed package
        with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
            DistributedSampler(range(4))


@requires_torch
def test_sampler_with_a_loader_follows_torch():
    from torch.utils.data import DataLoader as TorchLoader
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    data = list(range(23))
    ours = dark.utils.data.DataLoader(data, batch_size=4,
                                      sampler=DistributedSampler(data, 2, 1, seed=3))
    theirs = TorchLoader(data, batch_size=4, sampler=TorchSampler(data, 2, 1, seed=3))
    assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]


# ------------------------------------------------------------------------ processes
@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_every_op_and_dtype(n):
    code, out = mpiexec(n, "collectives")
    assert code == 0, out
    assert sorted(re.findall(r"(\d) ok collectives", out)) == [str(r) for r in range(n)]


@needs_mpi
@pytest.mark.parametrize("dtype, accumulate", [("float64", "0"), ("float32", "0"),
                                               ("float64", "1"), ("float32", "1")])
def test_ddp_equals_one_process_on_the_global_batch(dtype, accumulate):
    """SGD-momentum and Adam, 20 steps, with and without gradient_as_bucket_view, several
    buckets, and (accumulate=1) two micro-batches per step under no_sync: float64 to 1e-10,
    float32 to 1e-5 (checked inside each rank)."""
    code, out = mpiexec(2, "ddp", dtype, accumulate)
    assert code == 0, out
    assert out.count(f"ok ddp {dtype} accumulate={accumulate}") == 2


@needs_mpi
def test_ddp_unused_parameters():
    code, out = mpiexec(2, "ddp_unused")
    assert code == 0 and out.count("ok ddp_unused") == 2, out


@needs_mpi
def test_launcher_runs_a_torchrun_script():
    """python -m dark.distributed.run: workers get torchrun's environment and meet at
    MASTER_ADDR:MASTER_PORT (init_method env://)."""
    code, out = run([sys.executable, "-m", "dark.distributed.run", "--standalone",
                     "--nproc-per-node", "2", str(WORKER), "ddp", "float64", "0"])
    assert code == 0, out
    assert out.count("ok ddp float64 accumulate=0") == 2


@needs_mpi
def test_a_dead_rank_is_named_by_the_others():
    code, out = run([sys.executable, "-m", "dark.distributed.run", "--standalone",
                     "--nproc-per-node", "3", str(WORKER), "die"], timeout=120)
    assert code == 7, out  # the launcher exits with the failed worker's code
    assert "worker rank 1 failed with exit code 7" in out
    for rank in (0, 2):
        seconds = float(re.search(rf"{rank} failed after ([\d.]+)s: dark.distributed: rank 1 "
                                  r"exited or lost its connection", out).group(1))
        assert seconds < 10


@needs_mpi
def test_timeout_ends_a_wait():
    code, out = mpiexec(2, "timeout", timeout=120)
    seconds = float(re.search(r"0 failed after ([\d.]+)s: dark.distributed: all_reduce on rank 0 "
                              r"timed out after 2 s", out).group(1))
    assert 1.9 < seconds < 5, out


@needs_mpi
def test_plain_processes_are_told_which_launcher_to_use():
    code, out = run([sys.executable, "-c",
                     "import os, dark.distributed as d\n"
                     "os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT='29999')\n"
                     "d.init_process_group('gloo', rank=0, world_size=2)"], timeout=60)
    assert code != 0
    assert "was not started by an MPI launcher" in out
    assert "python -m dark.distributed.run" in out and "mpiexec -n N" in out


@needs_mpi
@pytest.mark.skipif(not dark.cuda.is_available(), reason="CUDA is not available")
def test_cuda_tensors_through_mpi():
    code, out = mpiexec(2, "cuda", "gloo")
    assert code == 0 and out.count("ok cuda gloo") == 2, out


@needs_mpi
@pytest.mark.skipif(not dark.cuda.is_available(), reason="CUDA is not available")
def test_cuda_nccl_one_rank():
    """NCCL's communicator, collectives and DDP on one GPU (a world of one rank)."""
    code, out = mpiexec(1, "cuda", "nccl")
    assert code == 0 and out.count("ok cuda nccl") == 1, out


@needs_mpi
@pytest.mark.skipif(not dark.cuda.is_available() or dark.cuda.device_count() < 2,
                    reason="needs 2 GPUs (NCCL refuses two ranks on one GPU)")
def test_cuda_nccl_two_gpus():
    code, out = mpiexec(2, "cuda", "nccl")
    assert code == 0 and out.count("ok cuda nccl") == 2, out


@needs_mpi
def test_spawned_processes_join_a_group():
    """PyTorch's DDP-tutorial pattern: mp.spawn(fn, args, nprocs) with MASTER_ADDR/PORT
    set in the script and init_process_group("gloo", rank=rank, world_size=world_size)."""
    from dark.distributed.run import free_port

    code, out = run([sys.executable, "-c",
                     "import dark.multiprocessing as mp, dist_worker\n"
                     "if __name__ == '__main__':\n"
                     f"    mp.spawn(dist_worker.spawned, args=(3, {free_port()}), nprocs=3)\n"
                     f"    mp.spawn(dist_worker.spawned, args=(2, {free_port()}), nprocs=2)\n"],
                    timeout=240)
    assert code == 0, out
    assert sorted(re.findall(r"(\d) ok spawned", out)) == ["0", "0", "1", "1", "2"]
    assert out.count("ok ddp float64 accumulate=1") == 2  # DDP == one process, spawned
