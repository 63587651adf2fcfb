"""A Message's and a Buffer's memory outlives every view of it, and no
more: release() with views alive defers, a sent Buffer has no views."""

import gc

import numpy as np
import pytest

import shmport

MIB = 1 << 20


@pytest.fixture
def pair(session, address):
    """Two ends of one port, both in this process."""
    with shmport.Session.connect(name=session.name + "-b",
                                 address=address) as other:
        a = session.open_port(other.name)
        b = other.accept_port(timeout=10)
        yield a, b


def test_release_with_a_view_alive_defers_until_the_view_goes(pair):
    a, b = pair
    a.send_bytes(b"\x07" * MIB)
    message = b.receive(timeout=10)
    array = np.frombuffer(message, np.uint8)
    assert a.stats().chunks_in_use == 64  # 1 MiB in 16 KiB chunks
    assert message.release() is False  # deferred: the array reads it
    assert message.released
    with pytest.raises(ValueError):
        memoryview(message)
    assert int(array.sum()) == 7 * MIB  # still mapped, still the bytes
    assert a.stats().chunks_in_use == 64
    del array
    assert a.stats().chunks_in_use == 0


def test_release_without_views_frees_at_once(pair):
    a, b = pair
    a.send_bytes(b"\x01" * MIB)
    with b.receive(timeout=10) as message:
        assert np.frombuffer(message, np.uint8).sum() == MIB
    assert message.released
    assert a.stats().chunks_in_use == 0


def test_collected_message_frees_its_chunks(pair):
    a, b = pair
    a.send_bytes(b"\x01" * MIB)
    message = b.receive(timeout=10)
    assert a.stats().chunks_in_use == 64
    del message
    gc.collect()
    assert a.stats().chunks_in_use == 0


def test_message_views_are_read_only(pair):
    a, b = pair
    a.send_bytes(b"\x01" * 4096)
    message = b.receive(timeout=10)
    assert memoryview(message).readonly
    with pytest.raises(ValueError):
        np.frombuffer(message, np.uint8)[0] = 1
    with pytest.raises(TypeError):
        memoryview(message)[0:1] = b"x"


def test_message_outlives_its_port(pair):
    a, b = pair
    a.send_bytes(bytes(range(256)) * 8192)
    message = b.receive(timeout=10)
    a.close()
    b.close()
    assert bytes(message) == bytes(range(256)) * 8192


def test_send_refuses_a_buffer_with_a_live_view(pair):
    a, b = pair
    buffer = a.allocate(MIB)
    view = memoryview(buffer)
    view[:3] = b"abc"
    with pytest.raises(BufferError):
        a.send(buffer)
    view.release()
    a.send(buffer)
    assert buffer.sent
    with pytest.raises(ValueError):
        memoryview(buffer)
    assert bytes(b.receive(timeout=10))[:3] == b"abc"


def test_multi_fragment_message_is_read_by_fragment(pair):
    a, b = pair
    parts = [a.allocate(20000), a.allocate(30000)]
    memoryview(parts[0])[:] = b"\x01" * 20000
    memoryview(parts[1])[:] = b"\x02" * 30000
    a.send(parts, stream=9, last=True)
    message = b.receive(timeout=10)
    assert (message.stream, message.last, len(message)) == (9, True, 50000)
    with pytest.raises(BufferError):
        memoryview(message)
    assert [bytes(f) for f in message.fragments] == [b"\x01" * 20000,
                                                     b"\x02" * 30000]
    first = np.frombuffer(message.fragments[0], np.uint8)
    assert message.release() is False
    del first
    assert a.stats().chunks_in_use == 0


def test_cancelled_tracked_send_is_never_seen(pair):
    a, b = pair
    buffer = a.allocate(MIB)
    tracking = a.send_tracked(buffer, stream=4)
    assert tracking.stream == 4
    assert tracking.cancel() is True
    assert tracking.cancel() is False
    a.send_bytes(b"after")
    assert bytes(b.receive(timeout=10)) == b"after"
    assert b.stats().cancelled_dropped == 1


def test_port_and_session_are_context_managers(address):
    with shmport.Session.connect(name="ctx-a", address=address) as s1, \
            shmport.Session.connect(name="ctx-b", address=address) as s2:
        with s1.open_port("ctx-b") as a, s2.accept_port(timeout=10) as b:
            assert a.peer.name == "ctx-b" and b.peer.name == "ctx-a"
        assert a.closed and b.closed
    assert s1.closed and s2.closed
