"""Fixtures of the Python tests: a real shmportd per test module, the C++
peer (cpp_echo_peer.cc) and sessions. run_pytest.sh passes the binaries'
paths in SHMPORT_TEST_SHMPORTD, SHMPORT_TEST_PEER and
SHMPORT_TEST_TOPIC_PUBLISHER (cpp_topic_publisher.cc)."""

import itertools
import os
import shutil
import subprocess
import tempfile

import pytest

import shmport

_names = itertools.count()


def unique_name(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_names))


@pytest.fixture(scope="module")
def address():
    """A private shmportd; yields its control address."""
    directory = tempfile.mkdtemp(prefix="sp-", dir="/tmp")  # short: 107 bytes
    address = "unix:" + os.path.join(directory, "control.sock")
    ready_read, ready_write = os.pipe()
    daemon = subprocess.Popen(
        [os.environ["SHMPORT_TEST_SHMPORTD"], "--listen=" + address,
         "--log_level=warning", "--ready_fd=%d" % ready_write],
        pass_fds=[ready_write])
    os.close(ready_write)
    with os.fdopen(ready_read) as ready:
        assert ready.readline().strip() == "ready", "shmportd did not start"
    yield address
    daemon.terminate()
    assert daemon.wait(timeout=20) == 0
    shutil.rmtree(directory)


class CppPeer:
    """cpp_echo_peer, registered and waiting for a port."""

    def __init__(self, address, mode, **flags):
        self.name = unique_name("cpp")
        args = [os.environ["SHMPORT_TEST_PEER"], "--address=" + address,
                "--name=" + self.name, "--mode=" + mode]
        args += ["--%s=%s" % item for item in flags.items()]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def summary(self, timeout=20):
        """Waits for the exit; returns (exit code, the summary's fields)."""
        out, _ = self.process.communicate(timeout=timeout)
        line = [l for l in out.splitlines() if l.startswith("summary ")][-1]
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        return self.process.returncode, fields

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def cpp_peer(address):
    """Starts C++ peers: cpp_peer(mode, **flags); killed after the test."""
    peers = []

    def start(mode="echo", **flags):
        peers.append(CppPeer(address, mode, **flags))
        return peers[-1]

    yield start
    for peer in peers:
        peer.kill()


@pytest.fixture
def session(address):
    with shmport.Session.connect(name=unique_name("py"),
                                 address=address) as s:
        yield s
