"""Topics from Python: a publisher and subscribers in separate processes
(Python and C++), samples read in place and read-only, the errors, the GIL
released while receive blocks, and a SIGKILLed subscriber's samples coming
back to the publisher."""

import os
import selectors
import subprocess
import sys

import numpy as np
import pytest

import shmport
from blocking_probe import BlockedCall, wait_until
from conftest import unique_name

KIB = 1 << 10
HERE = os.path.dirname(__file__)


def pattern(sequence, size):
    return ((np.arange(size) + sequence) & 0xFF).astype(np.uint8)


def publish_pattern(publisher, size):
    """Publishes `size` bytes of the pattern of the next sequence."""
    sequence = publisher.stats().samples_published + 1
    buffer = publisher.allocate(size, timeout=20)
    np.frombuffer(buffer, np.uint8)[:] = pattern(sequence, size)
    assert publisher.publish(buffer) == sequence
    assert buffer.published


def is_pattern(sample):
    return np.array_equal(np.frombuffer(sample, np.uint8),
                          pattern(sample.sequence, len(sample)))


@pytest.fixture
def other(address):
    """A second session of this process."""
    with shmport.Session.connect(name=unique_name("py-other"),
                                 address=address) as s:
        yield s


class PythonSubscriber:
    """topic_peer.py in its own process, subscribed."""

    def __init__(self, address, topic, mode, count):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "topic_peer.py"), address,
             unique_name("py-sub"), topic, mode, str(count)],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def line(self):
        return self.process.stdout.readline().split()

    def summary(self, timeout=60):
        out, _ = self.process.communicate(timeout=timeout)
        line = [l for l in out.splitlines() if l.startswith("summary ")][-1]
        return self.process.returncode, dict(
            f.split("=", 1) for f in line.split()[1:])

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def python_subscriber(address):
    started = []

    def start(topic, mode, count):
        started.append(PythonSubscriber(address, topic, mode, count))
        return started[-1]

    yield start
    for s in started:
        s.kill()


