"""Framing and routing against a scripted fake server on a socket pair (no daemon needed)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Optional

import pytest

from storeplatform_client import (
    Client,
    FrameTooLargeError,
    Methods,
    NotFoundError,
    ResourceExhaustedError,
    StatusCode,
    UnavailableError,
    default_socket_path,
    envelope_pb2,
    platform_pb2,
    store_pb2,
)

E = envelope_pb2


def frame(envelope: envelope_pb2.Envelope) -> bytes:
    data = envelope.SerializeToString()
    return struct.pack(">I", len(data)) + data


class FakeServer:
    """The far end of a socket pair: reads the client's frames, writes raw bytes."""

    def __init__(self) -> None:
        self.sock, client_sock = socket.socketpair()
        self.client = Client(client_sock, timeout=5, peer="fake")
        self.sock.settimeout(5)

    def read_frame(self) -> envelope_pb2.Envelope:
        header = self._exact(4)
        (n,) = struct.unpack(">I", header)
        return envelope_pb2.Envelope.FromString(self._exact(n))

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "client closed"
            buf += chunk
        return buf

    def close(self) -> None:
        self.client.close()
        self.sock.close()


@pytest.fixture
def fake() -> FakeServer:
    server = FakeServer()
    yield server
    server.close()


def in_thread(fn, *args):
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def health(version: str) -> bytes:
    return platform_pb2.HealthResponse(status="SERVING", version=version).SerializeToString()


def test_frames_split_byte_by_byte_and_coalesced(fake: FakeServer) -> None:
    thread, result = in_thread(fake.client.health)
    request = fake.read_frame()
    assert request.type == E.FRAME_TYPE_REQUEST
    assert request.method == Methods.HEALTH
    assert request.stream_id == 1
    assert request.timeout_ms == 5000
    for byte in frame(E.Envelope(stream_id=1, type=E.FRAME_TYPE_RESPONSE, payload=health("a"))):
        fake.sock.sendall(bytes([byte]))
    thread.join(5)
    assert result["value"].version == "a"

    # Two answers in one write, in the opposite order of the requests.
    t3, r3 = in_thread(fake.client.health)
    first = fake.read_frame()
    t5, r5 = in_thread(fake.client.health)
    second = fake.read_frame()
    assert (first.stream_id, second.stream_id) == (3, 5)  # odd, increasing
    fake.sock.sendall(
        frame(E.Envelope(stream_id=5, type=E.FRAME_TYPE_RESPONSE, payload=health("five")))
        + frame(E.Envelope(stream_id=3, type=E.FRAME_TYPE_RESPONSE, payload=health("three"))))
    t3.join(5)
    t5.join(5)
    assert r3["value"].version == "three"
    assert r5["value"].version == "five"


def test_stream_routing_close_sends_cancel(fake: FakeServer) -> None:
    events = fake.client.watch_stores("st_1")
    request = fake.read_frame()
    assert request.method == Methods.WATCH_STORES
    assert request.timeout_ms == 0  # streams get no default deadline
    assert store_pb2.WatchStoresRequest.FromString(request.payload).store_id == "st_1"
    sid = request.stream_id

    event = store_pb2.StoreEvent(action="current", store=store_pb2.Store(id="st_1"))
    fake.sock.sendall(frame(E.Envelope(stream_id=sid, type=E.FRAME_TYPE_STREAM_MESSAGE,
                                       payload=event.SerializeToString())))
    assert events.read(timeout=5).action == "current"

    # A unary call in the middle of the stream.
    thread, result = in_thread(fake.client.get_store, "st_1")
    unary = fake.read_frame()
    assert unary.stream_id == sid + 2
    fake.sock.sendall(frame(E.Envelope(
        stream_id=unary.stream_id, type=E.FRAME_TYPE_RESPONSE,
        status=E.Status(code=E.CODE_NOT_FOUND, error_code="NOT_FOUND", message="gone"),
        metadata={"request-id": "req-x"})))
    thread.join(5)
    assert isinstance(result["error"], NotFoundError)
    assert result["error"].request_id == "req-x"

    with pytest.raises(TimeoutError):
        events.read(timeout=0.05)  # nothing yet; the stream stays open
    assert not events.done

    events.close()
    cancel = fake.read_frame()
    assert (cancel.type, cancel.stream_id) == (E.FRAME_TYPE_CANCEL, sid)
    assert events.done and events.read() is None
    # A late STREAM_END for the cancelled stream is dropped quietly.
    fake.sock.sendall(frame(E.Envelope(stream_id=sid, type=E.FRAME_TYPE_STREAM_END,
                                       status=E.Status(code=E.CODE_CANCELLED))))


