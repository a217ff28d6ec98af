"""FullyShardedDataParallel (FSDP1), fully_shard (FSDP2) and dark.distributed.checkpoint.

The multi-process checks run tests/fsdp_worker.py on 2 processes under mpiexec (several
checks per launch); each rank compares its results with a one-process reference it computes
itself (the same model trained on the concatenated batch, which is DDP's result). They skip
when mpi4py / mpiexec are missing (`pip install dark[mpi]`)."""
import functools
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import dark
from dark import nn
from dark.distributed.run import find_mpiexec

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "fsdp_worker.py"
try:
    MPIEXEC = find_mpiexec()
except RuntimeError:
    MPIEXEC = None
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="mpi4py / mpiexec not installed (pip install dark[mpi])")


def mpiexec(n, *args, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    result = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(WORKER), *args],
                            env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return result.returncode, result.stdout + result.stderr


# ------------------------------------------------------------------ without processes
def test_wrap_policies_decide_as_torchs():
    from dark.distributed.fsdp.wrap import (
        ModuleWrapPolicy,
        always_wrap_policy,
        lambda_auto_wrap_policy,
        size_based_auto_wrap_policy,
        transformer_auto_wrap_policy,
    )

    lin = nn.Linear(10, 10)  # 110 parameters
    assert size_based_auto_wrap_policy(lin, recurse=False, nonwrapped_numel=110,
                                       min_num_params=100)
    assert not size_based_auto_wrap_policy(lin, recurse=False, nonwrapped_numel=99,
                                           min_num_params=100)
    assert not size_based_auto_wrap_policy(nn.ModuleList([lin]), recurse=False,
                                           nonwrapped_numel=10**9)
    assert not size_based_auto_wrap_policy(nn.MultiheadAttention(4, 2), recurse=True,
                                           nonwrapped_numel=10**9)
    policy = functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={nn.Linear})
    assert policy(lin, recurse=False, nonwrapped_numel=0) and policy(nn.ReLU(), True, 0)
    assert not policy(nn.ReLU(), recurse=False, nonwrapped_numel=0)
    assert always_wrap_policy(lin, False, 0)
    assert lambda_auto_wrap_policy(lin, False, 0, lambda m: isinstance(m, nn.Linear))
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.Linear(2, 2)))
    targets = ModuleWrapPolicy({nn.Linear})._run_policy(seq, set(), {"a": 1})
    assert list(targets) == [seq[0], seq[2][0]] and targets[seq[0]] == {"a": 1}


def test_enums_and_configs_are_torchs():
    from dark.distributed.fsdp import (
        FullStateDictConfig,
        MixedPrecision,
        MixedPrecisionPolicy,
        ShardingStrategy,
        StateDictType,
    )

    assert [s.name for s in ShardingStrategy] == ["FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD",
                                                 "HYBRID_SHARD", "_HYBRID_SHARD_ZERO2"]
    assert [s.name for s in StateDictType] == ["FULL_STATE_DICT", "LOCAL_STATE_DICT",
                                              "SHARDED_STATE_DICT"]
    assert FullStateDictConfig() == FullStateDictConfig(offload_to_cpu=False, rank0_only=False)
    mp = MixedPrecision(param_dtype=dark.float16)
    assert mp.reduce_dtype is None and mp.cast_root_forward_inputs and \
        not mp.cast_forward_inputs
    assert MixedPrecisionPolicy().cast_forward_inputs


def test_errors_before_init_are_torchs():
    from dark.distributed.fsdp import FullyShardedDataParallel

    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        FullyShardedDataParallel(nn.Linear(2, 2))


