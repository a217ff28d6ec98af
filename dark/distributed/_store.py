"""The rendezvous of processes that were not started by one ``mpiexec`` (the launcher's
workers, ``dark.multiprocessing.spawn``'s children, several machines): a small TCP service
on rank 0 at ``MASTER_ADDR:MASTER_PORT`` hands out rank 0's MPI port name, lets the ranks
connect to it one at a time in rank order (MPI's ``Accept`` / ``Connect`` / ``Merge``), and
then stays as a watchdog: each rank keeps its connection open, so a rank that dies is seen
by the others at once (its socket closes), and a collective waiting on it fails with an
error that names it instead of hanging.

Messages are JSON lines. A rank k > 0 sends ``{"rank": k, "world_size": n}``; the service
answers ``{"port": name}`` when it is k's turn (rank k - 1 has joined: it sent
``{"joined": k - 1}``), ``{"dead": r}`` when rank r's connection closed without a
``{"bye": r}``.
"""
from __future__ import annotations

import json
import socket
import threading
import time


class PeerFailure(RuntimeError):
    pass


def _send(sock, message: dict) -> None:
    sock.sendall((json.dumps(message) + "\n").encode())


class _Lines:
    """Read JSON lines from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def read(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


class Watch:
    """What a rank knows of the others' health: ``dead`` is the first rank seen to die."""

    def __init__(self):
        self.dead = None
        self.closing = False

    def check(self, what: str, rank: int) -> None:
        if self.dead is not None:
            raise PeerFailure(f"dark.distributed: rank {self.dead} exited or lost its "
                              f"connection while rank {rank} was in {what}")


class Server:
    """Rank 0's side: accepts the other ranks, orders their joining, watches them."""

    def __init__(self, addr: str, port: int, world_size: int, port_name: str, timeout: float):
        self.world_size = world_size
        self.port_name = port_name
        self.watch = Watch()
        self.lock = threading.Condition()
        self.joined = 0  # ranks 0..joined have merged
        self.conns = {}
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind((addr if addr not in ("localhost",) else "127.0.0.1", port))
        except OSError as error:
            raise RuntimeError(f"dark.distributed: rank 0 cannot listen on {addr}:{port} "
                               f"(MASTER_ADDR:MASTER_PORT): {error}") from error
        self.listener.listen(max(world_size, 8))
        self.deadline = time.monotonic() + timeout
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = _Lines(conn)
        rank = None
        try:
            hello = reader.read()
            if hello is None:
                return
            rank = int(hello["rank"])
            if int(hello["world_size"]) != self.world_size:
                _send(conn, {"error": f"rank {rank} was given world_size "
                                      f"{hello['world_size']}, rank 0 {self.world_size}"})
                return
            with self.lock:
                if rank in self.conns or not 0 < rank < self.world_size:
                    _send(conn, {"error": f"rank {rank} is taken or out of range for "
                                          f"world_size {self.world_size}"})
                    return
                self.conns[rank] = conn
                while self.joined != rank - 1:
                    self.lock.wait(0.5)
            _send(conn, {"port": self.port_name})
            while True:
                message = reader.read()
                if message is None:
                    break
                if "joined" in message:
                    with self.lock:
                        self.joined = int(message["joined"])
                        self.lock.notify_all()
                elif "bye" in message:
                    return
        except (OSError, ValueError, KeyError):
            pass
        if rank is not None and not self.watch.closing:
            self._died(rank)

    def _died(self, rank):
        if self.watch.dead is None:
            self.watch.dead = rank
        with self.lock:
            for other, conn in list(self.conns.items()):
                if other != rank:
                    try:
                        _send(conn, {"dead": rank})
                    except OSError:
                        pass

    def close(self):
        self.watch.closing = True
        try:  # shutdown wakes the thread blocked in accept(), so the port is free at once
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        for conn in self.conns.values():
            try:
                conn.close()
            except OSError:
                pass


class Client:
    """A rank k > 0's side: gets rank 0's MPI port when its turn comes, then listens for
    deaths."""

    def __init__(self, addr: str, port: int, rank: int, world_size: int, timeout: float):
        self.rank = rank
        self.watch = Watch()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((addr, port), timeout=5)
                if self.sock.getsockname() == self.sock.getpeername():
                    # TCP's self-connection: rank 0 not listening yet on a port in the
                    # ephemeral range (--standalone's free_port), the kernel gave this
                    # socket that same port, and the connection reached itself; it would
                    # hold the port that rank 0 is about to bind
                    self.sock.close()
                    raise ConnectionRefusedError("connected to itself")
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"dark.distributed: rank {rank} could not reach rank 0 at "
                        f"{addr}:{port} (MASTER_ADDR:MASTER_PORT) within {timeout:g} s: "
                        f"{error}") from error
                time.sleep(0.1)
        self.sock.settimeout(None)
        self.reader = _Lines(self.sock)
        _send(self.sock, {"rank": rank, "world_size": world_size})
        self.sock.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            answer = self.reader.read()
        except OSError as error:
            raise RuntimeError(f"dark.distributed: rank {rank} timed out waiting for its turn "
                               f"to join (are ranks 1..{rank - 1} running?)") from error
        self.sock.settimeout(None)
        if answer is None:
            raise RuntimeError(f"dark.distributed: rank 0 closed the rendezvous before rank "
                               f"{rank} joined")
        if "error" in answer:
            raise RuntimeError(f"dark.distributed: {answer['error']}")
        self.port_name = answer["port"]

    def joined(self):
        _send(self.sock, {"joined": self.rank})
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self):
        try:
            while True:
                message = self.reader.read()
                if message is None:
                    break
                if "dead" in message and self.watch.dead is None:
                    self.watch.dead = int(message["dead"])
        except (OSError, ValueError):
            pass
        if not self.watch.closing and self.watch.dead is None:
            self.watch.dead = 0  # rank 0's service is gone: rank 0 died

    def close(self):
        self.watch.closing = True
        try:
            _send(self.sock, {"bye": self.rank})
            self.sock.close()
        except OSError:
            pass
