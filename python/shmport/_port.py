"""The pure-Python part of shmport.Port: stats(), peer, peer_geometry and
the asyncio helper. install() attaches them to the extension's class."""

import asyncio
import collections
import time

from shmport import errors

PortStats = collections.namedtuple("PortStats", [
    "messages_sent", "bytes_sent", "messages_received", "bytes_received",
    "segments_out", "segments_in", "chunks_in_use", "tracking_in_flight",
    "oosm_waits", "protocol_errors", "cancels_won", "cancels_lost",
    "cancelled_dropped", "sent_via_ring", "ring_fallbacks", "receive_spins",
    "receive_spin_hits", "closed"
])
PortStats.__doc__ = "A snapshot of a port end's counters (port_stats.h)."

Peer = collections.namedtuple("Peer", ["name", "pid", "uid", "process_id"])
Peer.__doc__ = "Who the other end is, as the daemon announced it."

SegmentGeometry = collections.namedtuple("SegmentGeometry",
                                         ["chunk_size", "chunk_count"])


def stats(port):
    """A PortStats snapshot of this end's counters."""
    return PortStats(**port._stats())


async def receive_async(port, timeout=None):
    """Awaits the next Message without blocking the event loop.

    Drains with try_receive() and otherwise waits for fileno() to turn
    readable (loop.add_reader). A readable fd with nothing to hand out is
    normal (a wake-up for a message already taken): it just waits again.
    Raises DeadlineExceeded after `timeout` seconds (None: never),
    Unavailable once the port is closed and drained.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        message = port.try_receive()
        if message is not None:
            return message
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise errors.DeadlineExceeded("no message before the deadline")
        readable = loop.create_future()
        fd = port.fileno()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await asyncio.wait_for(readable, left)
        except asyncio.TimeoutError:
            pass  # try_receive once more, then raise above
        finally:
            loop.remove_reader(fd)


def install(port_class):
    port_class.stats = stats
    port_class.receive_async = receive_async
    port_class.peer = property(lambda port: Peer(*port._peer()),
                               doc="The other end (a Peer).")
    port_class.peer_geometry = property(
        lambda port: SegmentGeometry(*port._peer_geometry()),
        doc="The geometry the peer declared for its direction.")