def test_dcp_round_trip_in_one_process(tmp_path):
    """dcp.save / dcp.load without a process group: nested dicts, lists, tensors of
    several dtypes and objects come back in place (tensors copied into, objects replaced)."""
    import dark.distributed.checkpoint as dcp

    dark.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(dark.randn(5, 3))
    opt = dark.optim.Adam(model.parameters(), lr=0.1)
    model[0](dark.randn(2, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "step": 3,
             "extra": [dark.arange(4), "text"]}
    dcp.save(state, checkpoint_id=tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [".metadata",
                                                                   "__0_0.distcp"]
    dark.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fresh_opt = dark.optim.Adam(fresh.parameters(), lr=0.1)
    fresh[0](dark.randn(2, 3)).sum().backward()
    fresh_opt.step()
    target = {"model": fresh.state_dict(), "optim": fresh_opt.state_dict(), "step": 0,
              "extra": [dark.zeros(4, dtype=dark.int64), None]}
    dcp.load(target, checkpoint_id=tmp_path / "ck")
    for key, value in model.state_dict().items():
        assert dark.equal(fresh.state_dict()[key], value), key
    assert target["step"] == 3 and target["extra"][1] == "text"
    assert target["extra"][0].tolist() == [0, 1, 2, 3]
    for index, entry in opt.state_dict()["state"].items():
        for key, value in entry.items():
            assert dark.equal(fresh_opt.state_dict()["state"][index][key], value)
    with pytest.raises(RuntimeError, match="Missing key in checkpoint state_dict: nope"):
        dcp.load({"nope": dark.zeros(1)}, checkpoint_id=tmp_path / "ck")
    with pytest.raises(RuntimeError, match=r"Size mismatch between saved \(4, 3\) and "
                                           r"current: \(2, 3\) for model.0.weight"):
        dcp.load({"model": {"0.weight": dark.zeros(2, 3)}}, checkpoint_id=tmp_path / "ck")


def test_checkpoint_wrapper_keeps_the_unwrapped_names_and_gradients():
    """apply_activation_checkpointing wraps the chosen submodules in place; state_dict keys
    and named_parameters are the unwrapped model's (each loads into the other); the
    gradients equal the unwrapped model's (both checkpoint implementations)."""
    from dark.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        CheckpointImpl,
        CheckpointWrapper,
        apply_activation_checkpointing,
        checkpoint_wrapper,
    )

    for impl in (CheckpointImpl.REENTRANT, CheckpointImpl.NO_REENTRANT):
        dark.manual_seed(0)
        plain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2)))
        wrapped = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2)))
        wrapped.load_state_dict(plain.state_dict())
        apply_activation_checkpointing(
            wrapped, checkpoint_wrapper_fn=functools.partial(checkpoint_wrapper,
                                                            checkpoint_impl=impl),
            check_fn=lambda m: isinstance(m, nn.Linear))
        assert isinstance(wrapped[0], CheckpointWrapper) and \
            isinstance(wrapped[2][0], CheckpointWrapper) and wrapped[0].in_features == 3
        assert list(wrapped.state_dict()) == list(plain.state_dict())
        assert [n for n, _ in wrapped[0].named_parameters()] == ["weight", "bias"]
        wrapped.load_state_dict(plain.state_dict())
        x = dark.randn(5, 3, requires_grad=True)
        wrapped(x).sum().backward()
        grad_x = x.grad
        x.grad = None
        plain(x).sum().backward()
        assert dark.allclose(grad_x, x.grad)
        for a, b in zip(wrapped.parameters(), plain.parameters()):
            assert dark.allclose(a.grad, b.grad)


# ------------------------------------------------------------------------ processes
@needs_mpi
def test_fsdp_trains_as_one_process_on_the_global_batch():
    """Every sharding strategy (FULL_SHARD, SHARD_GRAD_OP, NO_SHARD, HYBRID_SHARD on one
    node; HYBRID_SHARD and _HYBRID_SHARD_ZERO2 with given 1-rank shard groups replicated over
    2), float64 (to 1e-10) and float32 (to 2e-5), SGD-momentum and Adam, 4 steps, three wrap
    policies, no_sync gradient accumulation and clip_grad_norm_, use_orig_params=True (the
    optimizer on the original parameters' 1-D parts): the full state_dict equals
    the one-process model trained on the concatenated batch (key for key), and
    FSDP.optim_state_dict the one-process optimizer's state."""
    code, out = mpiexec(2, "training")
    assert code == 0 and out.count("ok training") == 2, out


@needs_mpi
def test_fsdp_structure_state_dicts_and_summon():
    """torch's parameter names and flat shard sizes, repr, summon_full_params (names,
    writeback), FULL_STATE_DICT (rank0_only, offload_to_cpu, loading into a fresh model,
    strict errors), LOCAL_STATE_DICT round trip, sync_module_states, no_sync's error."""
    code, out = mpiexec(2, "structure")
    assert code == 0 and out.count("ok structure") == 2, out


