"""DeviceMesh, DTensor and tensor parallelism (dark.distributed.device_mesh,
dark.distributed.tensor, dark.distributed.tensor.parallel).

The multi-process checks run this file as a worker (``mpiexec -n 2 python
tests/test_dtensor.py CASE``): each case compares the sharded computation with the same
computation on the whole tensors in one process (forward values and every gradient, to
float32 rounding) and prints ``OK CASE``. They skip without mpi4py / mpiexec. The checks
without processes compare placements and styles with torch's."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
TP_EXAMPLES = REPO / "examples" / "ported" / "tensor_parallelism"


# =============================================================================== worker
def _close(a, b, what, rtol=1e-5, atol=1e-6):
    """Equal to float32 rounding: ``atol`` is relative to the largest magnitude of ``b``
    (sums taken in another order, over ranks, err by the size of their terms, not of the
    result: a gradient entry near 0 among entries near 5 differs by ~1e-5)."""
    import numpy as np

    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    scale = max(float(np.abs(b).max()), 1.0) if b.size else 1.0
    assert np.allclose(a, b, rtol=rtol, atol=atol * scale), \
        f"{what}: largest difference {np.abs(a - b).max()} (scale {scale})\n{a}\n{b}"


def case_placements():
    """distribute_tensor / from_local / redistribute / full_tensor over every change of
    placement, uneven pieces (5 rows on 2 ranks) included; gradients through each."""
    import dark
    from dark.distributed.device_mesh import init_device_mesh
    from dark.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (2,))
    rank = mesh.get_local_rank()
    dark.manual_seed(0)
    x = dark.randn(5, 3)
    expect_rows = [3, 2][rank]  # torch.chunk's pieces
    d0 = distribute_tensor(x, mesh, [Shard(0)])
    assert d0.shape == (5, 3) and d0.to_local().shape == (expect_rows, 3), d0.to_local().shape
    _close(d0.to_local(), x[:3] if rank == 0 else x[3:], "Shard(0) piece")
    assert d0.placements == (Shard(0),) and d0.device_mesh is mesh
    for src in ([Shard(0)], [Shard(1)], [Replicate()]):
        for dst in ([Shard(0)], [Shard(1)], [Replicate()]):
            d = distribute_tensor(x, mesh, src).redistribute(mesh, dst)
            assert d.placements == tuple(dst) and d.shape == (5, 3)
            _close(d.full_tensor(), x, f"{src} -> {dst}")
    # Partial: each rank's summand; the tensor is their sum
    part = x * (rank + 1)
    p = DTensor.from_local(part, mesh, [Partial()])
    _close(p.full_tensor(), x * 3, "Partial -> Replicate")
    _close(p.redistribute(mesh, [Shard(0)]).full_tensor(), x * 3, "Partial -> Shard(0)")
    assert p.redistribute(mesh, [Shard(0)]).to_local().shape == (expect_rows, 3)
    try:
        d0.redistribute(mesh, [Partial()])
    except RuntimeError as e:
        assert "redistributing to Partial is for internal use only" in str(e)
    else:
        raise AssertionError("redistribute to Partial did not raise")
    # gradients: the loss is the same on every rank (a function of the whole tensor)
    weights = dark.arange(15.0).reshape(5, 3)
    for src, dst in ([Shard(0)], [Replicate()]), ([Shard(0)], [Shard(1)]), \
            ([Replicate()], [Shard(1)]), ([Shard(1)], [Shard(0)]):
        leaf = distribute_tensor(x, mesh, src).requires_grad_()
        moved = leaf.redistribute(mesh, dst)
        loss = (moved.full_tensor() * weights).sum()
        loss.backward()
        _close(leaf.grad.full_tensor(), weights, f"grad {src} -> {dst}")
    local = part.clone().requires_grad_()
    (DTensor.from_local(local, mesh, [Partial()]).full_tensor() * weights).sum().backward()
    _close(local.grad, weights, "grad Partial -> Replicate")
    local = part.clone().requires_grad_()
    shard = DTensor.from_local(local, mesh, [Partial()]).redistribute(mesh, [Shard(0)])
    (shard.full_tensor() * weights).sum().backward()
    _close(local.grad, weights, "grad Partial -> Shard(0)")
    # from_local with the whole shape given (uneven), to_local's gradient
    piece = x[:3] if rank == 0 else x[3:]
    d = DTensor.from_local(piece, mesh, [Shard(0)], shape=(5, 3))
    _close(d.full_tensor(), x, "from_local(shape=)")
    leaf = piece.clone().requires_grad_()
    d = DTensor.from_local(leaf, mesh, [Shard(0)], shape=(5, 3))
    (d.to_local() * 2).sum().backward()
    _close(leaf.grad, dark.full_like(piece, 2.0), "grad through from_local/to_local")
    try:
        DTensor.from_local(d0, mesh, [Shard(0)])
    except RuntimeError as e:
        assert "the local_tensor argument only accepts" in str(e), e
    else:
        raise AssertionError("from_local of a DTensor did not raise")
    # new_*: laid out as the tensor when of its shape, else Replicate (torch's)
    same = d0.new_full((5, 3), 2.0)
    assert same.placements == (Shard(0),) and same.to_local().shape == (expect_rows, 3)
    _close(same.full_tensor(), dark.full((5, 3), 2.0), "new_full")
    other = d0.new_zeros(4)
    assert other.placements == (Replicate(),) and other.to_local().shape == (4,)
    # run_check: a Replicate's values are the first rank's
    leaf = (x + rank).requires_grad_()
    checked = DTensor.from_local(leaf, mesh, [Replicate()], run_check=True)
    _close(checked.to_local(), x, "from_local(run_check=True)")
    (checked.to_local() * 3).sum().backward()
    _close(leaf.grad, dark.full_like(x, 3.0), "grad through from_local(run_check=True)")
    # ops between DTensors and plain tensors with dimensions are an error, as torch's
    try:
        d0 + x
    except RuntimeError as e:
        assert "got mixed dark.Tensor and DTensor" in str(e), e
    else:
        raise AssertionError("DTensor + Tensor did not raise")
    _close((d0 * 2 + 1).full_tensor(), x * 2 + 1, "DTensor arithmetic with numbers")
    print("OK placements")


def case_ops():
    """The sharding rules against the whole-tensor ops: pointwise with broadcasting, sum /
    mean over sharded and whole dims, matmul / mm / F.linear in each sharding, views,
    softmax, layer norm, embedding by rows and by columns; every input gradient."""
    import dark
    import dark.nn.functional as F
    from dark.distributed.device_mesh import init_device_mesh
    from dark.distributed.tensor import Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (2,))
    dark.manual_seed(1)

    def check(name, fn, tensors, placements):
        """fn on DTensors (laid out as placements) vs fn on the whole tensors."""
        whole = [t.clone().requires_grad_() for t in tensors]
        ref = fn(*whole)
        weights = dark.randn(*ref.shape)
        (ref * weights).sum().backward()
        dts = [distribute_tensor(t, mesh, [p]).requires_grad_() for t, p in
               zip(tensors, placements)]
        out = fn(*dts)
        got = out.full_tensor()
        _close(got, ref, f"{name} forward")
        (got * weights).sum().backward()
        for i, (w, d) in enumerate(zip(whole, dts)):
            _close(d.grad.full_tensor(), w.grad, f"{name} grad of input {i}")
        return out

    a = dark.randn(4, 6)
    b = dark.randn(6, 8)
    S0, S1, R = Shard(0), Shard(1), Replicate()
    for pa, pb, expect in ((S0, R, (S0,)), (R, S1, (S1,)), (S1, S0, None), (R, R, (R,)),
                           (S0, S1, (S0,)), (S1, R, None)):
        out = check(f"matmul {pa} {pb}", lambda x, y: x @ y, [a, b], [pa, pb])
        if expect is not None:
            assert out.placements == expect, (pa, pb, out.placements)
    w = dark.randn(8, 6)
    bias = dark.randn(8)
    for pw, pb in ((S0, S0), (S1, R), (R, R)):
        for px in (R, S0, S1):
            check(f"linear x {px} w {pw}", lambda x, w_, b_: F.linear(x, w_, b_), [a, w, bias],
                  [px, pw, pb])
    x3 = dark.randn(2, 4, 6)
    check("linear 3-d S(1)", lambda x, w_: F.linear(x, w_), [x3, w], [S1, R])
    check("linear 3-d colwise", lambda x, w_: F.linear(x, w_), [x3, w], [R, S0])
    v = dark.randn(6)
    for p in (S0, S1, R):
        check(f"pointwise broadcast {p}", lambda x, y: (x * y + x).relu() / 2 - y, [a, v],
              [p, R])
    check("pointwise shard both", lambda x, y: x * y.sigmoid(), [a, v], [S1, S0])
    for p in (S0, S1):
        for dims, keep in ((None, False), (0, False), (1, True), (-1, False)):
            check(f"sum {p} {dims}", (lambda x, d=dims, k=keep: x.sum() if d is None else
                                       x.sum(d, keepdim=k)), [a], [p])
            check(f"mean {p} {dims}", (lambda x, d=dims, k=keep: x.mean() if d is None else
                                        x.mean(d, keepdim=k)), [a], [p])
    check("rms norm pieces", lambda x, g: x * dark.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
          * g, [x3, v], [S1, R])
    for p in (S0, S1, Shard(2)):
        check(f"softmax {p}", lambda x: F.softmax(x, dim=-1) * 3, [x3], [p])
        check(f"log_softmax {p}", lambda x: F.log_softmax(x, dim=1), [x3], [p])
        check(f"layer_norm {p}", lambda x, g, b_: F.layer_norm(x, (6,), g, b_), [x3, v, v],
              [p, R, R])
        check(f"view/transpose {p}", lambda x: x.view(2, 4, 2, 3).transpose(1, 2)
              .reshape(2, 2, 12) * 1.5, [x3], [p])
        check(f"permute/unsqueeze {p}", lambda x: x.permute(2, 0, 1).unsqueeze(0).exp(), [x3],
              [p])
    heads = dark.randn(2, 4, 3, 5)
    check("batched matmul S(1)", lambda q, k: F.softmax(q @ k.transpose(-2, -1), -1) @ k,
          [heads, heads], [S1, S1])
    check("sdpa heads sharded", lambda q, k, v_: F.scaled_dot_product_attention(
        q, k, v_, is_causal=True), [heads, heads, heads], [S1, S1, S1])
    table = dark.randn(10, 6)
    idx = dark.tensor([[1, 7, 3], [9, 0, 7]])
    for p in (S0, S1, R):
        check(f"embedding {p}", lambda t: F.embedding(idx, t), [table], [p])
    print("OK ops")


def case_misc():
    """Ops with no rule (through Replicate), raw-array operands that are DTensors' pieces
    (where's condition), Partial with numbers and plain scalars, dropout's mask, in-place
    ops, clip_grad_norm_, state_dict, deepcopy: each against the whole tensors."""
    import copy

    import dark
    import dark.nn as nn
    import dark.nn.functional as F
    from dark.distributed.device_mesh import init_device_mesh
    from dark.distributed.tensor import DTensor, Partial, Shard, distribute_tensor
    from dark.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    mesh = init_device_mesh("cpu", (2,))
    rank = mesh.get_local_rank()
    dark.manual_seed(0)
    x = dark.randn(5, 4)
    d = distribute_tensor(x, mesh, [Shard(0)])

    def whole(v):
        return v.full_tensor() if isinstance(v, DTensor) else v

    for name, ours, ref in (
            ("where", lambda: dark.where(d > 0, d, d * 0), lambda: dark.where(x > 0, x, x * 0)),
            ("partial - scalar", lambda: d.sum(dtype=dark.float64) - x.sum(dtype=dark.float64),
             lambda: x.sum(dtype=dark.float64) * 0),
            ("mean - scalar", lambda: d.mean(dim=(0, 1)) - 1, lambda: x.mean() - 1),
            ("partial + number", lambda: d.sum(0) + 1, lambda: x.sum(0) + 1),
            ("cat", lambda: dark.cat([d, d * 2], 1), lambda: dark.cat([x, x * 2], 1)),
            ("stack", lambda: dark.stack([d, d]), lambda: dark.stack([x, x])),
            ("getitem", lambda: d[1:4, ::2], lambda: x[1:4, ::2]),
            ("chunk", lambda: d.chunk(2, 0)[1], lambda: x.chunk(2, 0)[1]),
            ("sort / topk", lambda: d.sort(0)[0] + d.topk(2, 0)[0].sum(),
             lambda: x.sort(0)[0] + x.topk(2, 0)[0].sum()),
            ("gather", lambda: d.gather(1, dark.tensor([[0], [3], [1], [2], [0]])),
             lambda: x.gather(1, dark.tensor([[0], [3], [1], [2], [0]]))),
            ("index_select / masked_select", lambda: d.index_select(0, dark.tensor([4, 0]))
             .sum() + d.masked_select(d > 0).sum(),
             lambda: x.index_select(0, dark.tensor([4, 0])).sum() + x.masked_select(x > 0).sum()),
            ("amax / argmax", lambda: d.amax(0) + d.argmax(1).sum(),
             lambda: x.amax(0) + x.argmax(1).sum()),
            ("std / var", lambda: d.std(0) + d.var(), lambda: x.std(0) + x.var()),
            ("cross_entropy", lambda: F.cross_entropy(d, dark.tensor([0, 1, 2, 3, 0])),
             lambda: F.cross_entropy(x, dark.tensor([0, 1, 2, 3, 0]))),
            ("in place", lambda: d.clone().mul_(2).add_(1), lambda: x * 2 + 1),
            ("norm", lambda: dark.linalg.vector_norm(d), lambda: dark.linalg.vector_norm(x))):
        _close(whole(ours()), ref(), name)
    from dark.distributed.tensor.parallel import loss_parallel

    logits = dark.randn(6, 7)
    labels = dark.tensor([0, 6, 3, 2, 5, 1])
    leaf = distribute_tensor(logits, mesh, [Shard(1)]).requires_grad_()
    with loss_parallel():
        loss = F.cross_entropy(leaf, labels)
        loss.backward()
    whole_logits = logits.clone().requires_grad_()
    ref = F.cross_entropy(whole_logits, labels)
    ref.backward()
    _close(whole(loss), ref, "loss_parallel cross_entropy")
    _close(leaf.grad.full_tensor(), whole_logits.grad, "loss_parallel gradient")
    if importlib.util.find_spec("ml_dtypes") is not None:  # bfloat16
        # autocast's op dispatch comes and goes under the DTensor one
        w = dark.randn(8, 4)
        dw = distribute_tensor(w, mesh, [Shard(0)])
        with dark.autocast("cpu", dtype=dark.bfloat16):
            ref, got = F.linear(x, w), F.linear(d, dw)
        assert got.dtype == dark.bfloat16 and got.placements == (Shard(0),)
        _close(got.full_tensor().float(), ref.float(), "linear under autocast")
        _close(F.linear(d, dw).full_tensor(), F.linear(x, w), "linear after autocast")
    # the module functions size their ops from the array (the local piece): an error, not a
    # wrong result (the methods are sized from the whole tensor)
    for call in (lambda: dark.split(d, 2, 0), lambda: dark.flatten(d)):
        try:
            call()
        except RuntimeError as e:
            assert "local piece" in str(e), e
        else:
            raise AssertionError("a function sized from the local piece did not raise")
    _close(dark.cat(d.split(2, 0)).full_tensor(), x, "split method")
    _close(dark.index_select(d, 0, dark.tensor([0, 1])).full_tensor(), x[[0, 1]],
           "index_select function (through Replicate)")
    p = DTensor.from_local(x * (rank + 1), mesh, [Partial()])
    _close((p * 2 - p / 4).full_tensor(), x * 3 * 1.75, "Partial linear ops")
    _close((p + 1).full_tensor(), x * 3 + 1, "Partial + number")
    dark.manual_seed(3)
    ref = F.dropout(x, 0.5)
    dark.manual_seed(3)
    _close(F.dropout(d, 0.5).full_tensor(), ref, "dropout (the mask drawn whole)")

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 8)
            self.b = nn.Linear(8, 3)

        def forward(self, v):
            return self.b(self.a(v).relu())
    dark.manual_seed(0)
    ref = M()
    dark.manual_seed(0)
    model = parallelize_module(M(), mesh, {"a": ColwiseParallel(), "b": RowwiseParallel()})
    for m in (ref, model):
        m(x).pow(2).sum().backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
    _close(whole(norm), nn.utils.clip_grad_norm_(ref.parameters(), 0.1), "clip_grad_norm_")
    for (n, q), (_, r) in zip(model.named_parameters(), ref.named_parameters()):
        _close(q.grad.full_tensor(), r.grad, f"clipped grad {n}")
    # nn.init on the parallelized parameters: the single-process values
    for init in (lambda t: nn.init.normal_(t, std=0.02), nn.init.kaiming_uniform_,
                 lambda t: nn.init.trunc_normal_(t, std=0.5, a=-0.6, b=0.6)):
        for m in (model, ref):
            dark.manual_seed(11)
            with dark.no_grad():
                init(m.a.weight)
                init(m.b.weight)
        _close(model.a.weight.full_tensor(), ref.a.weight, "init of a Shard(0) weight")
        _close(model.b.weight.full_tensor(), ref.b.weight, "init of a Shard(1) weight")
    state = model.state_dict()
    assert [state[k].placements for k in ("a.weight", "a.bias", "b.weight")] == \
        [(Shard(0),), (Shard(0),), (Shard(1),)]
    twin = copy.deepcopy(model)
    assert isinstance(twin.a.weight, nn.Parameter) and twin.a.weight.placements == (Shard(0),)
    with dark.no_grad():
        twin.a.weight.mul_(0)
    twin.load_state_dict(state)
    _close(twin(x), ref(x), "deepcopy + load_state_dict")
    print("OK misc")


class _MLP:
    """tensor_parallel_example's ToyModel."""

    @staticmethod
    def make():
        import dark.nn as nn

        class ToyModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.in_proj = nn.Linear(10, 32)
                self.relu = nn.ReLU()
                self.out_proj = nn.Linear(32, 5)

            def forward(self, x):
                return self.out_proj(self.relu(self.in_proj(x)))
        return ToyModel()


def _train_compare(name, make_model, plan, mesh, inputs, whole_inputs, steps=3, adam=True):
    """The model parallelized by ``plan`` and the same model whole, trained side by side:
    outputs, every parameter's gradient and the parameters after AdamW (or SGD) steps
    equal. (Adam's first steps move each parameter by ~lr whatever its gradient's size, so
    a gradient entry that is ~0 up to rounding moves either way: the larger model is
    compared through SGD, whose steps are proportional to the gradients.)"""
    import dark
    from dark.distributed.tensor import DTensor
    from dark.distributed.tensor.parallel import parallelize_module

    dark.manual_seed(0)
    ref = make_model()
    dark.manual_seed(0)
    model = parallelize_module(make_model(), mesh, plan)
    if adam:
        ref_opt = dark.optim.AdamW(ref.parameters(), lr=0.05, foreach=True)
        opt = dark.optim.AdamW(model.parameters(), lr=0.05, foreach=True)
    else:
        ref_opt = dark.optim.SGD(ref.parameters(), lr=0.05)
        opt = dark.optim.SGD(model.parameters(), lr=0.05)
    names = [n for n, _ in ref.named_parameters()]
    assert names == [n for n, _ in model.named_parameters()], names
    assert any(isinstance(p, DTensor) for p in model.parameters())
    for step in range(steps):
        out = model(inputs[step])
        ref_out = ref(whole_inputs[step])
        full = out.full_tensor() if isinstance(out, DTensor) else out
        local_ref = ref_out if full.shape == ref_out.shape else None
        if local_ref is None:  # the output is this rank's piece of the batch (sequence par.)
            rank = mesh.get_local_rank()
            local_ref = ref_out.chunk(mesh.size(), dim=0)[rank]
        _close(full, local_ref, f"{name} step {step} output", rtol=1e-4, atol=1e-5)
        out.sum().backward()
        ref_out.sum().backward()
        for (n, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
            g = p.grad.full_tensor() if isinstance(p, DTensor) else p.grad
            _close(g, q.grad, f"{name} step {step} grad {n}", rtol=1e-4, atol=1e-5)
        opt.step()
        ref_opt.step()
        opt.zero_grad()
        ref_opt.zero_grad()
    for (n, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        v = p.full_tensor() if isinstance(p, DTensor) else p
        _close(v, q, f"{name} parameter {n} after {steps} steps", rtol=1e-4, atol=1e-5)


def case_tp_mlp():
    """tensor_parallel_example's plan (Colwise -> Rowwise) and sequence_parallel_example's
    (the input sharded by rows) against the whole model."""
    import dark
    from dark.distributed.device_mesh import init_device_mesh
    from dark.distributed.tensor import Shard
    from dark.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    mesh = init_device_mesh("cpu", (2,))
    rank = mesh.get_local_rank()
    dark.manual_seed(5)
    inputs = [dark.rand(20, 10) for _ in range(3)]
    plan = {"in_proj": ColwiseParallel(), "out_proj": RowwiseParallel()}
    _train_compare("TP", _MLP.make, plan, mesh, inputs, inputs)
    # sequence parallel: each rank its own rows; the whole model sees them all
    dark.manual_seed(6)
    wholes = [dark.rand(20, 10) for _ in range(3)]
    pieces = [w.chunk(2, dim=0)[rank] for w in wholes]
    plan = {"in_proj": ColwiseParallel(input_layouts=Shard(0)),
            "out_proj": RowwiseParallel(output_layouts=Shard(0))}
    _train_compare("SP", _MLP.make, plan, mesh, pieces, wholes)
    print("OK tp_mlp")


def _llama_plan():
    from dark.distributed.tensor import Replicate, Shard
    from dark.distributed.tensor.parallel import (
        ColwiseParallel,
        PrepareModuleInput,
        RowwiseParallel,
        SequenceParallel,
    )

    top = {
        "tok_embeddings": RowwiseParallel(input_layouts=Replicate(), output_layouts=Shard(1)),
        "norm": SequenceParallel(),
        "output": ColwiseParallel(input_layouts=Shard(1), output_layouts=Replicate()),
    }
    # fsdp_tp_example's per-block plan, written once with a wildcard
    layers = {
        "layers.*.attention_norm": SequenceParallel(),
        "layers.*.attention": PrepareModuleInput(input_layouts=(Shard(1), Replicate()),
                                                 desired_input_layouts=(Replicate(),
                                                                        Replicate())),
        "layers.*.attention.wq": ColwiseParallel(use_local_output=False),
        "layers.*.attention.wk": ColwiseParallel(use_local_output=False),
        "layers.*.attention.wv": ColwiseParallel(use_local_output=False),
        "layers.*.attention.wo": RowwiseParallel(output_layouts=Shard(1)),
        "layers.*.ffn_norm": SequenceParallel(),
        "layers.*.feed_forward": PrepareModuleInput(input_layouts=(Shard(1),),
                                                    desired_input_layouts=(Replicate(),)),
        "layers.*.feed_forward.w1": ColwiseParallel(),
        "layers.*.feed_forward.w2": RowwiseParallel(output_layouts=Shard(1)),
        "layers.*.feed_forward.w3": ColwiseParallel(),
    }
    return {**top, **layers}


def case_llama():
    """fsdp_tp_example's tensor-parallel plan (sequence-parallel norms, Colwise q/k/v with
    DTensor outputs through rotary embedding and attention, Rowwise wo/w2, a row-sharded
    embedding) on a small llama2_model.Transformer, against the whole model."""
    import dark

    sys.path.insert(0, str(TP_EXAMPLES))
    from llama2_model import ModelArgs, Transformer

    from dark.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh("cpu", (2,), mesh_dim_names=("tp",))
    args = ModelArgs(dim=32, n_layers=2, n_heads=4, vocab_size=64, max_seq_len=16,
                     multiple_of=16)
    dark.manual_seed(3)
    tokens = [dark.randint(64, (2, 8)) for _ in range(2)]
    _train_compare("llama", lambda: Transformer.from_model_args(args), _llama_plan(), mesh["tp"],
                   tokens, tokens, steps=2, adam=False)
    print("OK llama")


def case_mesh():
    """A 2-d mesh on 2 ranks: names, slicing, groups, coordinates; a DTensor on both mesh
    dimensions."""
    import dark
    import dark.distributed as dist
    from dark.distributed.device_mesh import DeviceMesh, init_device_mesh
    from dark.distributed.tensor import Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (2, 1), mesh_dim_names=("dp", "tp"))
    rank = dist.get_rank()
    assert mesh.shape == (2, 1) and mesh.ndim == 2 and mesh.size() == 2
    assert mesh.get_coordinate() == [rank, 0]
    assert mesh.get_local_rank("dp") == rank and mesh.get_local_rank(1) == 0
    dp, tp = mesh["dp"], mesh["tp"]
    assert dp.size() == 2 and tp.size() == 1 and dp.mesh_dim_names == ("dp",)
    assert dp.get_local_rank() == rank and dist.get_world_size(dp.get_group()) == 2
    assert dist.get_world_size(tp.get_group()) == 1
    assert repr(mesh) == "DeviceMesh((dp=2, tp=1), 'cpu', stride=(1, 1))", repr(mesh)
    assert mesh["tp", "dp"].shape == (1, 2)
    for bad, kind, text in ((lambda: mesh["pp"], KeyError, "Invalid mesh_dim_names"),
                            (lambda: mesh.get_group(), RuntimeError, "have 2 dimensions"),
                            (lambda: init_device_mesh("cpu", (2,)).__getitem__("tp"),
                             RuntimeError, "without mesh_dim_names")):
        try:
            bad()
        except kind as e:
            assert text in str(e), e
        else:
            raise AssertionError(text)
    dark.manual_seed(2)
    x = dark.randn(6, 4)
    for placements in ([Shard(0), Replicate()], [Replicate(), Shard(1)], [Shard(1), Shard(0)],
                       [Shard(0), Shard(0)]):
        d = distribute_tensor(x, mesh, placements)
        _close(d.full_tensor(), x, f"2-d mesh {placements}")
        _close((d * 2).sum(0).full_tensor(), (x * 2).sum(0), f"2-d mesh sum {placements}")
        _close(d.redistribute(mesh, [Replicate(), Shard(0)]).full_tensor(), x,
               f"2-d mesh redistribute {placements}")
    with dp:  # the mesh DTensor functions take when given none
        _close(distribute_tensor(x, placements=[Shard(1)]).full_tensor(), x, "with mesh")
    try:
        distribute_tensor(x, placements=[Shard(1)])
    except RuntimeError as e:
        assert "No device mesh is currently active" in str(e)
    else:
        raise AssertionError("no mesh did not raise")
    explicit = DeviceMesh("cpu", [[1], [0]], mesh_dim_names=("a", "b"))
    assert explicit.get_coordinate() == [1 - rank, 0]
    print("OK mesh")


def case_single():
    """World size 1 (plain python, no launcher): every placement is the whole tensor."""
    import dark
    import dark.nn as nn
    from dark.distributed.device_mesh import init_device_mesh
    from dark.distributed.tensor import Shard, distribute_tensor
    from dark.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    mesh = init_device_mesh("cpu", (1,))
    x = dark.randn(3, 4)
    d = distribute_tensor(x, mesh, [Shard(1)])
    _close(d.to_local(), x, "world 1 piece")
    dark.manual_seed(0)
    model = parallelize_module(_MLP.make(), mesh, {"in_proj": ColwiseParallel(),
                                                   "out_proj": RowwiseParallel()})
    dark.manual_seed(0)
    ref = _MLP.make()
    inp = dark.rand(4, 10)
    _close(model(inp), ref(inp), "world 1 model")
    assert isinstance(model.in_proj.weight, nn.Parameter)
    print("OK single")


CASES = {"placements": case_placements, "ops": case_ops, "misc": case_misc,
         "tp_mlp": case_tp_mlp,
         "llama": case_llama, "mesh": case_mesh, "single": case_single}


def _main(names):
    import dark.distributed as dist

    try:
        for name in names:
            CASES[name]()
            sys.stdout.flush()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# =============================================================================== tests
if __name__ != "__main__":
    import pytest
    from harness import requires_torch, torch

    from dark.distributed.run import find_mpiexec
    from dark.distributed.tensor import Partial, Replicate, Shard
    from dark.distributed.tensor._redistribute import chunk_sizes
    from dark.distributed.tensor.parallel import (
        ColwiseParallel,
        PrepareModuleInput,
        PrepareModuleOutput,
        RowwiseParallel,
        SequenceParallel,
    )

    try:
        MPIEXEC = find_mpiexec()
    except RuntimeError:
        MPIEXEC = None
    HAVE_MPI = importlib.util.find_spec("mpi4py") is not None
    needs_mpi = pytest.mark.skipif(not HAVE_MPI or MPIEXEC is None,
                                   reason="mpi4py / mpiexec not installed (pip install "
                                          "dark[mpi])")

    def _env():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
            str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH")])),
            OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
        for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            env.pop(key, None)
        return env

    def _launch(cases, n=2):
        command = ([MPIEXEC, "-n", str(n)] if n > 1 else []) + \
            [sys.executable, __file__, *cases]
        result = subprocess.run(command, env=_env(), capture_output=True, text=True,
                                timeout=180, cwd=REPO)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-4000:]
        for case in cases:
            assert out.count(f"OK {case}") == n, out[-4000:]

    @needs_mpi
    def test_placements_and_redistribute_two_ranks():
        _launch(["placements", "mesh"])

    @needs_mpi
    def test_sharding_rules_match_whole_tensor_ops_two_ranks():
        _launch(["ops", "misc"])

    @needs_mpi
    def test_tensor_and_sequence_parallel_training_match_one_process():
        _launch(["tp_mlp", "llama"])

    @pytest.mark.skipif(not HAVE_MPI, reason="mpi4py not installed (pip install dark[mpi])")
    def test_world_size_one_without_launcher():
        _launch(["single"], n=1)

    def test_placements_compare_and_print_as_torch():
        assert Shard(0) == Shard(0) and Shard(0) != Shard(1) and Replicate() == Replicate()
        assert Partial() == Partial("sum") and Partial() != Partial("avg")
        assert len({Shard(1), Shard(1), Replicate(), Partial()}) == 3
        assert [repr(p) for p in (Shard(0), Replicate(), Partial())] == \
            ["Shard(dim=0)", "Replicate()", "Partial(sum)"]
        assert [str(p) for p in (Shard(2), Replicate(), Partial("avg"))] == ["S(2)", "R",
                                                                              "P(avg)"]
        assert Shard(1).is_shard() and Shard(1).is_shard(1) and not Shard(1).is_shard(0)
        assert Replicate().is_replicate() and Partial().is_partial()
        with pytest.raises(ValueError, match="unsupported reduce_op"):
            Partial("mean")

    @requires_torch
    def test_placements_and_styles_are_torchs():
        from torch.distributed.tensor import Partial as TP
        from torch.distributed.tensor import Replicate as TR
        from torch.distributed.tensor import Shard as TS
        from torch.distributed.tensor import parallel as tpar

        for ours, theirs in ((Shard(1), TS(1)), (Replicate(), TR()), (Partial(), TP()),
                             (Partial("max"), TP("max"))):
            assert (repr(ours), str(ours)) == (repr(theirs), str(theirs))
        pairs = [
            (ColwiseParallel(), tpar.ColwiseParallel()),
            (RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
             tpar.RowwiseParallel(output_layouts=TS(1), use_local_output=False)),
            (SequenceParallel(), tpar.SequenceParallel()),
            (PrepareModuleInput(input_layouts=(Shard(1), None),
                                desired_input_layouts=(Replicate(), None)),
             tpar.PrepareModuleInput(input_layouts=(TS(1), None),
                                     desired_input_layouts=(TR(), None))),
            (PrepareModuleOutput(output_layouts=Shard(0), desired_output_layouts=Replicate()),
             tpar.PrepareModuleOutput(output_layouts=TS(0), desired_output_layouts=TR())),
        ]
        for ours, theirs in pairs:
            assert repr(ours) == repr(theirs)

    @requires_torch
    @pytest.mark.parametrize("size", [0, 1, 5, 7, 8, 9])
    @pytest.mark.parametrize("n", [1, 2, 3, 4])
    def test_pieces_are_torch_chunk(size, n):
        theirs = [len(c) for c in torch.arange(size).chunk(n)] if size else []
        theirs += [0] * (n - len(theirs))
        assert chunk_sizes(size, n) == theirs

    def test_prepare_module_input_checks_lengths():
        with pytest.raises(AssertionError, match="should have same length"):
            PrepareModuleInput(input_layouts=(Shard(0), Shard(1)),
                               desired_input_layouts=(Replicate(),))
        with pytest.raises(AssertionError, match="desired module inputs should not be None"):
            PrepareModuleInput(input_layouts=Shard(0))

    def test_device_context_sets_factories_device():
        import dark

        before = dark.get_default_device()
        with dark.device("cpu") as d:
            assert d == dark.device("cpu") and dark.zeros(2).device == d
        assert dark.get_default_device() == before


if __name__ == "__main__":
    _main(sys.argv[1:])


def test_colwise_and_rowwise_take_only_linear_and_embedding():
    import dark
    from dark.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel
    for style, name in ((ColwiseParallel(), "ColwiseParallel"),
                        (RowwiseParallel(), "RowwiseParallel")):
        with pytest.raises(NotImplementedError, match=f"^{name} currently only support "
                                                      r"nn.Linear and nn.Embedding!$"):
            style._apply(dark.nn.Conv2d(1, 1, 1), None)
