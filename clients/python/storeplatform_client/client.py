"""The StorePlatform client: length-prefixed protobuf RPCs over a Unix socket or TCP.

The wire is described once, in proto/PROTOCOL.md. In short: each frame is a
4-byte big-endian length and one serialized ``storeplatform.v1.Envelope``; the
client opens calls with REQUEST frames on odd, increasing stream ids, and the
daemon answers with RESPONSE (unary) or STREAM_MESSAGE... STREAM_END (streams),
in completion order.

One :class:`Client` owns one connection. A background reader thread reads every
frame and routes it by stream id to the queue of the call waiting for it, so a
server stream (:meth:`Client.watch_stores`, :meth:`Client.watch_fleet_upgrade`) and
unary calls can be interleaved on
the same connection, from one thread or several.
"""

from __future__ import annotations

import os
import collections
import queue
import socket
import ssl
import stat
import struct
import threading
import time
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    Iterable,
    Iterator,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from google.protobuf.message import DecodeError, Message

from ._proto.storeplatform.v1 import admin_pb2, envelope_pb2, fleet_pb2, platform_pb2, store_pb2
from .errors import (
    DeadlineExceededError,
    FrameTooLargeError,
    StatusCode,
    StorePlatformError,
    error_from_status,
    unavailable,
)

__all__ = [
    "Client",
    "ServerStream",
    "Methods",
    "default_socket_path",
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_TCP_HOST",
    "DEFAULT_TCP_PORT",
]

#: The largest frame accepted by default, in either direction (the daemon's default too).
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024
DEFAULT_TCP_HOST = "127.0.0.1"
DEFAULT_TCP_PORT = 7070
#: Seconds allowed to establish a connection.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: How long past a call's deadline the client waits for the daemon's own
#: DEADLINE_EXCEEDED before giving up locally (and sending CANCEL).
LOCAL_DEADLINE_GRACE = 1.0

_HEADER = struct.Struct(">I")
_MAX_STREAM_ID = 0xFFFFFFFF

_REQUEST = envelope_pb2.FRAME_TYPE_REQUEST
_RESPONSE = envelope_pb2.FRAME_TYPE_RESPONSE
_STREAM_MESSAGE = envelope_pb2.FRAME_TYPE_STREAM_MESSAGE
_STREAM_END = envelope_pb2.FRAME_TYPE_STREAM_END
_CANCEL = envelope_pb2.FRAME_TYPE_CANCEL
_ERROR = envelope_pb2.FRAME_TYPE_ERROR

M = TypeVar("M", bound=Message)


def _wire_name(module: Any, service: str, method: str) -> str:
    svc = module.DESCRIPTOR.services_by_name[service]
    return f"/{svc.full_name}/{svc.methods_by_name[method].name}"


class Methods:
    """Full wire names of every method, taken from the generated descriptors."""

    CREATE_STORE = _wire_name(store_pb2, "StoreService", "CreateStore")
    GET_STORE = _wire_name(store_pb2, "StoreService", "GetStore")
    LIST_STORES = _wire_name(store_pb2, "StoreService", "ListStores")
    DELETE_STORE = _wire_name(store_pb2, "StoreService", "DeleteStore")
    RETRY_STORE = _wire_name(store_pb2, "StoreService", "RetryStore")
    WATCH_STORES = _wire_name(store_pb2, "StoreService", "WatchStores")
    LIST_ENGINE_VERSIONS = _wire_name(store_pb2, "StoreService", "ListEngineVersions")
    LIST_STORE_REVISIONS = _wire_name(store_pb2, "StoreService", "ListStoreRevisions")
    UPGRADE_STORE = _wire_name(store_pb2, "StoreService", "UpgradeStore")
    ROLLBACK_STORE = _wire_name(store_pb2, "StoreService", "RollbackStore")
    UPGRADE_FLEET = _wire_name(fleet_pb2, "FleetService", "UpgradeFleet")
    GET_FLEET_UPGRADE = _wire_name(fleet_pb2, "FleetService", "GetFleetUpgrade")
    LIST_FLEET_UPGRADES = _wire_name(fleet_pb2, "FleetService", "ListFleetUpgrades")
    PAUSE_FLEET_UPGRADE = _wire_name(fleet_pb2, "FleetService", "PauseFleetUpgrade")
    RESUME_FLEET_UPGRADE = _wire_name(fleet_pb2, "FleetService", "ResumeFleetUpgrade")
    CANCEL_FLEET_UPGRADE = _wire_name(fleet_pb2, "FleetService", "CancelFleetUpgrade")
    WATCH_FLEET_UPGRADE = _wire_name(fleet_pb2, "FleetService", "WatchFleetUpgrade")
    HEALTH = _wire_name(platform_pb2, "PlatformService", "Health")
    GET_METRICS = _wire_name(platform_pb2, "PlatformService", "GetMetrics")
    LIST_AUDIT = _wire_name(platform_pb2, "PlatformService", "ListAudit")
    RECONCILE = _wire_name(admin_pb2, "AdminService", "Reconcile")
    LIST_OPERATIONS = _wire_name(admin_pb2, "AdminService", "ListOperations")
    GET_LIMITS = _wire_name(admin_pb2, "AdminService", "GetLimits")
    UPDATE_LIMITS = _wire_name(admin_pb2, "AdminService", "UpdateLimits")