@needs_mpi
def test_fsdp_mixed_precision():
    """MixedPrecision(param_dtype=float16, reduce_dtype=float32): float16 forward, float32
    shards and gradients, close to the float32 one-process training."""
    code, out = mpiexec(2, "mixed")
    assert code == 0 and out.count("ok mixed") == 2, out


@needs_mpi
def test_fully_shard_trains_as_one_process_on_the_global_batch():
    """fully_shard on each block and on the root (FSDP2): float64 / float32, SGD-momentum
    (with nn.utils.clip_grad_norm_ over the DTensor gradients) and Adam (its state DTensors),
    gradient accumulation with set_requires_gradient_sync(False), and HSDP (a 2x1 mesh:
    replicated over 2, shards of 1) with Adam; state_dict keys
    are the model's, each value this rank's dim-0 chunk (a DTensor with Shard(0)) of the
    one-process model's."""
    code, out = mpiexec(2, "fsdp2")
    assert code == 0 and out.count("ok fsdp2") == 2, out


@needs_mpi
def test_distributed_checkpoint_of_a_fully_sharded_model():
    """get_model_state_dict / get_optimizer_state_dict (sharded, and full on rank 0 with
    cpu_offload), set_model_state_dict with broadcast_from_rank0 into a plain model,
    dcp.save of the DTensor shards (one file per rank + .metadata), dcp.load into a fresh
    fully_shard'ed model and optimizer (the same outputs and the same next Adam steps), and
    the sharded checkpoint loaded into full tensors."""
    code, out = mpiexec(2, "checkpoint")
    assert code == 0 and out.count("ok checkpoint") == 2, out


# ------------------------------------------------------------ pytorch/examples FSDP2
# examples/ported/fsdp2 is pytorch/examples' distributed/FSDP2 changed in its import lines
# only. On a machine without 2 GPUs the program refuses to run (as the original does, see
# test_ported_programs); this test runs a copy with these lines changed (listed in
# examples/ported/README.md): the GPU check (its CPU branch is then taken), the meta device
# (dark has none: the model is built on the CPU and reset_parameters re-initialises it as
# on the meta path), and the sizes (10 layers of a 1024-word, 64-token model, batches of
# 32, 10 steps -> 2 layers, 64 words, 16 tokens, batches of 4, 3 steps).
FSDP2_EDITS = [
    ("    if not verify_min_gpu_count(min_gpus=_min_gpu_count):", "    if False:"),
    ('    with torch.device("meta"):', '    with torch.device("cpu"):'),
    ("        model.to_empty(device=device)\n", "        model.to(device)\n"),
    ("    vocab_size = 1024", "    vocab_size = 64"),
    ("    batch_size = 32", "    batch_size = 4"),
    ("    seq_len = 64", "    seq_len = 16"),
    ("        n_layers=10,", "        n_layers=2,"),
    ("    for _ in range(10):", "    for _ in range(3):"),
]


def _launch(code_dir, work, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get(
                   "PYTHONPATH")])))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "-m", "dark.distributed.run", "--standalone",
                             "--nproc-per-node", "2", str(code_dir / "example.py"), *args],
                            env=env, capture_output=True, text=True, timeout=240, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_mpi