def test_breaking_out_of_a_for_loop_sends_cancel(fake: FakeServer) -> None:
    def consume_one() -> Optional[str]:
        for event in fake.client.watch_stores():
            return event.action
        return None

    thread, result = in_thread(consume_one)
    request = fake.read_frame()
    fake.sock.sendall(frame(E.Envelope(
        stream_id=request.stream_id, type=E.FRAME_TYPE_STREAM_MESSAGE,
        payload=store_pb2.StoreEvent(action="create").SerializeToString())))
    thread.join(5)
    assert result["value"] == "create"
    cancel = fake.read_frame()
    assert (cancel.type, cancel.stream_id) == (E.FRAME_TYPE_CANCEL, request.stream_id)


def test_close_from_another_thread_stops_iteration(fake: FakeServer) -> None:
    events = fake.client.watch_stores()
    sid = fake.read_frame().stream_id
    thread, result = in_thread(lambda: [e.action for e in events])
    time.sleep(0.05)  # let it block in the iteration
    events.close()
    thread.join(5)
    assert result["value"] == []
    cancel = fake.read_frame()
    assert (cancel.type, cancel.stream_id) == (E.FRAME_TYPE_CANCEL, sid)


def test_stream_dropped_under_the_send_lock_is_cancelled_later(fake: FakeServer) -> None:
    events = fake.client.watch_stores()
    sid = fake.read_frame().stream_id
    with fake.client._send_lock:  # as if a finalizer ran inside a send
        del events  # __del__ must not block here
    thread, _ = in_thread(fake.client.health)
    cancel = fake.read_frame()
    assert (cancel.type, cancel.stream_id) == (E.FRAME_TYPE_CANCEL, sid)
    request = fake.read_frame()
    assert request.method == Methods.HEALTH
    fake.sock.sendall(frame(E.Envelope(stream_id=request.stream_id, type=E.FRAME_TYPE_RESPONSE)))
    thread.join(5)


def test_stream_end_ok_stops_iteration_and_error_raises(fake: FakeServer) -> None:
    events = fake.client.watch_stores()
    sid = fake.read_frame().stream_id
    fake.sock.sendall(
        frame(E.Envelope(stream_id=sid, type=E.FRAME_TYPE_STREAM_MESSAGE,
                         payload=store_pb2.StoreEvent(action="a").SerializeToString()))
        + frame(E.Envelope(stream_id=sid, type=E.FRAME_TYPE_STREAM_END,
                           metadata={"request-id": "req-s"})))
    assert [e.action for e in events] == ["a"]
    assert events.metadata == {"request-id": "req-s"}

    refused = fake.client.watch_stores()
    sid = fake.read_frame().stream_id
    # A RESPONSE on a stream's id is its end too (e.g. an unknown method).
    fake.sock.sendall(frame(E.Envelope(
        stream_id=sid, type=E.FRAME_TYPE_RESPONSE,
        status=E.Status(code=E.CODE_RESOURCE_EXHAUSTED, error_code="RATE_LIMITED",
                        retry_after_ms=1500))))
    with pytest.raises(ResourceExhaustedError) as info:
        list(refused)
    assert info.value.error_code == "RATE_LIMITED"
    assert info.value.retry_after_ms == 1500
    assert info.value.retry_after == 1.5


def test_oversized_header_is_refused_before_the_body(fake: FakeServer) -> None:
    thread, result = in_thread(fake.client.health)
    fake.read_frame()
    # Only the header: a client that waited for the body would hang here.
    fake.sock.sendall(struct.pack(">I", fake.client.max_frame_bytes + 1))
    thread.join(5)
    assert not thread.is_alive()
    err = result["error"]
    assert isinstance(err, FrameTooLargeError)
    assert err.code == StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(UnavailableError):
        fake.client.health()