def default_socket_path(environ: Optional[Mapping[str, str]] = None,
                        uid: Optional[int] = None) -> str:
    """The daemon's default Unix socket, by the daemon's own rule.

    ``$STOREPLATFORM_SOCKET``, else ``/run/storeplatform/storeplatformd.sock`` for
    root, else ``$XDG_RUNTIME_DIR/storeplatform/storeplatformd.sock``, else
    ``/tmp/storeplatform-<uid>/storeplatformd.sock``. Empty variables count as unset.
    """
    env = os.environ if environ is None else environ
    if uid is None:
        uid = os.getuid()
    path = env.get("STOREPLATFORM_SOCKET", "")
    if path:
        return path
    if uid == 0:
        return "/run/storeplatform/storeplatformd.sock"
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime:
        return runtime + "/storeplatform/storeplatformd.sock"
    return f"/tmp/storeplatform-{uid}/storeplatformd.sock"


def _socket_problem(path: str) -> str:
    """What is at ``path``, seen from here: missing, not a socket, not ours to open,
    or a socket nobody listens on (storectl's words, Sources/storectl/Unreachable.swift)."""
    try:
        mode = os.stat(path).st_mode
    except PermissionError:
        return f"permission denied looking for the socket {path} (a directory on the way is not open to this user)"
    except OSError:
        return f"there is no socket at {path}"
    if not stat.S_ISSOCK(mode):
        return f"{path} exists but is not a socket"
    if not os.access(path, os.W_OK):
        return (f"permission denied on the socket {path} (run as the daemon's user, root, or a member of the "
                "socket's group)")
    return f"nothing is listening on the socket {path} (a daemon that stopped may have left it behind)"


def _store_status(value: Union[int, str]) -> int:
    """A StoreStatus from an int or a name: "READY", "ready", "STORE_STATUS_READY"."""
    if isinstance(value, str):
        name = value.upper()
        if not name.startswith("STORE_STATUS_"):
            name = "STORE_STATUS_" + name
        return store_pb2.StoreStatus.Value(name)
    return int(value)


#: The states of a fleet upgrade that has ended.
_FLEET_ENDED = frozenset((
    fleet_pb2.FLEET_UPGRADE_STATE_COMPLETED,
    fleet_pb2.FLEET_UPGRADE_STATE_CANCELLED,
    fleet_pb2.FLEET_UPGRADE_STATE_STOPPED,
))


def _check_id_or_name(id: str, name: str) -> None:
    """A store is named by its id or by the name of a live store: exactly one."""
    if bool(id) == bool(name):
        raise ValueError("give the store's id or its name, not both and not neither")


_Item = Union[envelope_pb2.Envelope, StorePlatformError, None]  # None: closed locally


def tls_context(ca: Optional[str] = None, cert: Optional[str] = None, key: Optional[str] = None) -> ssl.SSLContext:
    """A client context for :meth:`Client.tcp`: TLS 1.2 or later, the daemon's
    certificate checked against ``ca`` (the system's CAs when None), and a client
    certificate when ``cert`` and ``key`` are given."""
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert or key:
        if not (cert and key):
            raise ValueError("cert and key go together: give both or neither")
        context.load_cert_chain(cert, key)
    return context


def _explain_tls(exc: BaseException) -> str:
    """What a failed handshake means, with what to do."""
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or text
        if "expired" in reason:
            return f"the daemon's certificate has expired ({reason}); the daemon needs a new one"
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            return f"the daemon's certificate is not valid for this host ({reason}); pass server_hostname"
        return f"the daemon's certificate is not trusted ({reason}); pass its CA as ca="
    if "CERTIFICATE_REQUIRED" in text or "HANDSHAKE_FAILURE" in text:
        return f"the daemon wants a client certificate ({text}); pass cert= and key="
    if "CERTIFICATE_EXPIRED" in text:
        return f"the daemon refused the client certificate: it has expired ({text})"
    if "UNKNOWN_CA" in text or "BAD_CERTIFICATE" in text:
        return f"the daemon refused the client certificate: not signed by a CA it trusts ({text})"
    if "WRONG_VERSION_NUMBER" in text:
        return f"the daemon did not answer in TLS ({text}); connect without TLS or check the port"
    return text