def test_pytorch_examples_fsdp2_runs_and_resumes(tmp_path):
    """The FSDP2 example (fully_shard per layer and root, Adam, clip_grad_norm_, its
    Checkpointer) on 2 ranks: trained and saved, then resumed from its checkpoint, by both
    of its checkpoint paths (DTensor state_dicts, and the DCP state_dict API); the two paths
    give the same model after the first run and after the resumed one (which loaded the
    model and the Adam state); also with --mixed-precision and --explicit-prefetching."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    for path in (REPO / "examples" / "ported" / "fsdp2").glob("*.py"):
        text = path.read_text()
        if path.name == "example.py":
            for old, new in FSDP2_EDITS:
                assert text.count(old) == 1, old
                text = text.replace(old, new)
        (code_dir / path.name).write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    out = _launch(code_dir, work)
    assert "FSDPTransformer(" in out and "(0-1): 2 x FSDPTransformerBlock(" in out, out
    for args in ((), ("--dcp-api",), ("--dcp-api",)):
        _launch(code_dir, work, *args)
    runs = {api: sorted((work / "checkpoints" / api).iterdir(), key=lambda p: int(p.name))
            for api in ("dtensor_api", "dcp_api")}
    assert [len(r) for r in runs.values()] == [2, 2]
    reference = None
    for first, second in zip(*runs.values()):
        models = [dark.load(d / "model_state_dict.pt") for d in (first, second)]
        optims = [dark.load(d / "optim_state_dict.pt") for d in (first, second)]
        assert list(models[0]) == list(models[1]) and len(models[0]) == 29
        assert tuple(models[0]["output.weight"].shape) == (64, 16)
        for key in models[0]:
            assert dark.equal(models[0][key], models[1][key]), (first, key)
        # the DTensor path keys the optimizer state by index, the DCP path by name
        assert tuple(optims[0]["state"][0]["exp_avg"].shape) == (64, 16)
        assert tuple(optims[1]["state"]["tok_embeddings.weight"]["exp_avg"].shape) == (64, 16)
        assert dark.equal(optims[0]["state"][28]["exp_avg_sq"],
                          optims[1]["state"]["output.weight"]["exp_avg_sq"])
        if reference is not None:  # the resumed run trained on
            assert not dark.equal(reference["output.weight"], models[0]["output.weight"])
        reference = models[0]
    # bfloat16 parameters need ml_dtypes
    mixed = ("--mixed-precision",) if importlib.util.find_spec("ml_dtypes") else ()
    _launch(code_dir, work, "--explicit-prefetching", *mixed)


def test_pytorch_examples_fsdp2_port_changes_imports_only_and_refuses_the_cpu(tmp_path):
    """Every line of the port that names dark is an import line (or the header); unchanged,
    the program exits on a machine without 2 GPUs, as the original does."""
    folder = REPO / "examples" / "ported" / "fsdp2"
    assert sorted(p.name for p in folder.glob("*.py")) == ["checkpoint.py", "example.py",
                                                          "model.py", "utils.py"]
    for path in folder.glob("*.py"):
        for line in path.read_text().splitlines():
            if "dark" in line and not line.startswith("#"):
                assert line.startswith(("import dark", "from dark")), f"{path}: {line!r}"
    if dark.accelerator.device_count() >= 2:
        pytest.skip("this machine has 2 accelerators: the program would train")
    result = subprocess.run([sys.executable, str(folder / "example.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("Unable to locate sufficient 2 gpus to run this example. "
                             "Exiting.\n"), result.stdout


@needs_mpi
def test_fsdp1_checkpoint_flows_of_the_t5_example():
    """pytorch/examples distributed/FSDP's checkpoint_handler flows: SHARDED_STATE_DICT
    (model and FSDP.optim_state_dict as DTensor chunks) through dist_cp.save_state_dict /
    load_state_dict with FileSystemWriter / Reader and DefaultSavePlanner, and
    full_optim_state_dict on rank 0 with scatter_full_optim_state_dict: the restored models
    predict and keep training exactly as the original."""
    code, out = mpiexec(2, "fsdp1_checkpoints")
    assert code == 0 and out.count("ok fsdp1_checkpoints") == 2, out


@needs_mpi
def test_fsdp_with_activation_checkpointing():
    """Units whose forward is checkpointed (reentrant and not), FULL_SHARD / SHARD_GRAD_OP /
    NO_SHARD, with and without use_orig_params: the recomputation in backward finds the
    unit's parameters (put back before its backward after FULL_SHARD's resharding), and the
    training equals one process's; the same for fully_shard on each block, and for
    apply_activation_checkpointing on FSDP units (the T5 example's way)."""
    code, out = mpiexec(2, "activation_checkpointing")
    assert code == 0 and out.count("ok activation_checkpointing") == 2, out


def test_fsdp_module_path_holds_torchs_api_names():
    """torch.distributed.fsdp.fully_sharded_data_parallel holds the api's classes too (the T5
    FSDP example imports MixedPrecision from there): the same objects as the package's."""
    from dark.distributed import fsdp
    from dark.distributed.fsdp import fully_sharded_data_parallel as module
    for name in ("MixedPrecision", "ShardingStrategy", "StateDictType", "FullStateDictConfig",
                 "CPUOffload", "BackwardPrefetch", "FullyShardedDataParallel"):
        assert getattr(module, name) is getattr(fsdp, name)