def test_connection_error_frame_fails_every_call(fake: FakeServer) -> None:
    events = fake.client.watch_stores()
    fake.read_frame()
    thread, result = in_thread(fake.client.health)
    fake.read_frame()
    fake.sock.sendall(frame(E.Envelope(
        stream_id=0, type=E.FRAME_TYPE_ERROR,
        status=E.Status(code=E.CODE_UNAVAILABLE, error_code="UNAVAILABLE",
                        message="shutting down"))))
    thread.join(5)
    assert isinstance(result["error"], UnavailableError)
    with pytest.raises(UnavailableError):
        events.read(timeout=5)
    with pytest.raises(UnavailableError):
        fake.client.health()


def test_peer_closing_fails_waiting_calls(fake: FakeServer) -> None:
    thread, result = in_thread(fake.client.health)
    fake.read_frame()
    fake.sock.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    assert isinstance(result["error"], UnavailableError)


def test_local_deadline_cancels(fake: FakeServer) -> None:
    start = time.monotonic()
    thread, result = in_thread(lambda: fake.client.health(timeout=0.05))
    request = fake.read_frame()
    assert request.timeout_ms == 50
    cancel = fake.read_frame()  # the fake never answers: the client gives up
    assert (cancel.type, cancel.stream_id) == (E.FRAME_TYPE_CANCEL, request.stream_id)
    thread.join(5)
    assert result["error"].error_code == "DEADLINE_EXCEEDED"
    assert time.monotonic() - start < 5


def test_token_and_metadata(fake: FakeServer) -> None:
    fake.client._token = "secret"
    thread, _ = in_thread(lambda: fake.client.create_store("shop", idempotency_key="k1"))
    request = fake.read_frame()
    assert request.metadata["authorization"] == "Bearer secret"
    assert request.metadata["idempotency-key"] == "k1"
    assert store_pb2.CreateStoreRequest.FromString(request.payload).name == "shop"
    fake.sock.sendall(frame(E.Envelope(
        stream_id=request.stream_id, type=E.FRAME_TYPE_RESPONSE,
        payload=store_pb2.CreateStoreResponse(store=store_pb2.Store(id="st_9")).SerializeToString())))
    thread.join(5)


def test_list_status_names(fake: FakeServer) -> None:
    thread, _ = in_thread(lambda: fake.client.list_stores(["READY", "store_status_failed", 6]))
    request = fake.read_frame()
    statuses = list(store_pb2.ListStoresRequest.FromString(request.payload).statuses)
    assert statuses == [3, 4, 6]
    fake.sock.sendall(frame(E.Envelope(stream_id=request.stream_id, type=E.FRAME_TYPE_RESPONSE)))
    thread.join(5)


@pytest.mark.parametrize(
    "env, uid, expected",
    [
        ({"STOREPLATFORM_SOCKET": "/x/d.sock", "XDG_RUNTIME_DIR": "/run/user/1"}, 0, "/x/d.sock"),
        ({"XDG_RUNTIME_DIR": "/run/user/1000"}, 0, "/run/storeplatform/storeplatformd.sock"),
        ({"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000,
         "/run/user/1000/storeplatform/storeplatformd.sock"),
        ({"STOREPLATFORM_SOCKET": "", "XDG_RUNTIME_DIR": ""}, 1000,
         "/tmp/storeplatform-1000/storeplatformd.sock"),
    ],
)
def test_default_socket_path(env, uid, expected) -> None:
    assert default_socket_path(env, uid) == expected


def test_errors_pickle_and_str() -> None:
    import pickle

    from storeplatform_client import QuotaExceededError, error_from_status

    err = error_from_status(E.Status(code=E.CODE_RESOURCE_EXHAUSTED, error_code="QUOTA_EXCEEDED",
                                     message="3 live stores"), "req-1", Methods.CREATE_STORE)
    assert type(err) is QuotaExceededError
    assert "QUOTA_EXCEEDED (RESOURCE_EXHAUSTED): 3 live stores" in str(err)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is QuotaExceededError and copy.request_id == "req-1"
    # A platform code with an unexpected gRPC code falls back to the gRPC class.
    odd = error_from_status(E.Status(code=E.CODE_NOT_FOUND, error_code="QUOTA_EXCEEDED"))
    assert type(odd) is NotFoundError

