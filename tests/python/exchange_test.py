"""Python and C++ exchange 10,000 messages of 0 B to 16 MiB each way
through a real shmportd, every byte checked on both sides."""

import collections
import random

import numpy as np

MIB = 1 << 20
# Byte i of a message with stream k is (k + i) mod 256, so any message's
# bytes are a slice of this array: no per-message computation.
PATTERN = np.arange(16 * MIB + 256, dtype=np.uint64).astype(np.uint8)
# Every boundary of the transport (inline threshold, chunk, segment)...
EDGES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 16383, 16384, 16385,
         1 * MIB, 16 * MIB - 1, 16 * MIB]


def sizes(count, seed=10):
    """...then sizes spread log-uniformly to 64 KiB, with a large message
    (up to 16 MiB) every 500th."""
    rng = random.Random(seed)
    out = list(EDGES)
    while len(out) < count:
        if len(out) % 500 == 0:
            out.append(rng.randrange(MIB, 16 * MIB + 1))
        else:
            out.append(int(2 ** rng.uniform(0, 16)))
    return out


def pattern(k, size):
    return PATTERN[k % 256:k % 256 + size]


def check_reply(port, k, size):
    with port.receive(timeout=30) as reply:
        assert reply.stream == k
        assert len(reply) == size
        got = [np.frombuffer(f, np.uint8) for f in reply.fragments]
        assert np.array_equal(np.concatenate(got) if got else
                              np.empty(0, np.uint8), pattern(k + 1, size)), k
        del got


def test_ten_thousand_messages_each_way_every_byte_checked(session, cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    # Pipelined (a window of messages in flight) so that a loaded machine's
    # scheduling latency is paid once per window, not per message.
    in_flight = collections.deque()
    window_bytes = 0
    total = 0
    for k, size in enumerate(sizes(10000)):
        while in_flight and (len(in_flight) >= 64 or
                             window_bytes + size > 40 * MIB):
            done_k, done_size = in_flight.popleft()
            check_reply(port, done_k, done_size)
            window_bytes -= done_size
        port.send_bytes(pattern(k, size), stream=k)
        in_flight.append((k, size))
        window_bytes += size
        total += size
    while in_flight:
        check_reply(port, *in_flight.popleft())
    assert total > 200 * MIB  # the large ones were there
    port.close()
    code, summary = peer.summary()
    assert code == 0, summary  # 3: the C++ side saw a wrong byte
    assert summary["status"] == "UNAVAILABLE"
    assert port.stats().messages_received == 10000


def test_zero_copy_send_of_an_allocated_buffer_arrives_intact(session,
                                                              cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    for k, size in enumerate([0, 100, 4096, 5 * MIB, 16 * MIB]):
        buffer = port.allocate(size, timeout=10)
        np.frombuffer(buffer, np.uint8)[:] = pattern(k, size)
        port.send(buffer, stream=k)
        assert buffer.sent
        with port.receive(timeout=30) as reply:
            assert np.array_equal(np.frombuffer(bytes(reply), np.uint8),
                                  pattern(k + 1, size))
    port.close()
    assert peer.summary()[0] == 0
