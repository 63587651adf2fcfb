"""Blocking calls release the GIL; fileno() drives selectors and asyncio."""

import asyncio
import selectors
import time

import numpy as np

import shmport
from blocking_probe import BlockedCall


# x86-64 system calls a Port sleeps in: poll, recvmsg, ppoll.
PORT_WAITS = {7, 47, 271}


def test_second_thread_runs_while_first_blocks_in_receive(session, cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    receive = BlockedCall(lambda: port.receive(timeout=20))
    # The receiver sleeps in receive (nothing was sent); Python code runs.
    receive.assert_python_runs_while_asleep_in(PORT_WAITS)
    port.send_bytes(bytes(range(10)), stream=0)  # echoed: wakes the receiver
    assert bytes(receive.result()) == bytes(range(1, 11))


def test_selector_wakes_on_fileno_when_a_message_arrives(session, cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    with selectors.DefaultSelector() as selector:
        selector.register(port, selectors.EVENT_READ)  # uses fileno()
        assert port.try_receive() is None
        port.send_bytes(b"\x05\x06", stream=5)
        got = None
        while got is None:
            assert selector.select(timeout=10), "fileno() never turned readable"
            got = port.try_receive()
        assert bytes(got) == b"\x06\x07" and got.stream == 5


def test_asyncio_loop_receives_via_fileno_while_other_tasks_run(session,
                                                                cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    count = 200

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        for k in range(count):
            payload = ((np.arange(64 * k) + k) & 0xFF).astype(np.uint8)
            port.send_bytes(payload, stream=k)
            message = await port.receive_async(timeout=10)
            assert message.stream == k
            assert np.array_equal(np.frombuffer(message, np.uint8),
                                  (payload + 1).astype(np.uint8))
            message.release()
        done.set()
        await task
        return ticks

    ticks = asyncio.run(main())
    assert ticks > 0  # the loop was never blocked by a receive


def test_receive_async_times_out_with_deadline_exceeded(session, cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)

    async def main():
        start = time.monotonic()
        try:
            await port.receive_async(timeout=0.2)
        except shmport.DeadlineExceeded:
            return time.monotonic() - start
        raise AssertionError("no DeadlineExceeded")

    assert 0.2 <= asyncio.run(main()) < 5
