"""A Python peer killed with SIGKILL leaves its C++ peer with UNAVAILABLE
and nothing leaked: no chunk in use, no port fd, no segment mapped."""

import os
import subprocess
import sys


def test_sigkilled_python_peer_leaves_cpp_peer_unavailable_and_clean(
        address, cpp_peer):
    peer = cpp_peer("echo")
    victim = subprocess.Popen(
        [sys.executable,
         os.path.join(os.path.dirname(__file__), "python_peer.py"), address,
         peer.name],
        stdout=subprocess.PIPE, text=True)
    try:
        line = victim.stdout.readline().split()
        assert line[0] == "holding" and int(line[1]) >= 1, line
        victim.kill()
        assert victim.wait(timeout=10) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
    code, summary = peer.summary(timeout=20)
    assert summary == {"status": "UNAVAILABLE", "chunks_in_use": "0",
                       "fds_leaked": "0", "mappings_left": "0"}
    assert code == 0
