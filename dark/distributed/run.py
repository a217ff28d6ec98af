"""``python -m dark.distributed.run``: start distributed workers as torchrun does.

    python -m dark.distributed.run --nproc-per-node 2 train.py --epochs 3
    # two machines, 4 workers each (run on each, with its --node-rank):
    python -m dark.distributed.run --nnodes 2 --node-rank 0 --nproc-per-node 4 \\
        --master-addr 10.0.0.1 --master-port 29500 train.py

Each worker gets torchrun's environment: ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``, so a script written
for torchrun (``init_process_group(backend="gloo")``, ``init_method="env://"``) runs
unchanged. Each worker runs under its own ``mpiexec -n 1`` (MPI connects only processes an
MPI launcher started); the workers meet at MASTER_ADDR:MASTER_PORT (see dark.distributed).
When a worker fails, the others are stopped and the launcher exits with its exit code,
naming it.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time


def find_mpiexec() -> str:
    """The ``mpiexec`` of the MPI that mpi4py uses: beside this Python (the mpich wheel puts
    it in the environment's bin/), else on PATH."""
    places = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    try:  # pip install --user puts it in the user scheme's scripts folder
        places.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    found = shutil.which("mpiexec", path=os.pathsep.join(places + [os.environ.get("PATH",
                                                                                   "")]))
    if found is None:
        raise RuntimeError("dark.distributed needs MPI's mpiexec: pip install mpi4py mpich (or "
                           "pip install dark[mpi])")
    return found


_WRAPPER = None


def mpi_python():
    """A program that runs this Python under ``mpiexec -n 1`` (a small shell script, made
    once per process), for dark.multiprocessing.spawn: its children then start as MPI
    processes, so dark.distributed can connect them; None when mpi4py or mpiexec is
    missing. Open file descriptors pass through mpiexec, so multiprocessing's pipes and
    queues work as with plain children."""
    global _WRAPPER
    if _WRAPPER is None:
        try:
            mpiexec = find_mpiexec()
        except RuntimeError:
            return None
        if importlib.util.find_spec("mpi4py") is None:
            return None
        folder = tempfile.mkdtemp(prefix="dark-mpi-")
        path = os.path.join(folder, "python-under-mpiexec")
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {shlex.quote(mpiexec)} -n 1 "
                    f"{shlex.quote(sys.executable)} \"$@\"\n")
        os.chmod(path, 0o755)
        _WRAPPER = path
    return _WRAPPER


def free_port() -> int:
    """A port nobody listens on, for rank 0's rendezvous, taken below the system's ephemeral
    range: a port the kernel hands out (bind to 0) is free only until the next outgoing
    connection or ephemeral listener takes it (each worker's mpiexec opens some while rank 0
    starts), which left rank 0 'Address already in use' and rank 1 talking to a stranger."""
    low = _ephemeral_low()
    candidates = list(range(max(1024, low - 10000), low))
    random.SystemRandom().shuffle(candidates)  # not the global stream a program may seed
    for port in candidates[:200]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the range below is taken: one from the kernel
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's ip_local_port_range; 32768,
    its default, elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dark.distributed.run",
        description="Start distributed dark workers (torchrun's flags).")

    def both(name, **kwargs):  # torchrun accepts --nproc-per-node and --nproc_per_node
        parser.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kwargs)

    both("nnodes", type=int, default=1, help="number of machines (default 1)")
    both("nproc-per-node", default="1", help="workers on this machine (a number, or 'cpu' "
                                             "for one per CPU core)")
    both("node-rank", type=int, default=0, help="this machine's rank, 0..nnodes-1")
    both("master-addr", default="127.0.0.1", help="address of the machine of rank 0")
    both("master-port", type=int, default=29500, help="port of rank 0's rendezvous")
    parser.add_argument("--standalone", action="store_true",
                        help="one machine, a free port chosen for the rendezvous")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the script as a module, as python -m")
    parser.add_argument("--no-python", "--no_python", action="store_true",
                        help="run the script as a program, not with python")
    parser.add_argument("script", help="the training script (or module / program)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    return parser


def worker_env(rank, local_rank, world_size, local_world_size, node_rank, addr, port) -> dict:
    env = dict(os.environ)
    env.update(RANK=str(rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(world_size),
               LOCAL_WORLD_SIZE=str(local_world_size), GROUP_RANK=str(node_rank),
               ROLE_RANK=str(rank), ROLE_WORLD_SIZE=str(world_size),
               MASTER_ADDR=str(addr), MASTER_PORT=str(port), OMP_NUM_THREADS=env.get(
                   "OMP_NUM_THREADS", "1"))
    return env


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.nproc_per_node == "cpu":
        nproc = os.cpu_count() or 1
    else:
        try:
            nproc = int(args.nproc_per_node)
        except ValueError:
            parser.error(f"--nproc-per-node must be a number or 'cpu', got "
                         f"{args.nproc_per_node!r}")
    if nproc < 1 or args.nnodes < 1:
        parser.error("--nproc-per-node and --nnodes must be >= 1")
    if not 0 <= args.node_rank < args.nnodes:
        parser.error(f"--node-rank must be in 0..{args.nnodes - 1}, got {args.node_rank}")
    if args.standalone:
        if args.nnodes != 1:
            parser.error("--standalone runs on one machine: --nnodes must be 1")
        args.master_addr, args.master_port = "127.0.0.1", free_port()
    mpiexec = find_mpiexec()
    world = args.nnodes * nproc
    if args.no_python:
        command = [args.script]
    elif args.module:
        command = [sys.executable, "-u", "-m", args.script]
    else:
        command = [sys.executable, "-u", args.script]
    command += args.script_args
    workers = []
    for local in range(nproc):
        rank = args.node_rank * nproc + local
        env = worker_env(rank, local, world, nproc, args.node_rank, args.master_addr,
                         args.master_port)
        workers.append((rank, subprocess.Popen([mpiexec, "-n", "1", *command], env=env)))
    return _supervise(workers)


def _supervise(workers, grace: float = 30.0) -> int:
    """Wait for the workers; when one fails, give the others ``grace`` seconds to fail on
    their own (the rendezvous tells them), then stop them."""
    failed = None
    try:
        while True:
            running = False
            for rank, proc in workers:
                code = proc.poll()
                if code is None:
                    running = True
                elif code != 0 and failed is None:
                    failed = (rank, code, time.monotonic())
            if not running:
                break
            if failed is not None and time.monotonic() - failed[2] > grace:
                for _, proc in workers:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                grace = float("inf")
            time.sleep(0.05)
    except KeyboardInterrupt:
        for _, proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _, proc in workers:
            proc.wait()
        return 130
    if failed is not None:
        rank, code, _ = failed
        print(f"dark.distributed.run: worker rank {rank} failed with exit code {code}",
              file=sys.stderr)
        return code if code > 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