class Client:
    """A connection to ``storeplatformd``.

    Make one with :meth:`unix` or :meth:`tcp`; use it as a context manager or call
    :meth:`close`. ``timeout`` (seconds) is the default deadline of unary calls:
    it is sent as ``timeout_ms`` and also enforced locally (plus
    ``LOCAL_DEADLINE_GRACE``); ``None`` means no deadline. Streams get a deadline
    only when one is passed to them.

    Errors are :class:`~storeplatform_client.errors.StorePlatformError`
    subclasses; a failed connection raises ``UnavailableError`` for every call in
    flight and every later call (make a new client to reconnect).
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        token: Optional[str] = None,
        timeout: Optional[float] = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        peer: str = "",
    ) -> None:
        """Wrap a connected stream socket (normally via :meth:`unix` / :meth:`tcp`)."""
        sock.settimeout(None)  # the reader blocks; calls enforce their own deadlines
        self._sock = sock
        self._token = token
        self.timeout = timeout
        self.max_frame_bytes = int(max_frame_bytes)
        self.peer = peer
        self._send_lock = threading.Lock()   # stream-id order == wire order
        self._state_lock = threading.Lock()  # _calls, _failure, _closed
        self._calls: Dict[int, "queue.SimpleQueue[_Item]"] = {}
        self._next_id = 1
        self._failure: Optional[StorePlatformError] = None
        self._closed = False
        # Streams dropped without close() (ServerStream.__del__): cancelled by
        # whoever next holds the send lock, since a finalizer must never block.
        self._abandoned: "collections.deque[int]" = collections.deque()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"storeplatform-reader {peer}", daemon=True
        )
        self._reader.start()

    # ------------------------------------------------------------------ connect

    @classmethod
    def unix(
        cls,
        path: Optional[str] = None,
        timeout: Optional[float] = None,
        *,
        token: Optional[str] = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> "Client":
        """Connect to the daemon's Unix socket (:func:`default_socket_path` when ``path`` is None)."""
        path = path or default_socket_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise unavailable(
                f"cannot reach storeplatformd: {_socket_problem(path)}. Is storeplatformd running? It listens on "
                "the socket its --socket (or STOREPLATFORM_SOCKET) names; connect to the same path "
                "(Client.unix(PATH), or STOREPLATFORM_SOCKET=PATH)"
            ) from exc
        return cls(sock, token=token, timeout=timeout, max_frame_bytes=max_frame_bytes,
                   peer=f"unix:{path}")

    @classmethod
    def tcp(
        cls,
        host: str = DEFAULT_TCP_HOST,
        port: int = DEFAULT_TCP_PORT,
        token: Optional[str] = None,
        timeout: Optional[float] = None,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca: Optional[str] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        server_hostname: Optional[str] = None,
    ) -> "Client":
        """Connect over TCP; ``token`` is sent as ``authorization: Bearer <token>`` on every call.

        TLS: pass an ``ssl_context``, or any of ``ca`` (PEM CA file to trust; the
        system's otherwise), ``cert`` and ``key`` (PEM client certificate and key,
        for a daemon that asks for one). ``server_hostname`` is the name the
        daemon's certificate must hold (``host`` by default; an IP address is
        matched against the certificate's IP entries). A refused handshake raises
        ``UnavailableError`` saying why.
        """
        if ssl_context is None and (ca or cert or key or server_hostname):
            ssl_context = tls_context(ca=ca, cert=cert, key=key)
        try:
            sock = socket.create_connection((host, int(port)), timeout=connect_timeout)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise unavailable(
                f"cannot reach storeplatformd at {host}:{port} ({reason.lower()}). Is storeplatformd running with "
                f"--tcp {host}:{port}? Connect to the daemon's address (Client.tcp(HOST, PORT)), or to its Unix "
                "socket (Client.unix(PATH), or STOREPLATFORM_SOCKET=PATH)"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if ssl_context is not None:
            try:
                sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise unavailable(f"TLS handshake with {host}:{port} failed: {_explain_tls(exc)}") from exc
        return cls(sock, token=token, timeout=timeout, max_frame_bytes=max_frame_bytes,
                   peer=f"tcp:{host}:{port}")

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the connection; calls in flight fail with UnavailableError."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader
        except OSError:
            pass
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)
        self._sock.close()
        self._fail(unavailable("the client was closed", error_code="CLIENT_CLOSED"))

    @property
    def closed(self) -> bool:
        """True once the connection is closed or failed."""
        return self._closed or self._failure is not None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<storeplatform_client.Client {self.peer}{' closed' if self.closed else ''}>"

    # ------------------------------------------------------------- generic calls

    def call(
        self,
        method: str,
        request: Message,
        response_type: Type[M],
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> M:
        """A unary call: send ``request`` to ``method`` ("/pkg.Service/Method") and
        return the ``response_type`` message. ``timeout`` defaults to the client's."""
        if timeout is None:
            timeout = self.timeout
        stream_id, inbox, request_id = self._start(method, request, timeout, metadata)
        wait = None if timeout is None else timeout + LOCAL_DEADLINE_GRACE
        try:
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                self._cancel(stream_id)
                raise DeadlineExceededError(
                    StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED",
                    f"no answer within {timeout:g} s", 0, request_id, method,
                ) from None
            except BaseException:  # KeyboardInterrupt and the like: stop the call
                self._cancel(stream_id)
                raise
        finally:
            self._unregister(stream_id)
        if isinstance(item, StorePlatformError):
            raise item
        request_id = item.metadata.get("request-id", request_id)
        if item.type == _STREAM_MESSAGE:
            self._cancel(stream_id)
            raise StorePlatformError(
                StatusCode.INTERNAL, "PROTOCOL_ERROR",
                f"{method} answered with a stream; use Client.stream()", 0, request_id, method,
            )
        if item.status.code != StatusCode.OK:
            raise error_from_status(item.status, request_id, method)
        return _parse(response_type, item.payload, method, request_id)

    def stream(
        self,
        method: str,
        request: Message,
        response_type: Type[M],
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> "ServerStream[M]":
        """A server-streaming call; iterate the returned :class:`ServerStream`.
        ``timeout`` bounds the whole stream (no deadline when None)."""
        stream_id, inbox, request_id = self._start(method, request, timeout, metadata)
        return ServerStream(self, stream_id, inbox, response_type, method, request_id, timeout)

    # ------------------------------------------------------------ StoreService

    def create_store(
        self,
        name: str,
        engine: str = "",
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> store_pb2.Store:
        """Ask for a new store; returns it queued. A retry with the same
        ``idempotency_key`` returns the store the first request created."""
        metadata = {"idempotency-key": idempotency_key} if idempotency_key else None
        return self.call(
            Methods.CREATE_STORE, store_pb2.CreateStoreRequest(name=name, engine=engine),
            store_pb2.CreateStoreResponse, timeout, metadata,
        ).store

    def get_store(self, id: str = "", timeout: Optional[float] = None, *, name: str = "") -> store_pb2.Store:
        """One store by id, or the live store with ``name`` (give one of the two);
        NotFoundError when there is none. A deleted store is found by its id only."""
        _check_id_or_name(id, name)
        return self.call(Methods.GET_STORE, store_pb2.GetStoreRequest(id=id, name=name),
                         store_pb2.GetStoreResponse, timeout).store

    def list_stores(
        self,
        statuses: Optional[Iterable[Union[int, str]]] = None,
        page_size: int = 0,
        page_token: str = "",
        timeout: Optional[float] = None,
        *,
        name_contains: str = "",
    ) -> store_pb2.ListStoresResponse:
        """One page of stores, newest first. ``statuses`` filters (StoreStatus
        values or names such as "READY"); every status, deleted too, when empty.
        ``name_contains``: only stores whose name contains it (give the same with
        each ``page_token``)."""
        request = store_pb2.ListStoresRequest(
            statuses=[_store_status(s) for s in statuses or ()],
            page_size=page_size, page_token=page_token, name_contains=name_contains,
        )
        return self.call(Methods.LIST_STORES, request, store_pb2.ListStoresResponse, timeout)

    def iter_stores(
        self,
        statuses: Optional[Iterable[Union[int, str]]] = None,
        page_size: int = 0,
        timeout: Optional[float] = None,
        *,
        name_contains: str = "",
    ) -> Iterator[store_pb2.Store]:
        """Every store (whose name contains ``name_contains``, when given), newest
        first, following ``next_page_token`` page by page."""
        statuses = list(statuses or ())
        token = ""
        while True:
            page = self.list_stores(statuses, page_size, token, timeout, name_contains=name_contains)
            yield from page.stores
            token = page.next_page_token
            if not token:
                return

    def delete_store(self, id: str, timeout: Optional[float] = None) -> store_pb2.Store:
        """Start deleting a store; returns it in status deleting."""
        return self.call(Methods.DELETE_STORE, store_pb2.DeleteStoreRequest(id=id),
                         store_pb2.DeleteStoreResponse, timeout).store

    def retry_store(self, id: str, timeout: Optional[float] = None) -> store_pb2.Store:
        """Queue a failed store again; returns it queued."""
        return self.call(Methods.RETRY_STORE, store_pb2.RetryStoreRequest(id=id),
                         store_pb2.RetryStoreResponse, timeout).store

    def list_engine_versions(self, timeout: Optional[float] = None) -> store_pb2.ListEngineVersionsResponse:
        """Every engine version stores can run (``versions``, oldest first within an
        engine); the one new stores get has ``is_default`` set. Its ``name`` is what
        :meth:`upgrade_store` takes."""
        return self.call(Methods.LIST_ENGINE_VERSIONS, store_pb2.ListEngineVersionsRequest(),
                         store_pb2.ListEngineVersionsResponse, timeout)

    def list_store_revisions(
        self, id: str = "", timeout: Optional[float] = None, *, name: str = ""
    ) -> store_pb2.ListStoreRevisionsResponse:
        """A store's releases (``revisions``, newest first): its install, upgrades and
        rollbacks, each with its version, status, who asked and what happened. The
        store by id, or the live store with ``name`` (give one of the two);
        NotFoundError when there is none."""
        _check_id_or_name(id, name)
        return self.call(Methods.LIST_STORE_REVISIONS,
                         store_pb2.ListStoreRevisionsRequest(id=id, name=name),
                         store_pb2.ListStoreRevisionsResponse, timeout)

    def upgrade_store(
        self, id: str = "", version: str = "", timeout: Optional[float] = None, *, name: str = ""
    ) -> store_pb2.Store:
        """Start moving a ready store to ``version`` (a name :meth:`list_engine_versions`
        lists); returns the store at once, upgrading, with ``version`` the target.

        The store by id, or the live store with ``name`` (give one of the two). The
        upgrade goes on in the daemon (:meth:`wait_for_upgrade` follows it): the store
        ends ready on ``version`` as a new revision; or, when the upgrade failed and
        the daemon rolled it back by itself, ready on its old version (the upgrade's
        revision is then rolled-back, and its message in :meth:`list_store_revisions`
        says why); or failed when even that rollback failed.

        Raises NotFoundError; UnknownVersionError (UNKNOWN_VERSION; InvalidArgumentError
        without a version); AlreadyOnVersionError (ALREADY_ON_VERSION);
        InvalidStateTransitionError (the store is not ready); OperationInProgressError
        (another operation runs on it, an upgrade among them).
        """
        _check_id_or_name(id, name)
        return self.call(Methods.UPGRADE_STORE,
                         store_pb2.UpgradeStoreRequest(id=id, name=name, version=version),
                         store_pb2.UpgradeStoreResponse, timeout).store

    def rollback_store(
        self, id: str = "", revision: int = 0, timeout: Optional[float] = None, *, name: str = ""
    ) -> store_pb2.Store:
        """Start bringing a ready store back to its earlier ``revision`` (a number
        :meth:`list_store_revisions` lists), as a new revision with that revision's
        version; returns the store at once, upgrading. It goes on and ends as an
        upgrade does (:meth:`wait_for_upgrade`).

        The store by id, or the live store with ``name`` (give one of the two).
        Raises NotFoundError; UnknownRevisionError (UNKNOWN_REVISION: a revision the
        store does not have, one that never ran, or the one it runs);
        InvalidStateTransitionError; OperationInProgressError.
        """
        _check_id_or_name(id, name)
        return self.call(Methods.ROLLBACK_STORE,
                         store_pb2.RollbackStoreRequest(id=id, name=name, revision=revision),
                         store_pb2.RollbackStoreResponse, timeout).store

    def watch_stores(
        self, store_id: str = "", timeout: Optional[float] = None, after_audit_id: int = 0
    ) -> "ServerStream[store_pb2.StoreEvent]":
        """Stream StoreEvents: every store's transitions, or one store's (then the
        first event has action "current" with its present state). With
        ``after_audit_id``, the stream first replays the transitions committed after
        that audit id: resume from the last event you got after a dropped
        connection or a WATCH_FELL_BEHIND error (its message names that id).
        Closing the stream, or leaving a ``with``/``for`` over it, sends CANCEL."""
        return self.stream(Methods.WATCH_STORES,
                           store_pb2.WatchStoresRequest(store_id=store_id, after_audit_id=after_audit_id),
                           store_pb2.StoreEvent, timeout)

    def wait_for_store(
        self,
        id: str,
        statuses: Iterable[Union[int, str]] = ("READY", "FAILED"),
        timeout: Optional[float] = 60.0,
    ) -> store_pb2.Store:
        """Follow one store with :meth:`watch_stores` until it is in one of
        ``statuses``; returns it then. DeadlineExceededError after ``timeout``."""
        wanted = {_store_status(s) for s in statuses}
        with self.watch_stores(id, timeout=timeout) as events:
            for event in events:
                if event.store.status in wanted:
                    return event.store
        raise StorePlatformError(StatusCode.UNKNOWN, "STREAM_ENDED",
                                 f"the watch of {id} ended before it reached {sorted(wanted)}")

    def wait_for_upgrade(self, id: str, timeout: Optional[float] = 600.0) -> store_pb2.Store:
        """Follow a store after :meth:`upgrade_store` or :meth:`rollback_store` until it
        is no longer upgrading; returns it then: ready on the version asked for (the
        change worked), ready on the version it ran before (the change failed and was
        rolled back by itself; :meth:`list_store_revisions` says why), or failed. A
        store that is not upgrading is returned at once. DeadlineExceededError after
        ``timeout`` seconds (the daemon gives a change its provisioning deadline, 600 s
        by default)."""
        done = [status for status in store_pb2.StoreStatus.values()
                if status not in (store_pb2.STORE_STATUS_UNSPECIFIED, store_pb2.STORE_STATUS_UPGRADING)]
        return self.wait_for_store(id, done, timeout)

    # ------------------------------------------------------------ FleetService

    def upgrade_fleet(
        self,
        version: str,
        names: Iterable[str] = (),
        statuses: Iterable[Union[int, str]] = (),
        wave_size: int = 0,
        max_unavailable: int = 0,
        failure_budget: int = 0,
        timeout: Optional[float] = None,
    ) -> fleet_pb2.FleetUpgrade:
        """Start moving many live stores to ``version`` (a name :meth:`list_engine_versions`
        lists) in waves; returns the fleet upgrade at once, running, every selected
        store waiting. One fleet upgrade runs at a time.

        The stores: ``names`` (live stores, upgraded in that order, so canaries go
        first), or every live store in ``statuses`` (StoreStatus values or names such
        as "READY"), by name; neither: every live store. ``wave_size`` stores per wave
        (0: 5); a wave starts when every store of the wave before has ended, at most
        ``max_unavailable`` of its stores upgrading at once (0: the wave size). Each
        store's upgrade is :meth:`upgrade_store`'s, rolled back by itself when it fails;
        a store rolled back or failed counts against ``failure_budget``, and one more
        stops the fleet upgrade after its wave (the stores not started keep their
        version). Stores already on ``version``, or not ready when their wave comes,
        are skipped. :meth:`wait_for_fleet_upgrade` follows it to its end.

        Raises InvalidArgumentError (no version, names and statuses both, a name given
        twice, ``max_unavailable`` over the wave size, nothing selected);
        UnknownVersionError; NotFoundError (a named store that is not live);
        FleetUpgradeInProgressError (another one is active; its message names it);
        PermissionDeniedError (operators of every store and admins only).
        """
        request = fleet_pb2.UpgradeFleetRequest(
            version=version,
            selector=fleet_pb2.FleetSelector(
                names=list(names), statuses=[_store_status(s) for s in statuses]),
            wave_size=wave_size, max_unavailable=max_unavailable, failure_budget=failure_budget,
        )
        return self.call(Methods.UPGRADE_FLEET, request, fleet_pb2.UpgradeFleetResponse,
                         timeout).fleet_upgrade

    def get_fleet_upgrade(self, id: str = "", timeout: Optional[float] = None) -> fleet_pb2.FleetUpgrade:
        """One fleet upgrade with every store's outcome and its log (``steps``): by
        ``id``, or else the active one, or else the latest. NotFoundError when there is
        none."""
        return self.call(Methods.GET_FLEET_UPGRADE, fleet_pb2.GetFleetUpgradeRequest(id=id),
                         fleet_pb2.GetFleetUpgradeResponse, timeout).fleet_upgrade

    def list_fleet_upgrades(
        self, limit: int = 0, timeout: Optional[float] = None
    ) -> fleet_pb2.ListFleetUpgradesResponse:
        """The latest fleet upgrades (``fleet_upgrades``), newest first, without their
        stores and steps (:meth:`get_fleet_upgrade` has them); ``limit`` 0 means 20,
        at most 100."""
        return self.call(Methods.LIST_FLEET_UPGRADES, fleet_pb2.ListFleetUpgradesRequest(limit=limit),
                         fleet_pb2.ListFleetUpgradesResponse, timeout)

    def pause_fleet_upgrade(self, id: str = "", timeout: Optional[float] = None) -> fleet_pb2.FleetUpgrade:
        """Start no more stores of a running fleet upgrade (``id``, or the active one)
        until :meth:`resume_fleet_upgrade`; those upgrading end as they do. Returns it,
        paused. Raises NotFoundError; InvalidStateTransitionError (not running)."""
        return self._change_fleet_upgrade(Methods.PAUSE_FLEET_UPGRADE, id, timeout)

    def resume_fleet_upgrade(self, id: str = "", timeout: Optional[float] = None) -> fleet_pb2.FleetUpgrade:
        """Go on with a paused fleet upgrade (``id``, or the active one); returns it,
        running. Raises NotFoundError; InvalidStateTransitionError (not paused)."""
        return self._change_fleet_upgrade(Methods.RESUME_FLEET_UPGRADE, id, timeout)

    def cancel_fleet_upgrade(self, id: str = "", timeout: Optional[float] = None) -> fleet_pb2.FleetUpgrade:
        """Start no more stores of a fleet upgrade (``id``, or the active one); it ends
        cancelled once those upgrading have, and the rest keep their version. Returns
        it, cancelling (or cancelled when none was upgrading). Raises NotFoundError;
        InvalidStateTransitionError (already ended, or cancelling)."""
        return self._change_fleet_upgrade(Methods.CANCEL_FLEET_UPGRADE, id, timeout)

    def _change_fleet_upgrade(self, method: str, id: str, timeout: Optional[float]) -> fleet_pb2.FleetUpgrade:
        return self.call(method, fleet_pb2.ChangeFleetUpgradeRequest(id=id),
                         fleet_pb2.ChangeFleetUpgradeResponse, timeout).fleet_upgrade

    def watch_fleet_upgrade(
        self, id: str = "", timeout: Optional[float] = None
    ) -> "ServerStream[fleet_pb2.FleetUpgrade]":
        """Stream a fleet upgrade (``id``, or else the active one, or else the latest):
        as it is now, then again at every change; the daemon ends the stream once it
        sent it ended (completed, cancelled or stopped: ``ended_ms`` > 0). NotFoundError
        when there is none. Closing the stream, or leaving a ``with``/``for`` over it,
        sends CANCEL."""
        return self.stream(Methods.WATCH_FLEET_UPGRADE, fleet_pb2.WatchFleetUpgradeRequest(id=id),
                           fleet_pb2.FleetUpgrade, timeout)

    def wait_for_fleet_upgrade(self, id: str = "", timeout: Optional[float] = None) -> fleet_pb2.FleetUpgrade:
        """Follow a fleet upgrade (``id``, or else the active one, or else the latest)
        with :meth:`watch_fleet_upgrade` until it has ended; returns it then:
        completed, cancelled or stopped (its ``stores`` say what became of each, its
        ``steps`` why it ended). One that has ended is returned at once.
        DeadlineExceededError after ``timeout`` seconds (None: as long as it runs;
        the fleet upgrade carries on either way)."""
        with self.watch_fleet_upgrade(id, timeout=timeout) as updates:
            for fleet in updates:
                if fleet.state in _FLEET_ENDED:
                    return fleet
        raise StorePlatformError(StatusCode.UNKNOWN, "STREAM_ENDED",
                                 f"the watch of fleet upgrade {id or '(the active one)'} ended before it did")

    # --------------------------------------------------------- PlatformService

    def health(self, timeout: Optional[float] = None) -> platform_pb2.HealthResponse:
        """Liveness and identity of the daemon."""
        return self.call(Methods.HEALTH, platform_pb2.HealthRequest(),
                         platform_pb2.HealthResponse, timeout)

    def get_metrics(self, timeout: Optional[float] = None) -> platform_pb2.GetMetricsResponse:
        """Counters and statistics of the platform."""
        return self.call(Methods.GET_METRICS, platform_pb2.GetMetricsRequest(),
                         platform_pb2.GetMetricsResponse, timeout)

    def list_audit(
        self, limit: int = 0, page_token: str = "", store_id: str = "",
        timeout: Optional[float] = None,
    ) -> platform_pb2.ListAuditResponse:
        """One page of the audit log, newest first."""
        request = platform_pb2.ListAuditRequest(limit=limit, page_token=page_token, store_id=store_id)
        return self.call(Methods.LIST_AUDIT, request, platform_pb2.ListAuditResponse, timeout)

    def iter_audit(
        self, store_id: str = "", limit: int = 0, timeout: Optional[float] = None
    ) -> Iterator[platform_pb2.AuditEvent]:
        """Every audit event, newest first, following pages (``limit`` per page)."""
        token = ""
        while True:
            page = self.list_audit(limit, token, store_id, timeout)
            yield from page.events
            token = page.next_page_token
            if not token:
                return

    # ------------------------------------------------------------ AdminService

    def reconcile(self, timeout: Optional[float] = None) -> admin_pb2.ReconcileResponse:
        """Run a reconcile pass now (admin only)."""
        return self.call(Methods.RECONCILE, admin_pb2.ReconcileRequest(),
                         admin_pb2.ReconcileResponse, timeout)

    def list_operations(self, timeout: Optional[float] = None) -> admin_pb2.ListOperationsResponse:
        """Store operations running now (admin only)."""
        return self.call(Methods.LIST_OPERATIONS, admin_pb2.ListOperationsRequest(),
                         admin_pb2.ListOperationsResponse, timeout)

    def get_limits(self, timeout: Optional[float] = None) -> admin_pb2.Limits:
        """The limits in force (admin only)."""
        return self.call(Methods.GET_LIMITS, admin_pb2.GetLimitsRequest(),
                         admin_pb2.GetLimitsResponse, timeout).limits

    def update_limits(
        self,
        max_live_stores: Optional[int] = None,
        requests_per_minute: Optional[int] = None,
        creates_per_minute: Optional[int] = None,
        max_concurrent_provisions: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> admin_pb2.Limits:
        """Change the limits given (admin only); returns the limits now in force."""
        request = admin_pb2.UpdateLimitsRequest()
        for field, value in (
            ("max_live_stores", max_live_stores),
            ("requests_per_minute", requests_per_minute),
            ("creates_per_minute", creates_per_minute),
            ("max_concurrent_provisions", max_concurrent_provisions),
        ):
            if value is not None:
                setattr(request, field, value)
        return self.call(Methods.UPDATE_LIMITS, request, admin_pb2.UpdateLimitsResponse,
                         timeout).limits

    # ---------------------------------------------------------------- plumbing

    def _start(
        self,
        method: str,
        request: Message,
        timeout: Optional[float],
        metadata: Optional[Mapping[str, str]],
    ) -> Tuple[int, "queue.SimpleQueue[_Item]", str]:
        """Send a REQUEST on a fresh stream id; returns (id, its inbox, request id)."""
        meta = {str(k).lower(): str(v) for k, v in (metadata or {}).items()}
        if self._token and "authorization" not in meta:
            meta["authorization"] = f"Bearer {self._token}"
        envelope = envelope_pb2.Envelope(
            type=_REQUEST, method=method, payload=request.SerializeToString(), metadata=meta,
        )
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive (or None for no deadline)")
            envelope.timeout_ms = max(1, int(round(timeout * 1000)))
        request_id = meta.get("request-id", "")
        inbox: "queue.SimpleQueue[_Item]" = queue.SimpleQueue()
        with self._send_lock:
            self._cancel_abandoned()
            stream_id = self._next_id
            if stream_id > _MAX_STREAM_ID:
                raise unavailable("stream ids of this connection are used up; open a new client",
                                  method, request_id)
            envelope.stream_id = stream_id
            data = envelope.SerializeToString()
            if len(data) > self.max_frame_bytes:
                raise FrameTooLargeError(
                    StatusCode.RESOURCE_EXHAUSTED, "FRAME_TOO_LARGE",
                    f"the request frame is {len(data)} bytes, over the limit of "
                    f"{self.max_frame_bytes}; nothing was sent", 0, request_id, method,
                )
            with self._state_lock:
                self._raise_if_down(method, request_id)
                self._calls[stream_id] = inbox
            self._next_id += 2
            try:
                self._sock.sendall(_HEADER.pack(len(data)) + data)
            except OSError as exc:
                if isinstance(exc, ssl.SSLError):
                    # TLS 1.3 refuses a client certificate after the handshake: the
                    # reader gets the daemon's alert, which says why; wait for it.
                    self._reader.join(timeout=2)
                    if self._failure is not None:
                        raise self._failure._clone() from exc
                err = unavailable(f"sending to {self.peer} failed: {_explain_tls(exc) if isinstance(exc, ssl.SSLError) else exc}",
                                  method, request_id)
                self._fail(err)
                raise err._clone() from exc
        return stream_id, inbox, request_id

    def _cancel(self, stream_id: int) -> None:
        """Send CANCEL for a call (best effort: a dead connection cancels everything)."""
        with self._send_lock:
            self._cancel_abandoned()
            self._send_cancel(stream_id)

    def _send_cancel(self, stream_id: int) -> None:
        # Called with _send_lock held.
        if self.closed:
            return
        frame = envelope_pb2.Envelope(stream_id=stream_id, type=_CANCEL).SerializeToString()
        try:
            self._sock.sendall(_HEADER.pack(len(frame)) + frame)
        except OSError:
            pass  # the reader notices the broken connection

    def _abandon(self, stream_id: int) -> None:
        """Cancel a stream from a finalizer: never blocks (the finalizer may run in
        any thread, even one holding our locks); deferred when the lock is busy."""
        self._abandoned.append(stream_id)
        if self._send_lock.acquire(blocking=False):
            try:
                self._cancel_abandoned()
            finally:
                self._send_lock.release()

    def _cancel_abandoned(self) -> None:
        # Called with _send_lock held. dict.pop is atomic; no _state_lock needed.
        while self._abandoned:
            stream_id = self._abandoned.popleft()
            self._calls.pop(stream_id, None)
            self._send_cancel(stream_id)

    def _unregister(self, stream_id: int) -> None:
        with self._state_lock:
            self._calls.pop(stream_id, None)

    def _raise_if_down(self, method: str, request_id: str) -> None:
        # Called with _state_lock held.
        if self._closed:
            raise unavailable("the client is closed", method, request_id, "CLIENT_CLOSED")
        if self._failure is not None:
            raise unavailable(f"the connection to {self.peer} is gone: {self._failure}",
                              method, request_id)

    def _fail(self, err: StorePlatformError) -> None:
        """Mark the connection dead and hand ``err`` to every call in flight."""
        with self._state_lock:
            if self._failure is None:
                self._failure = err
            calls = list(self._calls.values())
            self._calls.clear()
        for inbox in calls:
            inbox.put(err._clone())
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _recv_exact(self, n: int) -> Optional[bytearray]:
        """Exactly n bytes, or None on a clean end of stream before the first byte."""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            count = self._sock.recv_into(view[got:], n - got)
            if count == 0:
                if got == 0:
                    return None
                raise unavailable(
                    f"the connection to {self.peer} closed in the middle of a frame")
            got += count
        return buf

    def _read_loop(self) -> None:
        try:
            while True:
                header = self._recv_exact(_HEADER.size)
                if header is None:
                    raise unavailable(f"the daemon at {self.peer} closed the connection")
                (length,) = _HEADER.unpack(header)
                if length > self.max_frame_bytes:
                    # Refused from the header alone; the stream cannot be resynchronised.
                    raise FrameTooLargeError(
                        StatusCode.RESOURCE_EXHAUSTED, "FRAME_TOO_LARGE",
                        f"the daemon announced a frame of {length} bytes, over this "
                        f"client's limit of {self.max_frame_bytes}; connection closed",
                    )
                body = self._recv_exact(length) if length else bytearray()
                if body is None:
                    raise unavailable(
                        f"the connection to {self.peer} closed in the middle of a frame")
                try:
                    envelope = envelope_pb2.Envelope.FromString(bytes(body))
                except DecodeError as exc:
                    raise StorePlatformError(
                        StatusCode.INTERNAL, "MALFORMED_ENVELOPE",
                        f"the daemon sent a frame that is not an Envelope: {exc}",
                    ) from exc
                if envelope.type == _ERROR or envelope.stream_id == 0:
                    # Connection-level error; the daemon closes the connection after it.
                    raise error_from_status(envelope.status)
                with self._state_lock:
                    inbox = self._calls.get(envelope.stream_id)
                if inbox is not None:
                    inbox.put(envelope)
                # else: an answer to a call nobody waits for any more (cancelled): dropped.
                if self._abandoned:
                    with self._send_lock:
                        self._cancel_abandoned()
        except StorePlatformError as err:
            if self._closed:
                err = unavailable("the client was closed", error_code="CLIENT_CLOSED")
            self._fail(err)
        except OSError as exc:
            if self._closed:
                self._fail(unavailable("the client was closed", error_code="CLIENT_CLOSED"))
            else:
                reason = f"TLS failed: {_explain_tls(exc)}" if isinstance(exc, ssl.SSLError) else str(exc)
                self._fail(unavailable(f"reading from {self.peer} failed: {reason}"))
        except BaseException as exc:  # never leave callers waiting forever
            self._fail(unavailable(f"the client's reader failed: {exc!r}"))
            raise


def _parse(response_type: Type[M], payload: bytes, method: str, request_id: str) -> M:
    try:
        return response_type.FromString(payload)
    except DecodeError as exc:
        raise StorePlatformError(
            StatusCode.INTERNAL, "MALFORMED_RESPONSE",
            f"the answer of {method} is not a {response_type.DESCRIPTOR.full_name}: {exc}",
            0, request_id, method,
        ) from exc


class ServerStream(Generic[M]):
    """The messages of one server-streaming call, as an iterator.

    Iteration ends when the daemon ends the stream with OK; any other ending
    raises the error (e.g. NotFoundError for a watch of an unknown store,
    DeadlineExceededError when its deadline passes). :meth:`close` (also on
    leaving a ``with`` block, and when the object is garbage-collected) sends
    CANCEL if the stream is still running. ``metadata`` holds the metadata of
    the stream's end once it arrived (e.g. "request-id").
    """

    def __init__(
        self,
        client: Client,
        stream_id: int,
        inbox: "queue.SimpleQueue[_Item]",
        response_type: Type[M],
        method: str,
        request_id: str,
        timeout: Optional[float],
    ) -> None:
        self._client = client
        self.stream_id = stream_id
        self._inbox = inbox
        self._response_type = response_type
        self.method = method
        self.request_id = request_id
        self.metadata: Dict[str, str] = {}
        self._done = False
        self._clock: Callable[[], float] = time.monotonic
        self._deadline = None if timeout is None else self._clock() + timeout + LOCAL_DEADLINE_GRACE
        self._timeout = timeout

    def __iter__(self) -> "ServerStream[M]":
        return self

    def __next__(self) -> M:
        message = self.read()
        if message is None:
            raise StopIteration
        return message

    def read(self, timeout: Optional[float] = None) -> Optional[M]:
        """The next message; None once the stream ended with OK (or was closed).

        ``timeout`` (seconds) bounds only this wait: ``TimeoutError`` when nothing
        arrived in time, and the stream stays open.
        """
        if self._done:
            return None
        wait = timeout
        local_deadline = False
        if self._deadline is not None:
            remaining = max(0.0, self._deadline - self._clock())
            if wait is None or remaining < wait:
                wait, local_deadline = remaining, True
        try:
            item = self._inbox.get(timeout=wait)
        except queue.Empty:
            if local_deadline:
                self.close()
                raise DeadlineExceededError(
                    StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED",
                    f"the stream did not end within {self._timeout:g} s",
                    0, self.request_id, self.method,
                ) from None
            raise TimeoutError(f"no message on {self.method} within {timeout:g} s") from None
        except BaseException:
            self.close()
            raise
        if item is None:  # close() from another thread
            return None
        if isinstance(item, StorePlatformError):
            self._finish()
            raise item
        if item.type == _STREAM_MESSAGE:
            return _parse(self._response_type, item.payload, self.method, self.request_id)
        # STREAM_END, or a RESPONSE (how a call refused before it started ends).
        self._finish()
        self.metadata = dict(item.metadata)
        self.request_id = self.metadata.get("request-id", self.request_id)
        if item.status.code != StatusCode.OK:
            raise error_from_status(item.status, self.request_id, self.method)
        return None

    @property
    def done(self) -> bool:
        """True once the stream ended or was closed."""
        return self._done

    def close(self) -> None:
        """Stop the stream: sends CANCEL when it is still running. Idempotent; a
        read blocked in another thread returns None (iteration stops)."""
        if self._done:
            return
        self._finish()
        self._inbox.put(None)
        self._client._cancel(self.stream_id)

    cancel = close

    def _finish(self) -> None:
        self._done = True
        self._client._unregister(self.stream_id)

    def __enter__(self) -> "ServerStream[M]":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._done:
                self._done = True
                self._client._abandon(self.stream_id)
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "done" if self._done else "open"
        return f"<ServerStream {self.method} id={self.stream_id} {state}>"