def test_two_subscriber_processes_get_every_sample_intact_in_order(
        session, python_subscriber):
    topic = unique_name("fanout")
    count = 200
    subs = [python_subscriber(topic, "check", count) for _ in range(2)]
    with session.publish(topic) as publisher:
        wait_until(lambda: len(publisher.stats().subscriptions) == 2)
        for k in range(count):
            publish_pattern(publisher, 100 + k if k % 2 else 100 * KIB + k)
        for s in subs:
            code, summary = s.summary()
            assert code == 0
            assert summary == {"received": str(count), "corrupt": "0",
                               "out_of_order": "0", "shared": str(count // 2)}
        wait_until(lambda: publisher.stats().chunks_in_use == 0)
        stats = publisher.stats()
        assert stats.samples_published == count
        assert all(s.samples_released == count for s in stats.subscriptions)


def test_cpp_publisher_reaches_a_python_subscriber(session, address):
    topic = unique_name("cpp")
    count, size = 100, 300 * KIB
    with session.subscribe(topic) as subscriber:
        cpp = subprocess.Popen(
            [os.environ["SHMPORT_TEST_TOPIC_PUBLISHER"],
             "--address=" + address, "--name=" + unique_name("cpp-pub"),
             "--topic=" + topic, "--subscribers=1", "--count=%d" % count,
             "--size=%d" % size], stdout=subprocess.PIPE, text=True)
        try:
            assert cpp.stdout.readline().strip() == "ready"
            for k in range(1, count + 1):
                with subscriber.receive(timeout=30) as sample:
                    assert sample.sequence == k and len(sample) == size
                    assert sample.in_shared_memory and is_pattern(sample)
            out, _ = cpp.communicate(timeout=60)
        finally:
            if cpp.poll() is None:
                cpp.kill()
        assert "summary published=100 chunks_in_use=0" in out
        assert cpp.returncode == 0
        stats = subscriber.stats()
        assert stats.samples_received == count
        assert stats.bytes_received == count * size


def mapping_of(address):
    """The /proc/self/maps line of the mapping that holds `address`."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= address < end:
                return line
    raise AssertionError("no mapping holds %#x" % address)


def test_a_sample_is_a_read_only_view_of_the_publishers_memfd(
        session, other):
    topic = unique_name("inplace")
    with other.subscribe(topic) as subscriber, \
            session.publish(topic) as publisher:
        wait_until(lambda: len(publisher.stats().subscriptions) == 1)
        publish_pattern(publisher, 1 << 20)
        sample = subscriber.receive(timeout=10)
        view = memoryview(sample)
        array = np.frombuffer(sample, np.uint8)
        assert view.readonly and not array.flags.writeable
        with pytest.raises(TypeError):
            view[0] = 1
        with pytest.raises(ValueError):
            array[0] = 1
        line = mapping_of(array.__array_interface__["data"][0])
        permissions = line.split()[1]
        assert "memfd:" in line and permissions[:2] == "r-", line
        assert np.array_equal(array, pattern(1, 1 << 20))
        assert publisher.stats().chunks_in_use == 16  # 1 MiB of 64 KiB
        assert sample.release() is False  # deferred: views read it
        with pytest.raises(ValueError):
            bytes(sample)
        del array
        view.release()
        wait_until(lambda: publisher.stats().chunks_in_use == 0)


def test_errors_raise_the_port_exception_classes(session, other):
    topic = unique_name("errors")
    with pytest.raises(shmport.InvalidArgument):
        session.publish("bad topic!")
    with pytest.raises(shmport.InvalidArgument):
        other.subscribe(topic, queue_depth=0)
    publisher = session.publish(topic)
    with pytest.raises(shmport.AlreadyExists):
        other.publish(topic)
    with pytest.raises(shmport.InvalidArgument):
        publisher.allocate(64 * KIB * 256 + 1)
    subscriber = other.subscribe(topic)
    assert subscriber.try_receive() is None
    with pytest.raises(shmport.DeadlineExceeded, match="within 50ms") as e:
        subscriber.receive(timeout=0.05)
    assert isinstance(e.value, TimeoutError)
    assert e.value.code == shmport.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(shmport.InvalidArgument):
        subscriber.receive(timeout=-1)
    buffer = publisher.allocate(100)
    view = memoryview(buffer)
    with pytest.raises(BufferError):
        publisher.publish(buffer)  # a view could change published bytes
    view.release()
    publisher.publish(buffer)
    with pytest.raises(ValueError):
        publisher.publish(buffer)  # already published
    publisher.close()
    publisher.close()  # idempotent
    with pytest.raises(shmport.FailedPrecondition):
        publisher.allocate(100)
    subscriber.close()
    with pytest.raises(shmport.FailedPrecondition):
        subscriber.receive(timeout=0)


def test_samples_and_buffers_outlive_their_ends(address, other):
    topic = unique_name("outlive")
    subscriber = other.subscribe(topic)
    session = shmport.Session.connect(name=unique_name("py-pub"),
                                      address=address)
    publisher = session.publish(topic)
    session.close()  # the publisher keeps the registration
    wait_until(lambda: len(publisher.stats().subscriptions) == 1)
    publish_pattern(publisher, 200 * KIB)
    sample = subscriber.receive(timeout=10)
    subscriber.close()
    assert is_pattern(sample)  # still mapped after the subscriber went
    wait_until(lambda: publisher.stats().chunks_in_use == 0)
    sample.release()
    buffer = publisher.allocate(200 * KIB)
    publisher.close()
    np.frombuffer(buffer, np.uint8)[:] = 9  # still mapped, writable
    assert bytes(memoryview(buffer)[:3]) == b"\x09\x09\x09"


# x86-64 system calls a Subscriber sleeps in: epoll_wait, epoll_pwait.
SUBSCRIBER_WAITS = {232, 281}


def test_another_thread_runs_while_one_blocks_in_receive(session, other):
    topic = unique_name("gil")
    with other.subscribe(topic) as subscriber, \
            session.publish(topic) as publisher:
        wait_until(lambda: len(publisher.stats().subscriptions) == 1)
        receive = BlockedCall(lambda: subscriber.receive(timeout=20))
        receive.assert_python_runs_while_asleep_in(SUBSCRIBER_WAITS)
        publish_pattern(publisher, 4 * KIB)  # wakes the receiver
        with receive.result() as sample:
            assert sample.sequence == 1 and is_pattern(sample)


def test_fileno_drives_a_selector(session, other):
    topic = unique_name("select")
    with other.subscribe(topic) as subscriber, \
            session.publish(topic) as publisher:
        wait_until(lambda: len(publisher.stats().subscriptions) == 1)
        selector = selectors.DefaultSelector()
        selector.register(subscriber, selectors.EVENT_READ)
        publish_pattern(publisher, 10)
        sample = None
        while sample is None:
            assert selector.select(timeout=10), "the fd never turned readable"
            sample = subscriber.try_receive()
        assert sample.sequence == 1 and not sample.in_shared_memory
        assert bytes(sample) == bytes(pattern(1, 10))
        sample.release()
        selector.close()


def test_a_sigkilled_subscriber_leaves_the_publisher_nothing_in_use(
        session, python_subscriber):
    topic = unique_name("kill")
    victim = python_subscriber(topic, "hold", 4)
    with session.publish(topic) as publisher:
        wait_until(lambda: len(publisher.stats().subscriptions) == 1)
        for _ in range(4):
            publish_pattern(publisher, 100 * KIB)
        assert victim.line() == ["holding", "4"]
        assert publisher.stats().chunks_in_use == 8  # 4 x 2 chunks, held
        victim.process.kill()
        assert victim.process.wait(timeout=10) == -9
        wait_until(lambda: publisher.stats().chunks_in_use == 0)
        assert publisher.stats().subscriptions == ()
