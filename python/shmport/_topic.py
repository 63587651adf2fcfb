"""The pure-Python part of shmport.Publisher and shmport.Subscriber:
stats() as named tuples and Subscriber.receive_async. install() attaches
them to the extension's classes."""

import collections

from shmport import _port

PublisherStats = collections.namedtuple("PublisherStats", [
    "samples_published", "chunks_in_use", "segments",
    "subscriptions_cut_off", "subscriptions"
])
PublisherStats.__doc__ = ("A snapshot of a publisher's counters (topic.h); "
                          "`subscriptions` is a tuple of SubscriptionStats, "
                          "the live ones.")

SubscriptionStats = collections.namedtuple("SubscriptionStats", [
    "subscription_id", "samples_delivered", "samples_released",
    "samples_dropped", "lag", "held_chunks", "held_bytes"
])
SubscriptionStats.__doc__ = "One subscription as its publisher sees it."

SubscriberStats = collections.namedtuple("SubscriberStats", [
    "samples_received", "samples_missed", "bytes_received", "segments_mapped",
    "subscriptions_opened"
])
SubscriberStats.__doc__ = "A snapshot of a subscriber's counters (topic.h)."


def publisher_stats(publisher):
    """A PublisherStats snapshot."""
    fields = publisher._stats()
    fields["subscriptions"] = tuple(
        SubscriptionStats(**s) for s in fields["subscriptions"])
    return PublisherStats(**fields)


def subscriber_stats(subscriber):
    """A SubscriberStats snapshot."""
    return SubscriberStats(**subscriber._stats())


def install(publisher_class, subscriber_class):
    publisher_class.stats = publisher_stats
    subscriber_class.stats = subscriber_stats
    # try_receive() and fileno() as a Port's: the same loop serves.
    subscriber_class.receive_async = _port.receive_async
