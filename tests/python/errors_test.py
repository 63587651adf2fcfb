"""Each error of the library arrives as its own exception class, with the
library's message and .code."""

import pytest

import shmport
from conftest import unique_name

MIB = 1 << 20


def test_receive_timeout_is_deadline_exceeded(session, cpp_peer):
    port = session.open_port(cpp_peer("echo").name, timeout=10)
    with pytest.raises(shmport.DeadlineExceeded) as error:
        port.receive(timeout=0.05)
    assert error.value.code == shmport.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(error.value, TimeoutError)
    assert "deadline" in str(error.value)


def test_closed_port_is_unavailable_for_every_call(session, cpp_peer):
    port = session.open_port(cpp_peer("echo").name, timeout=10)
    port.close()
    assert port.closed
    for call in (lambda: port.receive(timeout=1), port.try_receive,
                 lambda: port.allocate(10), lambda: port.send_bytes(b"x")):
        with pytest.raises(shmport.Unavailable) as error:
            call()
        assert error.value.code == shmport.StatusCode.UNAVAILABLE


def test_peer_closing_is_unavailable_with_the_reason(session, cpp_peer):
    peer = cpp_peer("echo")
    port = session.open_port(peer.name, timeout=10)
    peer.kill()
    with pytest.raises(shmport.Unavailable) as error:
        port.receive(timeout=10)
    assert str(error.value) == port.closed_reason


def test_bad_name_is_invalid_argument(address):
    with pytest.raises(shmport.InvalidArgument) as error:
        shmport.Session.connect(name="bad name", address=address)
    assert "bad name" in str(error.value)
    assert isinstance(error.value, ValueError)


def test_no_daemon_is_unavailable():
    with pytest.raises(shmport.Unavailable):
        shmport.Session.connect(name="nobody",
                                address="unix:/tmp/sp-no-daemon/c.sock")


def test_taken_name_is_already_exists(session, address):
    with pytest.raises(shmport.AlreadyExists):
        shmport.Session.connect(name=session.name, address=address)


def test_unknown_peer_is_not_found(session):
    with pytest.raises(shmport.NotFound):
        session.open_port(unique_name("nobody"))


def test_port_to_yourself_is_invalid_argument(session):
    with pytest.raises(shmport.InvalidArgument):
        session.open_port(session.name)


def test_accept_without_opener_is_deadline_exceeded(session):
    with pytest.raises(shmport.DeadlineExceeded) as error:
        session.accept_port(timeout=0.05)
    assert "within 50ms" in str(error.value)


def test_buffer_larger_than_a_segment_is_invalid_argument(session, cpp_peer):
    port = session.open_port(cpp_peer("echo").name, timeout=10)
    with pytest.raises(shmport.InvalidArgument) as error:
        port.allocate(16 * MIB + 1)
    assert "SendCopy" in str(error.value)


def test_exhausted_memory_is_resource_exhausted(session, cpp_peer):
    port = session.open_port(cpp_peer("echo").name, timeout=10,
                             max_segments=1)
    held = [port.try_allocate(8 * MIB), port.try_allocate(8 * MIB)]
    with pytest.raises(shmport.ResourceExhausted):
        port.try_allocate(8 * MIB)
    with pytest.raises(shmport.DeadlineExceeded):
        port.allocate(8 * MIB, timeout=0.05)
    del held


def test_unregistered_session_is_failed_precondition(session):
    session.unregister()
    with pytest.raises(shmport.FailedPrecondition):
        session.accept_port(timeout=1)


def test_closed_session_is_failed_precondition(address):
    s = shmport.Session.connect(name=unique_name("py"), address=address)
    s.close()
    s.close()  # idempotent
    with pytest.raises(shmport.FailedPrecondition):
        s.open_port("anyone")


def test_negative_timeout_is_invalid_argument(session, cpp_peer):
    port = session.open_port(cpp_peer("echo").name, timeout=10)
    with pytest.raises(shmport.InvalidArgument) as error:
        port.receive(timeout=-1)
    assert "timeout=-1" in str(error.value)


def test_every_error_is_a_shmport_error_with_its_code():
    for code in shmport.StatusCode:
        if code == shmport.StatusCode.OK:
            continue
        error = shmport.errors.error_from_status(int(code), "why")
        assert isinstance(error, shmport.Error)
        assert error.code == code and str(error) == "why"
