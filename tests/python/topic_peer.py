"""A Python subscriber in its own process, for topics_test.py.

    topic_peer.py ADDRESS NAME TOPIC check COUNT
        prints "ready" once subscribed, receives COUNT samples, checks each
        (byte i of the sample of sequence s is (s + i) mod 256, sequences
        1, 2, ...), releases it, and prints
        "summary received=N corrupt=N out_of_order=N shared=N".
    topic_peer.py ADDRESS NAME TOPIC hold COUNT
        prints "ready", receives COUNT samples and keeps them (with numpy
        views), prints "holding COUNT", then blocks in receive until killed.
"""

import sys

import numpy as np

import shmport

address, name, topic, mode, count = sys.argv[1:6]
count = int(count)


def intact(sample):
    data = np.frombuffer(sample, np.uint8)
    expected = ((np.arange(len(data)) + sample.sequence) & 0xFF)
    return np.array_equal(data, expected.astype(np.uint8))


with shmport.Session.connect(name=name, address=address) as session:
    subscriber = session.subscribe(topic)
    print("ready", flush=True)
    if mode == "check":
        corrupt = out_of_order = shared = 0
        for k in range(1, count + 1):
            with subscriber.receive(timeout=30) as sample:
                corrupt += not intact(sample)
                out_of_order += sample.sequence != k
                shared += sample.in_shared_memory
        print("summary received=%d corrupt=%d out_of_order=%d shared=%d" %
              (count, corrupt, out_of_order, shared), flush=True)
    else:
        held = [subscriber.receive(timeout=30) for _ in range(count)]
        views = [np.frombuffer(s, np.uint8) for s in held]
        print("holding", len(views), flush=True)
        subscriber.receive()  # forever
