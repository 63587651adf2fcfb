#!/usr/bin/python3
"""Python to Python, one producer process and one consumer process, per
message size: the shmport binding against multiprocessing.Pipe and
against a socketpair read with recv_into. In every case the consumer reads
every byte with numpy (an XOR over the payload as 64-bit words, plus any
tail bytes), and the producer sends a ready bytes object of that size.

    make bench-python        (builds what it needs, then runs this)
    PYTHONPATH=bazel-bin/python/site /usr/bin/python3 bench/python_compare.py \\
        --shmportd=bazel-bin/server/shmportd [--reps=3] [--sizes=64,1048576]

Reports msg/s and GB/s (the median of --reps runs) and shmport's ratio to
each of the others. It starts a private shmportd (or uses --address).
"""

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time

import numpy as np

import shmport

SIZES = [64, 64 << 10, 1 << 20, 16 << 20]
TARGET_BYTES = 1 << 30  # per run, bounded by the counts below
HEADER = struct.Struct("<Q")


def checksum(buffer):
    """Reads every byte: XOR of the 64-bit words, then of the tail bytes."""
    data = np.frombuffer(buffer, np.uint8)
    words = len(data) // 8
    x = int(np.bitwise_xor.reduce(data[:words * 8].view(np.uint64))) \
        if words else 0
    return x ^ int(np.bitwise_xor.reduce(data[words * 8:])) \
        if len(data) % 8 else x


def message_count(size):
    return max(64, min(200000, TARGET_BYTES // size))


# --- Producers (in a child process) -----------------------------------------

def produce(transport, endpoint, size, count):
    payload = os.urandom(size)
    if transport == "shmport":
        address, consumer = endpoint
        with shmport.Session.connect(name="bench-producer-%d" % os.getpid(),
                                     address=address) as session:
            with session.open_port(consumer, timeout=10) as port:
                for _ in range(count):
                    port.send_bytes(payload)
                port.receive(timeout=60)  # the consumer's "done"
    elif transport == "pipe":
        for _ in range(count):
            endpoint.send_bytes(payload)
    else:
        header = HEADER.pack(size)
        for _ in range(count):
            endpoint.sendmsg([header, payload])


# --- Consumers (in this process); each returns seconds for count-1 -----------

def consume_shmport(port, count):
    with port.receive(timeout=30) as first:  # the clock starts after it
        checksum(first)
    start = time.perf_counter()
    for _ in range(count - 1):
        with port.receive(timeout=30) as message:
            checksum(message)
    seconds = time.perf_counter() - start
    port.send_bytes(b"done")
    return seconds


def consume_pipe(connection, count):
    checksum(connection.recv_bytes())
    start = time.perf_counter()
    for _ in range(count - 1):
        checksum(connection.recv_bytes())
    return time.perf_counter() - start


def recv_exactly(sock, view):
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("the producer closed the socket")
        got += n


def consume_socket(sock, count, size):
    header = bytearray(HEADER.size)
    body = bytearray(size)
    header_view, body_view = memoryview(header), memoryview(body)
    start = None
    for i in range(count):
        if i == 1:
            start = time.perf_counter()
        recv_exactly(sock, header_view)
        recv_exactly(sock, body_view[:HEADER.unpack(header)[0]])
        checksum(body_view)
    return time.perf_counter() - start


def run_cell(context, transport, size, daemon):
    """One run: returns messages per second."""
    count = message_count(size)
    if transport == "shmport":
        name = "bench-consumer-%d" % os.getpid()
        endpoint, mine = (daemon.address, name), daemon.session
    elif transport == "pipe":
        mine, endpoint = context.Pipe(duplex=False)
    else:
        mine, endpoint = socket.socketpair()
    producer = context.Process(target=produce,
                               args=(transport, endpoint, size, count))
    producer.start()
    if transport == "shmport":
        with mine.accept_port(timeout=30) as port:
            seconds = consume_shmport(port, count)
    elif transport == "pipe":
        seconds = consume_pipe(mine, count)
    else:
        seconds = consume_socket(mine, count, size)
    producer.join(60)
    assert producer.exitcode == 0, "%s producer failed" % transport
    if transport != "shmport":
        mine.close()
        endpoint.close()
    return (count - 1) / seconds


class Daemon:
    """A private shmportd (or the one at --address) and our session."""

    def __init__(self, args):
        self.directory = self.process = None
        self.address = args.address
        if not self.address:
            self.directory = tempfile.mkdtemp(prefix="sp-bench-", dir="/tmp")
            self.address = "unix:%s/control.sock" % self.directory
            read, write = os.pipe()
            self.process = subprocess.Popen(
                [args.shmportd, "--listen=" + self.address,
                 "--log_level=warning", "--ready_fd=%d" % write],
                pass_fds=[write])
            os.close(write)
            with os.fdopen(read) as ready:
                assert ready.readline().strip() == "ready"
        self.session = shmport.Session.connect(
            name="bench-consumer-%d" % os.getpid(), address=self.address)

    def close(self):
        self.session.close()
        if self.process:
            self.process.terminate()
            self.process.wait()
            shutil.rmtree(self.directory)


def report(size, rates):
    mps = {t: statistics.median(r) for t, r in rates.items()}
    row = "| %8s |" % human(size)
    for t in ("shmport", "pipe", "socket"):
        row += " %10.0f | %6.2f |" % (mps[t], mps[t] * size / 1e9)
    row += " %5.1fx | %5.1fx |" % (mps["shmport"] / mps["pipe"],
                                   mps["shmport"] / mps["socket"])
    print(row, flush=True)


def human(size):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return "%d %s" % (size >> shift, unit)
    return "%d B" % size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shmportd", default="bazel-bin/server/shmportd")
    parser.add_argument("--address", default="")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    daemon = Daemon(args)
    print("| size | shmport msg/s | GB/s | Pipe msg/s | GB/s | socketpair "
          "msg/s | GB/s | vs Pipe | vs socketpair |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for size in map(int, args.sizes.split(",")):
            rates = {t: [] for t in ("shmport", "pipe", "socket")}
            for _ in range(args.reps):
                for transport in rates:
                    rates[transport].append(
                        run_cell(context, transport, size, daemon))
            report(size, rates)
    finally:
        daemon.close()


if __name__ == "__main__":
    main()
