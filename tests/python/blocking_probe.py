"""Helpers for the tests that a blocking call releases the GIL: a call run
in a thread, seen asleep in the kernel, while Python code keeps running."""

import threading
import time


def wait_until(condition, timeout=20.0):
    """A bounded wait for what happens asynchronously."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


def asleep_in(native_id, syscalls):
    """The thread sleeps in the kernel in one of `syscalls` (x86-64
    numbers; waiting for the GIL would be futex, not these)."""
    with open("/proc/self/task/%d/syscall" % native_id) as syscall:
        fields = syscall.read().split()
    return fields[0] not in ("running", "-1") and int(fields[0]) in syscalls


class BlockedCall:
    """Runs call() in a thread; result() gives what it returned or
    raised."""

    def __init__(self, call):
        self._outcome = {}
        self._native_id = []

        def run():
            self._native_id.append(threading.get_native_id())
            try:
                self._outcome["value"] = call()
            except Exception as e:  # with the GIL held: a timeout
                self._outcome["error"] = e

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def assert_python_runs_while_asleep_in(self, syscalls):
        """Waits until the call sleeps in `syscalls`, then checks that
        another thread counts to 100,000 meanwhile and the call still has
        not returned."""
        counter, stop = [0], threading.Event()

        def count():
            while not stop.is_set():
                counter[0] += 1

        counter_thread = threading.Thread(target=count)
        counter_thread.start()
        try:
            wait_until(lambda: self._native_id and
                       asleep_in(self._native_id[0], syscalls))
            start = counter[0]
            wait_until(lambda: counter[0] > start + 100000)
            assert self._thread.is_alive() and not self._outcome
        finally:
            stop.set()
            counter_thread.join()

    def result(self, timeout=20):
        self._thread.join(timeout=timeout)
        assert "error" not in self._outcome, self._outcome
        return self._outcome["value"]
