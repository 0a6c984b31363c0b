"""Typed errors of the StorePlatform client.

Every failure of a call is a :class:`StorePlatformError` carrying the daemon's
``Status`` (proto/PROTOCOL.md, "Status"): ``code`` (the gRPC canonical code, a
:class:`StatusCode`), ``error_code`` (the platform's string code, the thing to
branch on), ``message``, ``retry_after_ms`` and the call's ``request_id``.

The class raised is the most specific one known: first by ``error_code``
(``QUOTA_EXCEEDED`` -> :class:`QuotaExceededError`), else by gRPC code
(``NOT_FOUND`` -> :class:`NotFoundError`), else the base class. Failures of the
connection itself (cannot connect, closed, reset) are :class:`UnavailableError`.
"""

from __future__ import annotations

import enum
from typing import Dict, Type

__all__ = [
    "StatusCode",
    "StorePlatformError",
    "CancelledError",
    "UnknownError",
    "InvalidArgumentError",
    "DeadlineExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "AbortedError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "UnauthenticatedError",
    "InvalidStoreNameError",
    "MissingStoreNameError",
    "StoreNameTakenError",
    "QuotaExceededError",
    "RateLimitedError",
    "InvalidStateTransitionError",
    "OperationInProgressError",
    "FrameTooLargeError",
    "UnknownVersionError",
    "AlreadyOnVersionError",
    "UnknownRevisionError",
    "FleetUpgradeInProgressError",
    "error_class",
    "error_from_status",
]


class StatusCode(enum.IntEnum):
    """gRPC canonical status codes (the ``Code`` enum of envelope.proto)."""

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


def _status_code(code: int):
    try:
        return StatusCode(code)
    except ValueError:
        return int(code)


class StorePlatformError(Exception):
    """A call (or the connection) failed; the daemon's Status says why.

    Attributes:
        code: gRPC canonical code, a :class:`StatusCode` (an ``int``).
        error_code: the platform's string code, e.g. ``"QUOTA_EXCEEDED"``.
        message: human-readable explanation.
        retry_after_ms: for ``RATE_LIMITED``, how long to wait (0 otherwise).
        request_id: the call's request id (echoed by the daemon), when known.
        method: the method called, when known.
    """

    def __init__(
        self,
        code: int,
        error_code: str = "",
        message: str = "",
        retry_after_ms: int = 0,
        request_id: str = "",
        method: str = "",
    ) -> None:
        self.code = _status_code(code)
        self.error_code = error_code or (
            self.code.name if isinstance(self.code, StatusCode) else ""
        )
        self.message = message
        self.retry_after_ms = int(retry_after_ms)
        self.request_id = request_id
        self.method = method
        super().__init__(self.__str__())

    @property
    def code_name(self) -> str:
        """The gRPC code's name, e.g. ``"NOT_FOUND"``."""
        return self.code.name if isinstance(self.code, StatusCode) else str(self.code)

    @property
    def retry_after(self) -> float:
        """``retry_after_ms`` in seconds."""
        return self.retry_after_ms / 1000.0

    def __str__(self) -> str:
        text = self.error_code
        if self.code_name != self.error_code:
            text += f" ({self.code_name})"
        if self.message:
            text += f": {self.message}"
        if self.retry_after_ms:
            text += f" [retry after {self.retry_after_ms} ms]"
        if self.request_id:
            text += f" [request-id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code_name}, error_code={self.error_code!r}, "
            f"message={self.message!r}, retry_after_ms={self.retry_after_ms}, "
            f"request_id={self.request_id!r})"
        )

    def __reduce__(self):
        return (
            type(self),
            (int(self.code), self.error_code, self.message, self.retry_after_ms,
             self.request_id, self.method),
        )

    def _clone(self) -> "StorePlatformError":
        return type(self)(int(self.code), self.error_code, self.message,
                          self.retry_after_ms, self.request_id, self.method)


# Classes by gRPC code.
class CancelledError(StorePlatformError):
    """CANCELLED: the call was cancelled."""


class UnknownError(StorePlatformError):
    """UNKNOWN."""


class InvalidArgumentError(StorePlatformError):
    """INVALID_ARGUMENT: the request is wrong (bad name, engine, payload, ...)."""


class DeadlineExceededError(StorePlatformError):
    """DEADLINE_EXCEEDED: the call's timeout passed (on the daemon or locally)."""


class NotFoundError(StorePlatformError):
    """NOT_FOUND: no such store."""


class AlreadyExistsError(StorePlatformError):
    """ALREADY_EXISTS: e.g. STORE_NAME_TAKEN."""


class PermissionDeniedError(StorePlatformError):
    """PERMISSION_DENIED: the caller's role does not allow the call (an AdminService
    method from a non-admin, a change from a viewer), or it may change only its own
    stores; the message says what was missing."""


class ResourceExhaustedError(StorePlatformError):
    """RESOURCE_EXHAUSTED: quota, rate limit, frame or in-flight limits."""


class FailedPreconditionError(StorePlatformError):
    """FAILED_PRECONDITION: e.g. INVALID_STATE_TRANSITION, ENGINE_UNAVAILABLE,
    FLEET_UPGRADE_IN_PROGRESS."""


