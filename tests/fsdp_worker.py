"""The programs tests/test_fsdp.py runs on 2 processes under mpiexec:
`python tests/fsdp_worker.py SCENARIO`. Each rank checks its results itself against a
one-process reference it computes (the same model trained on the global batch) and prints
"RANK ok SCENARIO"."""
from __future__ import annotations

import copy
import functools
import os
import sys
import tempfile

import numpy as np

import dark
import dark.distributed as dist
from dark import nn
from dark.distributed.fsdp import (
    FullStateDictConfig,
    MixedPrecision,
    ShardingStrategy,
    StateDictType,
)
from dark.distributed.fsdp import (
    FullyShardedDataParallel as FSDP,
)
from dark.distributed.fsdp.wrap import (
    ModuleWrapPolicy,
    size_based_auto_wrap_policy,
    transformer_auto_wrap_policy,
)


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        return x + self.fc2(dark.relu(self.fc1(self.norm(x))))


class Net(nn.Module):
    """Embedding, blocks, a head; 7 + 8 * 7 ... parameters of odd sizes (padding)."""

    def __init__(self, vocab=11, d=6, n=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.Sequential(*[Block(d) for _ in range(n)])
        self.head = nn.Linear(d, 3)

    def forward(self, tokens):
        h = self.emb(tokens).mean(1)
        return self.head(self.blocks(h))


def batches(steps, global_batch, seed=0):
    rng = np.random.default_rng(seed)
    return [(dark.from_numpy(rng.integers(0, 11, (global_batch, 4))),
             dark.from_numpy(rng.integers(0, 3, global_batch))) for _ in range(steps)]


def close(a, b, tol, what):
    a = a.detach().numpy() if isinstance(a, dark.Tensor) else a
    b = b.detach().numpy() if isinstance(b, dark.Tensor) else b
    err = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
    assert a.shape == b.shape and err <= tol, f"{what}: max error {err} (tol {tol}), " \
        f"shapes {a.shape} {b.shape}"


def train(dtype, strategy, optim_name, policy, accumulate=False, clip=None, steps=4,
          groups=None, orig=False):
    rank, world = dist.get_rank(), dist.get_world_size()
    dark.manual_seed(0)
    reference = Net().to(dtype)
    model = copy.deepcopy(reference)
    fsdp = FSDP(model, sharding_strategy=strategy, auto_wrap_policy=policy,
                process_group=groups, use_orig_params=orig)
    make = {"sgd": lambda ps: dark.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps: dark.optim.Adam(ps, lr=0.01)}[optim_name]
    opt, ref_opt = make(fsdp.parameters()), make(reference.parameters())
    loss_fn = nn.CrossEntropyLoss()
    b = 4
    micro = 2 if accumulate else 1
    data = batches(steps * micro, b * world)
    norms = []
    for step in range(steps):
        opt.zero_grad()
        ref_opt.zero_grad()
        for m in range(micro):
            x, y = data[step * micro + m]
            mine = slice(rank * b, (rank + 1) * b)
            ctx = fsdp.no_sync() if (accumulate and m < micro - 1) else _null()
            with ctx:
                loss_fn(fsdp(x[mine]), y[mine]).backward()
            loss_fn(reference(x), y).backward()
        if clip is not None:
            norm = fsdp.clip_grad_norm_(clip)
            ref_norm = nn.utils.clip_grad_norm_(reference.parameters(), clip)
            norms.append((float(norm), float(ref_norm)))
        opt.step()
        ref_opt.step()
    fsdp._test_optims = (opt, ref_opt)
    return fsdp, reference, norms


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def check_model(fsdp, reference, tol, what):
    with FSDP.state_dict_type(fsdp, StateDictType.FULL_STATE_DICT):
        sd = fsdp.state_dict()
    ref = reference.state_dict()
    assert list(sd) == list(ref), f"{what}: keys {list(sd)} != {list(ref)}"
    for key in ref:
        close(sd[key], ref[key], tol, f"{what} {key}")


def check_optim(fsdp, reference, tol, what):
    """FSDP.optim_state_dict (keyed by the original names) equals the reference optimizer's
    state; optim_state_dict_to_load gives back this rank's shards of it."""
    opt, ref_opt = fsdp._test_optims
    full = FSDP.optim_state_dict(fsdp, opt)
    names = [n for n, _ in reference.named_parameters()]
    ref_sd = ref_opt.state_dict()
    assert sorted(full["state"]) == sorted(names), (what, sorted(full["state"]))
    assert full["param_groups"][0]["params"] == names or \
        sorted(full["param_groups"][0]["params"]) == sorted(names)
    for i, name in enumerate(names):
        for key, value in ref_sd["state"][i].items():
            close(full["state"][name][key], value, tol, f"{what} optim {name} {key}")
    sharded = FSDP.optim_state_dict_to_load(fsdp, opt, full)
    mine = opt.state_dict()
    for index, entry in mine["state"].items():
        for key, value in entry.items():
            close(sharded["state"][index][key], value, 0, f"{what} sharded optim {key}")


POLICIES = {
    "module": ModuleWrapPolicy({Block}),
    "transformer": functools.partial(transformer_auto_wrap_policy,
                                     transformer_layer_cls={Block}),
    "size": functools.partial(size_based_auto_wrap_policy, min_num_params=60),
    "none": None,
}


def training():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for dtype, tol in ((dark.float64, 1e-10), (dark.float32, 2e-5)):
        for strategy in (ShardingStrategy.FULL_SHARD, ShardingStrategy.SHARD_GRAD_OP,
                         ShardingStrategy.NO_SHARD, ShardingStrategy.HYBRID_SHARD):
            for optim_name, policy in (("sgd", "module"), ("adam", "size")):
                what = f"{dtype} {strategy} {optim_name} {policy}"
                fsdp, ref, _ = train(dtype, strategy, optim_name, POLICIES[policy])
                check_model(fsdp, ref, tol, what)
                check_optim(fsdp, ref, tol, what)
            fsdp, ref, _ = train(dtype, strategy, "sgd", POLICIES["transformer"],
                                 accumulate=True)
            check_model(fsdp, ref, tol, f"{dtype} {strategy} no_sync")
            fsdp, ref, norms = train(dtype, strategy, "sgd", POLICIES["none"], clip=0.05)
            check_model(fsdp, ref, tol, f"{dtype} {strategy} clip")
            for got, expected in norms:
                assert abs(got - expected) <= tol * max(1.0, expected), (norms, strategy)
            assert norms[0][1] > 0.05  # the clipping did clip
    # HYBRID_SHARD with given (shard, replicate) groups: shards of one rank, replicated on 2
    singles = [dist.new_group([0]), dist.new_group([1])]
    groups = (singles[rank], dist.new_group([0, 1]))
    for dtype, tol in ((dark.float64, 1e-10), (dark.float32, 2e-5)):
        for strategy in (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2):
            fsdp, ref, norms = train(dtype, strategy, "adam", POLICIES["module"], clip=0.05,
                                     groups=groups)
            assert fsdp.sharding_strategy == strategy and fsdp.replicate_group.size() == 2
            check_model(fsdp, ref, tol, f"{dtype} {strategy} 1x2")
            for got, expected in norms:
                assert abs(got - expected) <= tol * max(1.0, expected), (norms, strategy)
    # use_orig_params=True: the original parameters (this rank's 1-D parts) are what the
    # optimizer steps on
    for dtype, tol in ((dark.float64, 1e-10), (dark.float32, 2e-5)):
        for strategy in (ShardingStrategy.FULL_SHARD, ShardingStrategy.SHARD_GRAD_OP,
                         ShardingStrategy.NO_SHARD):
            what = f"{dtype} {strategy} use_orig_params"
            fsdp, ref, _ = train(dtype, strategy, "adam", POLICIES["module"], orig=True)
            names = [n for n, _ in fsdp.named_parameters()]
            assert names[:2] == ["_fsdp_wrapped_module.emb.weight",
                                 "_fsdp_wrapped_module.blocks.0._fsdp_wrapped_module.norm."
                                 "weight"], names
            if strategy != ShardingStrategy.NO_SHARD:  # emb.weight: 66 of the root's 88
                assert tuple(fsdp.emb.weight.shape) == ((44,) if rank == 0 else (22,))
            check_model(fsdp, ref, tol, what)
            check_optim(fsdp, ref, tol, what)
            fsdp, ref, _ = train(dtype, strategy, "sgd", POLICIES["module"], accumulate=True,
                                 orig=True)
            check_model(fsdp, ref, tol, f"{what} no_sync")
            fsdp, ref, norms = train(dtype, strategy, "sgd", None, clip=0.05, orig=True)
            check_model(fsdp, ref, tol, f"{what} clip")
            for got, expected in norms:
                assert abs(got - expected) <= tol * max(1.0, expected), (norms, strategy)
    print(f"{rank} ok training", flush=True)


def structure():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    dark.manual_seed(0)
    reference = Net()
    fsdp = FSDP(copy.deepcopy(reference), auto_wrap_policy=ModuleWrapPolicy({Block}))
    names = [n for n, _ in fsdp.named_parameters()]
    assert names == ["_fsdp_wrapped_module._flat_param"] + [
        f"_fsdp_wrapped_module.blocks.{i}._fsdp_wrapped_module._flat_param"
        for i in range(3)], names
    # each block: 2*6 + 6*12 + 12 + 12*6 + 6 = 174 elements, 87 per rank
    shapes = [tuple(p.shape) for p in fsdp.parameters()]
    assert shapes == [(44,), (87,), (87,), (87,)], shapes  # root: 66 + 21 = 87 -> 44 each
    assert isinstance(fsdp.blocks[0], FSDP) and fsdp.module is fsdp._fsdp_wrapped_module
    assert len(FSDP.fsdp_modules(fsdp)) == 4 and len(FSDP.fsdp_modules(fsdp, True)) == 1
    text = repr(fsdp)
    assert text.startswith("FullyShardedDataParallel(\n  (_fsdp_wrapped_module): Net(") and \
        "(0): FullyShardedDataParallel(\n        (_fsdp_wrapped_module): Block(" in text, text
    # summon_full_params: the original parameters, named as the unwrapped model's
    with FSDP.summon_full_params(fsdp):
        full = dict(fsdp.named_parameters())
        assert list(full) == [n for n, _ in reference.named_parameters()], list(full)
        for n, p in reference.named_parameters():
            close(full[n], p, 0, n)
        with dark.no_grad():
            fsdp.head.bias.add_(1.0)  # written back into the shards
    with FSDP.summon_full_params(fsdp, writeback=False):
        close(fsdp.head.bias, reference.head.bias + 1, 0, "writeback")
        with dark.no_grad():
            fsdp.head.bias.add_(1.0)  # not written back
    sd = fsdp.state_dict()
    close(sd["head.bias"], reference.head.bias + 1, 0, "no writeback")
    # FULL_STATE_DICT rank0_only / offload_to_cpu; loading it into a fresh FSDP model
    config = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
    with FSDP.state_dict_type(fsdp, StateDictType.FULL_STATE_DICT, config):
        sd0 = fsdp.state_dict()
    assert (len(sd0) == len(reference.state_dict())) if rank == 0 else sd0 == {}
    dark.manual_seed(1)
    other = FSDP(Net(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    x = batches(1, 4)[0][0]
    assert not np.allclose(other(x).detach().numpy(), fsdp(x).detach().numpy())
    result = other.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    close(other(x), fsdp(x), 0, "loaded full state dict")
    with FSDP.state_dict_type(fsdp, StateDictType.FULL_STATE_DICT):
        try:
            other.load_state_dict({**sd, "extra": dark.zeros(1)})
        except RuntimeError as error:
            assert 'Unexpected key(s) in state_dict: "extra"' in str(error), error
        else:
            raise AssertionError("strict load took an unexpected key")
    # LOCAL_STATE_DICT: the flat shards
    with FSDP.state_dict_type(fsdp, StateDictType.LOCAL_STATE_DICT):
        local = fsdp.state_dict()
        assert list(local) == ["_flat_param", "blocks.0._flat_param", "blocks.1._flat_param",
                               "blocks.2._flat_param"], list(local)
    dark.manual_seed(2)
    third = FSDP(Net(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    with FSDP.state_dict_type(third, StateDictType.LOCAL_STATE_DICT):
        third.load_state_dict(local)
    close(third(x), fsdp(x), 0, "loaded local state dict")
    # SHARDED_STATE_DICT: each parameter's dim-0 chunk of this rank
    with FSDP.state_dict_type(fsdp, StateDictType.SHARDED_STATE_DICT):
        sharded = fsdp.state_dict()
    assert list(sharded) == list(sd)
    for key, value in sd.items():
        if value.dim():
            rows = -(-value.shape[0] // 2)
            assert tuple(sharded[key].shape) == tuple(value.shape)
            assert [str(p) for p in sharded[key].placements] == ["S(0)"], \
                sharded[key].placements
            close(sharded[key].to_local(), value[rank * rows:(rank + 1) * rows], 0,
                  f"sharded {key}")
    dark.manual_seed(3)
    fourth = FSDP(Net(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    with FSDP.state_dict_type(fourth, StateDictType.SHARDED_STATE_DICT):
        fourth.load_state_dict(sharded)
    close(fourth(x), fsdp(x), 0, "loaded sharded state dict")
    # no_sync on an inner unit is torch's error
    try:
        with fsdp.blocks[0].no_sync():
            pass
    except RuntimeError as error:
        assert "no_sync()` on inner FSDP instances is not supported" in str(error)
    else:
        raise AssertionError("no_sync on an inner unit")
    # sync_module_states: rank 1's different initial weights become rank 0's
    dark.manual_seed(rank)
    synced = FSDP(Net(), sync_module_states=True, sharding_strategy=ShardingStrategy.NO_SHARD)
    with FSDP.summon_full_params(synced):
        weights = synced.head.weight.detach().clone()
    gathered = [dark.zeros_like(weights) for _ in range(2)]
    dist.all_gather(gathered, weights)
    close(gathered[0], gathered[1], 0, "sync_module_states")
    print(f"{rank} ok structure", flush=True)


def mixed():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    dark.manual_seed(0)
    reference = Net()
    seen = []
    policy = MixedPrecision(param_dtype=dark.float16, reduce_dtype=dark.float32)
    fsdp = FSDP(copy.deepcopy(reference), mixed_precision=policy,
                auto_wrap_policy=ModuleWrapPolicy({Block}))
    fsdp.blocks[0].module.fc1.register_forward_hook(
        lambda m, i, o: seen.append((m.weight.dtype, i[0].dtype, o.dtype)))
    opt = dark.optim.SGD(fsdp.parameters(), lr=0.1)
    ref_opt = dark.optim.SGD(reference.parameters(), lr=0.1)
    for x, y in batches(3, 8):
        mine = slice(rank * 4, rank * 4 + 4)
        opt.zero_grad()
        ref_opt.zero_grad()
        nn.functional.cross_entropy(fsdp(x[mine]).float(), y[mine]).backward()
        nn.functional.cross_entropy(reference(x), y).backward()
        assert all(p.grad.dtype == dark.float32 for p in fsdp.parameters())
        opt.step()
        ref_opt.step()
    assert seen[0] == (dark.float16, dark.float16, dark.float16), seen
    assert all(p.dtype == dark.float32 for p in fsdp.parameters())
    sd = fsdp.state_dict()
    ref = reference.state_dict()
    for key in ref:
        assert sd[key].dtype == dark.float32
        close(sd[key], ref[key], 5e-3, f"mixed precision {key}")  # float16 forward
    # buffer_dtype: buffers in float16 from the first forward, full precision in state_dict
    dark.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    fsdp = FSDP(net, mixed_precision=MixedPrecision(param_dtype=dark.float16,
                                                    buffer_dtype=dark.float16))
    fsdp(dark.randn(6, 3)).float().sum().backward()
    assert fsdp.module[1].running_mean.dtype == dark.float16
    sd = fsdp.state_dict()
    assert sd["1.running_mean"].dtype == dark.float32 and sd["0.weight"].dtype == dark.float32
    assert sd["1.num_batches_tracked"].dtype == dark.int64
    print(f"{rank} ok mixed", flush=True)



def fsdp2():
    from dark.distributed.fsdp import FSDPModule, fully_shard

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    loss_fn = nn.CrossEntropyLoss()
    from dark.distributed.device_mesh import init_device_mesh

    hsdp = init_device_mesh("cpu", (2, 1), mesh_dim_names=("replicate", "shard"))
    for dtype, tol, optim_name, accumulate, mesh in (
            (dark.float64, 1e-10, "sgd", False, None), (dark.float64, 1e-10, "adam", True, None),
            (dark.float32, 2e-5, "sgd", False, None), (dark.float32, 2e-5, "adam", True, None),
            (dark.float64, 1e-10, "adam", False, hsdp)):
        dark.manual_seed(0)
        reference = Net().to(dtype)
        model = copy.deepcopy(reference)
        for block in model.blocks:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        assert isinstance(model, Net) and isinstance(model, FSDPModule)
        assert type(model).__name__ == "FSDPNet"
        make = {"sgd": lambda ps: dark.optim.SGD(ps, lr=0.1, momentum=0.9),
                "adam": lambda ps: dark.optim.Adam(ps, lr=0.01)}[optim_name]
        opt, ref_opt = make(model.parameters()), make(reference.parameters())
        micro = 2 if accumulate else 1
        data = batches(3 * micro, 8)
        for step in range(3):
            for m in range(micro):
                x, y = data[step * micro + m]
                model.set_requires_gradient_sync(m == micro - 1)
                loss_fn(model(x[rank * 4:rank * 4 + 4]), y[rank * 4:rank * 4 + 4]).backward()
                loss_fn(reference(x), y).backward()
            if optim_name == "sgd":  # the total norm over the shards, as torch's
                norm = nn.utils.clip_grad_norm_(model.parameters(), 0.05)
                expected = nn.utils.clip_grad_norm_(reference.parameters(), 0.05)
                norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
                assert float(expected) > 0.05
                close(norm, expected, tol, "clip_grad_norm_")
            opt.step()
            ref_opt.step()
            opt.zero_grad()
            ref_opt.zero_grad()
        if optim_name == "adam":  # the state of a DTensor parameter is a DTensor (torch's)
            entry = opt.state_dict()["state"][0]
            assert type(entry["exp_avg"]).__name__ == "DTensor", type(entry["exp_avg"])
            assert tuple(entry["exp_avg"].shape) == (11, 6)
            expected = ref_opt.state_dict()["state"][0]["exp_avg"]
            close(entry["exp_avg"].to_local(),
                  expected if mesh is not None else expected[rank * 6:rank * 6 + 6], tol,
                  "adam state")
        sd = model.state_dict()
        ref = reference.state_dict()
        assert list(sd) == list(ref), (list(sd), list(ref))
        for key, value in ref.items():
            got = sd[key]
            rows = -(-value.shape[0] // 2)
            if mesh is not None:  # HSDP: replicated over the mesh's first dimension
                assert [str(p) for p in got.placements] == ["R", "S(0)"], got.placements
                close(got.to_local(), value, tol, f"hsdp local {key}")
                close(got.full_tensor(), value, tol, f"hsdp {key}")
            else:  # a DTensor sharded on dim 0: this rank's chunk
                assert type(got).__name__ == "DTensor", type(got)
                assert [str(p) for p in got.placements] == ["S(0)"], got.placements
                close(got.to_local(), value[rank * rows:(rank + 1) * rows], tol,
                      f"fsdp2 local {key}")
                close(got.full_tensor(), value, tol, f"fsdp2 {dtype} {optim_name} {key}")
    # a forward under another name, and explicit unshard / reshard
    from dark.distributed.fsdp import register_fsdp_forward_method

    dark.manual_seed(0)
    reference = Net()
    model = copy.deepcopy(reference)
    fully_shard(model)
    model.encode = lambda tokens: model.emb(tokens).mean(1)
    register_fsdp_forward_method(model, "encode")
    x = batches(1, 4)[0][0]
    out = model.encode(x)
    close(out, reference.emb(x).mean(1), 0, "registered forward method")
    assert type(model.emb.weight).__name__ == "Tensor"  # the root: unsharded until backward
    out.sum().backward()
    assert type(model.emb.weight).__name__ == "DParameter"
    assert tuple(model.emb.weight.grad.shape) == (11, 6)
    with dark.no_grad():
        model.encode(x)
    assert type(model.emb.weight).__name__ == "DParameter"  # no backward: resharded
    assert model.unshard(async_op=True).wait() is None
    assert type(model.emb.weight).__name__ == "Tensor"
    model.reshard()
    assert type(model.emb.weight).__name__ == "DParameter"
    print(f"{rank} ok fsdp2", flush=True)



def checkpoint():
    import dark.distributed.checkpoint as dcp
    from dark.distributed.checkpoint.state_dict import (
        StateDictOptions,
        _init_optim_state,
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )
    from dark.distributed.fsdp import fully_shard

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    folder = [tempfile.mkdtemp() if rank == 0 else None]
    dist.broadcast_object_list(folder)
    folder = folder[0]
    loss_fn = nn.CrossEntropyLoss()
    data = batches(4, 8)

    def sharded(seed):
        dark.manual_seed(seed)
        model = Net()
        for block in model.blocks:
            fully_shard(block)
        fully_shard(model)
        return model, dark.optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt, x, y):
        loss_fn(model(x[rank * 4:rank * 4 + 4]), y[rank * 4:rank * 4 + 4]).backward()
        opt.step()
        opt.zero_grad()

    model, opt = sharded(0)
    for x, y in data[:2]:
        step(model, opt, x, y)
    # full state dicts: on rank 0 only with cpu_offload, keyed as the model's
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                cpu_offload=True))
    assert (list(full) == [n for n, _ in Net().state_dict().items()]) if rank == 0 \
        else full == {}, list(full)
    full_optim = get_optimizer_state_dict(model, opt, options=StateDictOptions(
        full_state_dict=True, cpu_offload=True))
    if rank == 0:
        assert sorted(full_optim["state"]) == sorted(n for n, _ in Net().named_parameters())
        assert tuple(full_optim["state"]["head.weight"]["exp_avg"].shape) == (3, 6)
    # a plain model from the full state dict (rank 0's, broadcast) predicts as the sharded one
    plain = Net()
    set_model_state_dict(plain, full, options=StateDictOptions(full_state_dict=True,
                                                               broadcast_from_rank0=True))
    x = data[3][0]
    close(plain(x), model(x), 1e-6, "plain model from the full state dict")
    # dcp.save of the sharded state, dcp.load into a fresh sharded model and optimizer
    saved_full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    dcp.save({"model": get_model_state_dict(model), "optim": get_optimizer_state_dict(model, opt),
              "epoch": 7}, checkpoint_id=folder)
    files = sorted(os.listdir(folder))
    assert files == [".metadata", "__0_0.distcp", "__1_0.distcp"], files
    other, other_opt = sharded(1)
    _init_optim_state(other_opt)
    state = {"model": get_model_state_dict(other),
             "optim": get_optimizer_state_dict(other, other_opt), "epoch": 0}
    dcp.load(state, checkpoint_id=folder)
    assert state["epoch"] == 7
    set_model_state_dict(other, state["model"])
    set_optimizer_state_dict(other, other_opt, state["optim"])
    close(other(x), model(x), 0, "dcp round trip")
    for x, y in data[2:]:  # the optimizer state came back too: the same next steps
        step(model, opt, x, y)
        step(other, other_opt, x, y)
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        close(a.to_local(), b.to_local(), 0, f"after resumed steps {k}")
    # the sharded checkpoint loads into full tensors too (another layout)
    loaded = {"model": dict(Net().state_dict())}
    dcp.load(loaded, checkpoint_id=folder)
    for key, value in saved_full.items():
        close(loaded["model"][key], value, 0, f"sharded checkpoint into full {key}")
    print(f"{rank} ok checkpoint", flush=True)

def fsdp1_checkpoints():
    """The checkpoint flows of pytorch/examples distributed/FSDP (T5): SHARDED_STATE_DICT
    through dist_cp.save_state_dict / load_state_dict, FSDP.optim_state_dict (sharded) and
    optim_state_dict_to_load, full_optim_state_dict on rank 0 and
    scatter_full_optim_state_dict."""
    import dark.distributed.checkpoint as dist_cp
    from dark.distributed.checkpoint.default_planner import DefaultSavePlanner
    from dark.distributed.checkpoint.state_dict import _init_optim_state

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    folder = [tempfile.mkdtemp() if rank == 0 else None]
    dist.broadcast_object_list(folder)
    folder = folder[0]
    data = batches(3, 8)
    loss_fn = nn.CrossEntropyLoss()

    def build(seed):
        dark.manual_seed(seed)
        model = FSDP(Net(), auto_wrap_policy=ModuleWrapPolicy({Block}))
        return model, dark.optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt, x, y):
        loss_fn(model(x[rank * 4:rank * 4 + 4]), y[rank * 4:rank * 4 + 4]).backward()
        opt.step()
        opt.zero_grad()

    model, opt = build(0)
    step(model, opt, *data[0])
    writer = dist_cp.FileSystemWriter(folder)
    with FSDP.state_dict_type(model, StateDictType.SHARDED_STATE_DICT):
        state = {"model": model.state_dict(), "optim": FSDP.optim_state_dict(model, opt)}
        exp_avg = state["optim"]["state"]["head.weight"]["exp_avg"]
        assert type(exp_avg).__name__ == "DTensor" and tuple(exp_avg.shape) == (3, 6)
        dist_cp.save_state_dict(state_dict=state, storage_writer=writer,
                                planner=DefaultSavePlanner())
    full_osd = FSDP.full_optim_state_dict(model, opt)
    assert (sorted(full_osd["state"]) == list(range(len(list(Net().parameters()))))) \
        if rank == 0 else full_osd == {}
    # sharded model and optimizer state back into a fresh model
    other, other_opt = build(1)
    _init_optim_state(other_opt)
    with FSDP.state_dict_type(other, StateDictType.SHARDED_STATE_DICT):
        checkpoint = {"model": other.state_dict(),
                      "optim": FSDP.optim_state_dict(other, other_opt)}
        dist_cp.load_state_dict(state_dict=checkpoint,
                                storage_reader=dist_cp.FileSystemReader(folder))
        other.load_state_dict(checkpoint["model"])
        FSDP.optim_state_dict_to_load(other, other_opt, checkpoint["optim"],
                                      load_directly=True)
    # the full optimizer state from rank 0, scattered, into a third
    third, third_opt = build(2)
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT):
        full_model = model.state_dict()
    third.load_state_dict(full_model)
    third_opt.load_state_dict(FSDP.scatter_full_optim_state_dict(
        full_osd if rank == 0 else None, third))
    x = data[2][0]
    close(other(x), model(x), 0, "sharded checkpoint")
    close(third(x), model(x), 0, "full checkpoint")
    for x, y in data[1:]:
        for m, o in ((model, opt), (other, other_opt), (third, third_opt)):
            step(m, o, x, y)
    for m in (other, third):
        for a, b in zip(m.parameters(), model.parameters()):
            close(a, b, 0, "resumed training")
    print(f"{rank} ok fsdp1_checkpoints", flush=True)

class ReentrantBlock(Block):
    def forward(self, x):
        from dark.utils.checkpoint import checkpoint

        return checkpoint(super().forward, x, use_reentrant=True)


class NonReentrantBlock(Block):
    def forward(self, x):
        from dark.utils.checkpoint import checkpoint

        return checkpoint(super().forward, x, use_reentrant=False)


def activation_checkpointing():
    """Blocks that checkpoint their forward (recomputed in backward from the unit's
    parameters), each an FSDP unit: the same training as one process without it."""
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    loss_fn = nn.CrossEntropyLoss()

    def train_both(model, reference):
        """3 SGD-momentum steps: the sharded model on this rank's half of each batch, the
        reference on the whole batch."""
        opt = dark.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        ref_opt = dark.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        for x, y in batches(3, 8):
            loss_fn(model(x[rank * 4:rank * 4 + 4]), y[rank * 4:rank * 4 + 4]).backward()
            loss_fn(reference(x), y).backward()
            for o in (opt, ref_opt):
                o.step()
                o.zero_grad()

    for cls in (ReentrantBlock, NonReentrantBlock):
        for strategy in (ShardingStrategy.FULL_SHARD, ShardingStrategy.SHARD_GRAD_OP,
                         ShardingStrategy.NO_SHARD):
            for orig in (False, True):
                dark.manual_seed(0)
                reference = Net().double()
                model = copy.deepcopy(reference)
                for block in model.blocks:
                    block.__class__ = cls
                fsdp = FSDP(model, sharding_strategy=strategy, use_orig_params=orig,
                            auto_wrap_policy=ModuleWrapPolicy({cls}))
                train_both(fsdp, reference)
                check_model(fsdp, reference, 1e-10, f"{cls.__name__} {strategy} {orig}")
        # fully_shard on each checkpointing block (resharded after forward) and the root
        from dark.distributed.fsdp import fully_shard

        dark.manual_seed(0)
        reference = Net().double()
        model = copy.deepcopy(reference)
        for block in model.blocks:
            block.__class__ = cls
            fully_shard(block)
        fully_shard(model)
        train_both(model, reference)
        for (key, got), value in zip(model.state_dict().items(),
                                     reference.state_dict().values()):
            close(got.full_tensor(), value, 1e-10, f"fully_shard {cls.__name__} {key}")
    # the T5 example's way: FSDP units, then apply_activation_checkpointing on the blocks
    from dark.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        CheckpointImpl,
        CheckpointWrapper,
        apply_activation_checkpointing,
        checkpoint_wrapper,
    )

    for impl in (CheckpointImpl.REENTRANT, CheckpointImpl.NO_REENTRANT):
        dark.manual_seed(0)
        reference = Net().double()
        fsdp = FSDP(copy.deepcopy(reference), auto_wrap_policy=ModuleWrapPolicy({Block}))
        apply_activation_checkpointing(
            fsdp, checkpoint_wrapper_fn=functools.partial(checkpoint_wrapper,
                                                          checkpoint_impl=impl),
            check_fn=lambda m: isinstance(m, Block))
        assert isinstance(fsdp.blocks[0].module, CheckpointWrapper)
        names = [n for n, _ in fsdp.named_parameters()]
        assert names[1] == ("_fsdp_wrapped_module.blocks.0._fsdp_wrapped_module."
                            "_checkpoint_wrapped_module._flat_param"), names
        train_both(fsdp, reference)
        check_model(fsdp, reference, 1e-10, f"apply_activation_checkpointing {impl}")
        fsdp.load_state_dict(reference.state_dict())  # the unwrapped model's keys load
    print(f"{rank} ok activation_checkpointing", flush=True)

if __name__ == "__main__":
    os.environ.setdefault("TMPDIR", tempfile.gettempdir())
    {"training": training, "structure": structure, "mixed": mixed, "fsdp2": fsdp2,
     "checkpoint": checkpoint, "fsdp1_checkpoints": fsdp1_checkpoints,
     "activation_checkpointing": activation_checkpointing}[sys.argv[1]]()
    dist.destroy_process_group()
