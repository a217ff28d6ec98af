"""Train examples/mnist.py's models on MNIST with DistributedDataParallel, on several
processes (replace `dark` by `torch` and `dark.data` by `torchvision` and it is a PyTorch
DDP program).

    mpiexec -n 2 python examples/mnist_ddp.py                          # MPI's launcher
    python -m dark.distributed.run --nproc-per-node 2 examples/mnist_ddp.py   # torchrun's way
    python examples/mnist_ddp.py --spawn 2                             # mp.spawn's way

Several machines: the launcher on each with --nnodes, --node-rank, --master-addr (see the
README), or mpiexec with a host file. Each process trains on its share of every epoch
(DistributedSampler) with --batch-size samples a step, so a step sees world-size times as
many; the gradients are averaged across the processes during backward. Rank 0 prints, tests
and saves the checkpoint.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from mnist import DEFAULTS, MODELS, data_error_message, default_data_root, make_optimizer
from tqdm import tqdm

import dark
import dark.distributed as dist
import dark.multiprocessing as mp
import dark.nn as nn
from dark.data import datasets, transforms
from dark.nn.parallel import DistributedDataParallel as DDP
from dark.optim.lr_scheduler import StepLR
from dark.utils.data import DataLoader, Subset
from dark.utils.data.distributed import DistributedSampler


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="dark MNIST with DistributedDataParallel")
    parser.add_argument("--model", choices=MODELS, default="cnn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, help="default: the model's in examples/mnist.py")
    parser.add_argument("--backend", default="gloo", choices=("gloo", "mpi", "nccl"))
    parser.add_argument("--data-root", default=default_data_root(), metavar="DIR")
    parser.add_argument("--no-download", dest="download", action="store_false")
    parser.add_argument("--limit", type=int, help="use only the first N training samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", default="", help="rank 0's checkpoint path ('' for none)")
    parser.add_argument("--spawn", type=int, metavar="N",
                        help="start N processes with dark.multiprocessing.spawn")
    args = parser.parse_args(argv)
    for name, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                        ("--limit", args.limit), ("--spawn", args.spawn)):
        if value is not None and value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    if args.lr is None:
        args.lr = DEFAULTS[args.model]["lr"]
    return args


def train(rank: int, world_size: int, args) -> None:
    dist.init_process_group(args.backend, rank=rank if args.spawn else -1,
                            world_size=world_size if args.spawn else -1)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    dark.manual_seed(args.seed)  # the same initial model everywhere (DDP broadcasts rank 0's)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    try:
        train_set = datasets.MNIST(args.data_root, train=True, transform=transform,
                                   download=args.download and rank == 0)
        test_set = datasets.MNIST(args.data_root, train=False, transform=transform)
    except RuntimeError as error:
        sys.exit(data_error_message(args.data_root, error))
    if args.limit:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
        test_set = Subset(test_set, range(min(max(1, args.limit // 6), len(test_set))))
    sampler = DistributedSampler(train_set, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    model = DDP(MODELS[args.model]())
    optimizer = make_optimizer(DEFAULTS[args.model]["optimizer"], model.parameters(), args.lr,
                               0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    criterion = nn.CrossEntropyLoss()
    if rank == 0:
        print(f"{args.model} on {world_size} processes ({args.backend}): {len(train_set)} "
              f"training samples, batch {args.batch_size} per process", flush=True)
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        start = time.perf_counter()
        total = dark.zeros(2, dtype=dark.float64)  # summed loss, samples
        batches = tqdm(loader, desc=f"Epoch {epoch}", disable=rank != 0, dynamic_ncols=True)
        for data, target in batches:
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
            total += dark.tensor([loss.item() * len(target), len(target)], dtype=dark.float64)
        dist.all_reduce(total)
        scheduler.step()
        seconds = time.perf_counter() - start
        if rank == 0:
            accuracy = test(model.module, test_set)
            stats = model.comm_stats
            print(f"Epoch {epoch}: train loss {total[0].item() / total[1].item():.6f} over "
                  f"{int(total[1].item())} samples, test accuracy {accuracy:.2f}%, "
                  f"{seconds:.1f} s ({stats['wait_s'] / max(1, stats['steps']) * 1e3:.2f} ms "
                  f"a step waiting for gradients)", flush=True)
    if rank == 0 and args.save:
        dark.save(model.module.state_dict(), args.save)
        print(f"checkpoint saved to {args.save}", flush=True)
    dist.destroy_process_group()


def test(model, test_set) -> float:
    model.eval()
    correct = 0
    with dark.no_grad():
        for data, target in DataLoader(test_set, batch_size=1000):
            correct += (model(data).argmax(1) == target).sum().item()
    return 100.0 * correct / len(test_set)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.spawn:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        mp.spawn(train, args=(args.spawn, args), nprocs=args.spawn)
    else:
        train(-1, -1, args)


if __name__ == "__main__":
    main()
