"""shmport: zero-copy messages between processes through shared memory.

    import shmport
    with shmport.Session.connect(name="worker") as session:
        with session.open_port("router", timeout=5) as port:
            port.send_bytes(b"hello")
            with port.receive(timeout=5) as message:
                print(bytes(message))

See docs/python.md for the whole API, the lifetimes of Buffer and Message,
threads and the GIL, and asyncio.
"""

from shmport import _port
from shmport import _shmport
from shmport.errors import (Aborted, AlreadyExists, Cancelled, DataLoss,
                            DeadlineExceeded, Error, FailedPrecondition,
                            Internal, InvalidArgument, NotFound, OutOfRange,
                            PermissionDenied, ResourceExhausted, StatusCode,
                            Unauthenticated, Unavailable, Unimplemented,
                            Unknown)

Session = _shmport.Session
Port = _shmport.Port
Buffer = _shmport.Buffer
Message = _shmport.Message
Fragment = _shmport.Fragment
Tracking = _shmport.Tracking
PortStats = _port.PortStats
Peer = _port.Peer
SegmentGeometry = _port.SegmentGeometry

_port.install(Port)

# "libshmport/0.1.0" -> "0.1.0"
__version__ = _shmport.client_version.split("/")[-1]

__all__ = [
    "Aborted", "AlreadyExists", "Buffer", "Cancelled", "DataLoss",
    "DeadlineExceeded", "Error", "FailedPrecondition", "Fragment", "Internal",
    "InvalidArgument", "Message", "NotFound", "OutOfRange", "Peer",
    "PermissionDenied", "Port", "PortStats", "ResourceExhausted",
    "SegmentGeometry", "Session", "StatusCode", "Tracking", "Unauthenticated",
    "Unavailable", "Unimplemented", "Unknown"
]
