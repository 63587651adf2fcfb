"""shmport's exceptions: one class per status code of the library.

Every error libshmport reports is an absl::Status (the gRPC code numbers);
the binding raises the class for its code, carrying the library's message
(str(e)) and the code (e.code, a StatusCode). Catch shmport.Error for all
of them. DeadlineExceeded is also a TimeoutError, InvalidArgument also a
ValueError, so code that knows nothing of shmport still handles them.
"""

import enum


class StatusCode(enum.IntEnum):
    """absl::StatusCode / gRPC status code numbers."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class Error(Exception):
    """Base of every shmport error: str(e) is the library's message."""
    code = StatusCode.UNKNOWN

    def __init__(self, message="", code=None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self):
        return self.args[0] if self.args else ""


class Cancelled(Error):
    code = StatusCode.CANCELLED


class Unknown(Error):
    code = StatusCode.UNKNOWN


class InvalidArgument(Error, ValueError):
    code = StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(Error, TimeoutError):
    code = StatusCode.DEADLINE_EXCEEDED


class NotFound(Error):
    code = StatusCode.NOT_FOUND


class AlreadyExists(Error):
    code = StatusCode.ALREADY_EXISTS


class PermissionDenied(Error):
    code = StatusCode.PERMISSION_DENIED


class ResourceExhausted(Error):
    code = StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(Error):
    code = StatusCode.FAILED_PRECONDITION


class Aborted(Error):
    code = StatusCode.ABORTED


class OutOfRange(Error):
    code = StatusCode.OUT_OF_RANGE


class Unimplemented(Error):
    code = StatusCode.UNIMPLEMENTED


class Internal(Error):
    code = StatusCode.INTERNAL


class Unavailable(Error):
    code = StatusCode.UNAVAILABLE


class DataLoss(Error):
    code = StatusCode.DATA_LOSS


class Unauthenticated(Error):
    code = StatusCode.UNAUTHENTICATED


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def error_from_status(code, message):
    """The exception for a status (called by the extension module)."""
    try:
        code = StatusCode(code)
    except ValueError:
        return Error(message, code)
    return _BY_CODE[code](message)