class AbortedError(StorePlatformError):
    """ABORTED: e.g. OPERATION_IN_PROGRESS."""


class UnimplementedError(StorePlatformError):
    """UNIMPLEMENTED: unknown method."""


class InternalError(StorePlatformError):
    """INTERNAL: the daemon failed unexpectedly (the message names the request id)."""


class UnavailableError(StorePlatformError):
    """UNAVAILABLE: the daemon is shutting down, or the connection failed or closed."""


class UnauthenticatedError(StorePlatformError):
    """UNAUTHENTICATED: TCP without a valid ``authorization: Bearer <token>``."""


# Classes by platform error code (each under its gRPC code's class).
class InvalidStoreNameError(InvalidArgumentError):
    """INVALID_STORE_NAME: the name is not a DNS-1123 label of at most 40 characters."""


class MissingStoreNameError(InvalidArgumentError):
    """MISSING_STORE_NAME."""


class StoreNameTakenError(AlreadyExistsError):
    """STORE_NAME_TAKEN: a live store already has that name."""


class QuotaExceededError(ResourceExhaustedError):
    """QUOTA_EXCEEDED: the maximum of live stores is reached."""


class RateLimitedError(ResourceExhaustedError):
    """RATE_LIMITED: too many requests; wait ``retry_after_ms``."""


class InvalidStateTransitionError(FailedPreconditionError):
    """INVALID_STATE_TRANSITION: e.g. retrying a store that is not failed."""


class OperationInProgressError(AbortedError):
    """OPERATION_IN_PROGRESS: another operation holds the store's lock."""


class FrameTooLargeError(ResourceExhaustedError):
    """FRAME_TOO_LARGE: a frame over the limit (sent by the daemon or refused locally)."""


class UnknownVersionError(InvalidArgumentError):
    """UNKNOWN_VERSION: an upgrade to a version the store's engine does not have (the
    message lists those it has)."""


class AlreadyOnVersionError(FailedPreconditionError):
    """ALREADY_ON_VERSION: an upgrade to the version the store already runs."""


class UnknownRevisionError(InvalidArgumentError):
    """UNKNOWN_REVISION: a rollback to a revision the store does not have, one that
    never ran, or the one it runs."""


class FleetUpgradeInProgressError(FailedPreconditionError):
    """FLEET_UPGRADE_IN_PROGRESS: a fleet upgrade asked for while another is active
    (one runs at a time); the message names it. Wait for it to end, or cancel it."""


_BY_CODE: Dict[int, Type[StorePlatformError]] = {
    StatusCode.CANCELLED: CancelledError,
    StatusCode.UNKNOWN: UnknownError,
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    StatusCode.ABORTED: AbortedError,
    StatusCode.UNIMPLEMENTED: UnimplementedError,
    StatusCode.INTERNAL: InternalError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}

_BY_ERROR_CODE: Dict[str, Type[StorePlatformError]] = {
    "INVALID_STORE_NAME": InvalidStoreNameError,
    "MISSING_STORE_NAME": MissingStoreNameError,
    "STORE_NAME_TAKEN": StoreNameTakenError,
    "QUOTA_EXCEEDED": QuotaExceededError,
    "RATE_LIMITED": RateLimitedError,
    "INVALID_STATE_TRANSITION": InvalidStateTransitionError,
    "OPERATION_IN_PROGRESS": OperationInProgressError,
    "FRAME_TOO_LARGE": FrameTooLargeError,
    "UNKNOWN_VERSION": UnknownVersionError,
    "ALREADY_ON_VERSION": AlreadyOnVersionError,
    "UNKNOWN_REVISION": UnknownRevisionError,
    "FLEET_UPGRADE_IN_PROGRESS": FleetUpgradeInProgressError,
}


def error_class(code: int, error_code: str = "") -> Type[StorePlatformError]:
    """The class :func:`error_from_status` raises for this code pair."""
    cls = _BY_ERROR_CODE.get(error_code)
    # A platform class is used only when its gRPC code agrees, so `except
    # NotFoundError` never misses a NOT_FOUND because of an unexpected pairing.
    if cls is not None and _BY_CODE.get(int(code)) in cls.__mro__:
        return cls
    return _BY_CODE.get(int(code), StorePlatformError)


def error_from_status(status, request_id: str = "", method: str = "") -> StorePlatformError:
    """The exception for a ``storeplatform.v1.Status`` message with a non-OK code."""
    code = int(status.code)
    if code == StatusCode.OK:
        # A failure reported with code OK is a broken peer; never report success.
        code = StatusCode.UNKNOWN
    return error_class(code, status.error_code)(
        code,
        status.error_code,
        status.message,
        status.retry_after_ms,
        request_id,
        method,
    )


def unavailable(message: str, method: str = "", request_id: str = "",
                error_code: str = "UNAVAILABLE") -> UnavailableError:
    """An :class:`UnavailableError` for a failure of the connection itself."""
    return UnavailableError(StatusCode.UNAVAILABLE, error_code, message, 0, request_id, method)
