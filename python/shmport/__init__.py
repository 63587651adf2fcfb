"""shmport: zero-copy messages between processes through shared memory.

    import shmport
    with shmport.Session.connect(name="worker") as session:
        with session.open_port("router", timeout=5) as port:
            port.send_bytes(b"hello")
            with port.receive(timeout=5) as message:
                print(bytes(message))

Topics (one publisher, many subscribers, each sample read in place):

    publisher = session.publish("camera/frames")
    subscriber = other_session.subscribe("camera/frames")

See docs/python.md for the whole API, the lifetimes of Buffer, Message,
SampleBuffer and Sample, threads and the GIL, and asyncio.
"""

from shmport import _port
from shmport import _shmport
from shmport import _topic
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
Publisher = _shmport.Publisher
Subscriber = _shmport.Subscriber
SampleBuffer = _shmport.SampleBuffer
Sample = _shmport.Sample
SlowSubscriber = _shmport.SlowSubscriber
PublisherStats = _topic.PublisherStats
SubscriptionStats = _topic.SubscriptionStats
SubscriberStats = _topic.SubscriberStats
PortStats = _port.PortStats
Peer = _port.Peer
SegmentGeometry = _port.SegmentGeometry

_port.install(Port)
_topic.install(Publisher, Subscriber)

# "libshmport/0.1.0" -> "0.1.0"
__version__ = _shmport.client_version.split("/")[-1]

__all__ = [
    "Aborted", "AlreadyExists", "Buffer", "Cancelled", "DataLoss",
    "DeadlineExceeded", "Error", "FailedPrecondition", "Fragment", "Internal",
    "InvalidArgument", "Message", "NotFound", "OutOfRange", "Peer",
    "PermissionDenied", "Port", "PortStats", "Publisher", "PublisherStats",
    "ResourceExhausted", "Sample", "SampleBuffer", "SegmentGeometry",
    "Session", "SlowSubscriber", "StatusCode", "Subscriber",
    "SubscriberStats", "SubscriptionStats", "Tracking", "Unauthenticated",
    "Unavailable", "Unimplemented", "Unknown"
]
