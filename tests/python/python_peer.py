"""The Python end that peer_death_test.py kills with SIGKILL: opens a port
to the C++ echo peer, exchanges messages, keeps some of the replies (the
C++ side's memory) and the C++ side keeps some of its messages; prints
"holding", then blocks in receive until it is killed.

    python_peer.py ADDRESS PEER_NAME
"""

import sys

import numpy as np

import shmport

address, peer_name = sys.argv[1:3]
MIB = 1 << 20
with shmport.Session.connect(name=peer_name + "-victim",
                             address=address) as session:
    port = session.open_port(peer_name, timeout=10)
    held = []
    for k in range(20):
        size = (k % 4) * MIB + 1000
        data = ((np.arange(size) + k) & 0xFF).astype(np.uint8)
        port.send_bytes(data, stream=k)
        held.append(port.receive(timeout=10))
        buffer = port.allocate(64 * 1024)  # allocated, never sent
    views = [np.frombuffer(m, np.uint8) for m in held[-3:]]
    print("holding", port.stats().segments_in, flush=True)
    port.receive()  # forever
