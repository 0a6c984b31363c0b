"""The client against a running storeplatformd (see conftest.py for the variables)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from storeplatform_client import (
    Client,
    DeadlineExceededError,
    FrameTooLargeError,
    InvalidArgumentError,
    InvalidStateTransitionError,
    InvalidStoreNameError,
    Methods,
    NotFoundError,
    QuotaExceededError,
    ResourceExhaustedError,
    StatusCode,
    StoreNameTakenError,
    StorePlatformError,
    StoreStatus,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    envelope_pb2,
    platform_pb2,
    store_pb2,
)

from conftest import (
    DELETED,
    DELETING,
    READY,
    SETTLE_TIMEOUT,
    delete_and_wait,
    unique_name,
)

QUEUED = StoreStatus.Value("STORE_STATUS_QUEUED")


def follow(events, until_status, deadline_s=SETTLE_TIMEOUT):
    """Read events until one shows the store in ``until_status``; returns all read."""
    seen = []
    end = time.monotonic() + deadline_s
    while True:
        remaining = end - time.monotonic()
        assert remaining > 0, f"no {StoreStatus.Name(until_status)} event; saw {describe(seen)}"
        event = events.read(timeout=remaining)
        assert event is not None, f"the watch ended early; saw {describe(seen)}"
        seen.append(event)
        if event.to_status == until_status:
            return seen


def describe(events):
    return [(e.action, StoreStatus.Name(e.to_status)) for e in events]


# --------------------------------------------------------------------- health


def test_health(client: Client) -> None:
    health = client.health()
    assert health.status == "SERVING"
    assert health.version
    assert health.cluster_driver == "simulated"
    assert health.cluster_simulated


def test_generic_call_and_unknown_method(client: Client) -> None:
    health = client.call(Methods.HEALTH, platform_pb2.HealthRequest(),
                         platform_pb2.HealthResponse, timeout=5,
                         metadata={"Request-ID": "py-test-generic"})
    assert health.status == "SERVING"
    with pytest.raises(UnimplementedError) as info:
        client.call("/storeplatform.v1.PlatformService/NoSuchMethod",
                    platform_pb2.HealthRequest(), platform_pb2.HealthResponse)
    assert info.value.error_code == "UNIMPLEMENTED"
    assert info.value.code == StatusCode.UNIMPLEMENTED
    assert client.health().status == "SERVING"  # the connection stays up


def test_request_id_is_echoed(unix_client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        unix_client.call(Methods.GET_STORE,
                         store_pb2.GetStoreRequest(id="st_none"), store_pb2.GetStoreResponse,
                         metadata={"request-id": "py-echo-1"})
    assert info.value.request_id == "py-echo-1"


# ------------------------------------------------------------------ lifecycle


def test_store_lifecycle(client: Client, stores) -> None:
    name = unique_name("life")
    store = client.create_store(name)
    stores.add(store.id)
    assert store.id
    assert store.name == name
    assert store.engine == "woocommerce"
    assert store.status == QUEUED

    got = client.get_store(store.id)
    assert (got.id, got.name) == (store.id, name)
    by_name = client.get_store(name=name)  # the same store; its status may have moved on
    assert (by_name.id, by_name.name) == (store.id, name)

    assert store.id in {s.id for s in client.list_stores().stores}
    # The server filters by part of the name, on every page.
    assert [s.id for s in client.list_stores(name_contains=name).stores] == [store.id]
    assert [s.id for s in client.iter_stores(page_size=1, name_contains=name[2:])] == [store.id]
    ids = []
    for s in client.iter_stores(page_size=2):  # follows next_page_token
        ids.append(s.id)
        if s.id == store.id:
            break
    assert store.id in ids and len(ids) == len(set(ids))

    # A single-store watch starts with its present state, then follows it.
    with client.watch_stores(store.id, timeout=60) as events:
        first = events.read(timeout=SETTLE_TIMEOUT)
        assert first is not None
        assert first.action == "current"
        assert first.store.id == store.id
        assert first.from_status == first.to_status == first.store.status
        assert first.audit_id == 0
        if first.to_status != READY:
            seen = follow(events, READY)
            assert seen[-1].action == "ready"
        ready = client.get_store(store.id)
        assert ready.status == READY
        assert ready.url

        # Retry applies to failed stores only.
        with pytest.raises(InvalidStateTransitionError) as info:
            client.retry_store(store.id)
        assert info.value.error_code == "INVALID_STATE_TRANSITION"
        assert info.value.code == StatusCode.FAILED_PRECONDITION
        assert info.value.request_id

        deleting = client.delete_store(store.id)
        assert deleting.status == DELETING
        seen = follow(events, DELETED)
        assert seen[-1].store.deleted_at_ms > 0
    assert events.done

    assert client.get_store(store.id).status == DELETED
    actions = {e.action for e in client.iter_audit(store_id=store.id)}
    assert {"create", "ready", "delete"} <= actions

    metrics = client.get_metrics()
    assert {StoreStatus.Name(c.status) for c in metrics.stores_by_status} >= {
        "STORE_STATUS_READY", "STORE_STATUS_DELETED"}


def test_unary_calls_interleaved_with_watch(client: Client, stores) -> None:
    with client.watch_stores() as events:  # every store
        assert client.health().status == "SERVING"
        store = client.create_store(unique_name("mux"))
        stores.add(store.id)
        end = time.monotonic() + SETTLE_TIMEOUT
        ready = False
        while not ready:
            event = events.read(timeout=max(0.01, end - time.monotonic()))
            assert event is not None
            # A unary call between every two messages of the stream.
            if event.store.id == store.id:
                assert client.get_store(store.id).id == store.id
                ready = event.to_status == READY
            else:
                assert client.health().status == "SERVING"
    assert events.done
    # After the CANCEL the connection carries calls as before.
    assert client.get_store(store.id).status == READY
    delete_and_wait(client, store.id)


def test_watch_resumes_after_an_audit_id(client: Client, stores) -> None:
    """A watch resumed with after_audit_id replays the store's transitions after it."""
    store = client.create_store(unique_name("resume"))
    stores.add(store.id)
    client.wait_for_store(store.id, ("READY",), timeout=SETTLE_TIMEOUT)
    with client.watch_stores(store.id) as events:
        current = events.read(timeout=SETTLE_TIMEOUT)
        assert current is not None and current.action == "current"
    created = min(event.id for event in client.list_audit(store_id=store.id).events)
    with client.watch_stores(store.id, after_audit_id=created) as events:
        replayed = [events.read(timeout=SETTLE_TIMEOUT) for _ in range(2)]
    assert [event.action for event in replayed] == ["provision", "ready"]
    assert replayed[0].audit_id > created
    assert [event.to_status for event in replayed][-1] == READY
    assert all(event.store.id == store.id for event in replayed)
    delete_and_wait(client, store.id)


def test_idempotent_create(client: Client, stores) -> None:
    name = unique_name("idem")
    key = f"py-test-{uuid.uuid4()}"
    first = client.create_store(name, idempotency_key=key)
    stores.add(first.id)
    again = client.create_store(name, idempotency_key=key)
    assert again.id == first.id
    with pytest.raises(StoreNameTakenError) as info:
        client.create_store(name, idempotency_key=f"py-test-{uuid.uuid4()}")
    assert info.value.error_code == "STORE_NAME_TAKEN"


# --------------------------------------------------------------------- errors


def test_bad_store_name(client: Client) -> None:
    with pytest.raises(InvalidStoreNameError) as info:
        client.create_store("Bad_Name")
    err = info.value
    assert err.error_code == "INVALID_STORE_NAME"
    assert err.code == StatusCode.INVALID_ARGUMENT
    assert isinstance(err, InvalidArgumentError)
    assert err.message


def test_unknown_store_id(client: Client) -> None:
    missing = "st_doesnotexist"
    for call in (client.get_store, client.delete_store, client.retry_store):
        with pytest.raises(NotFoundError) as info:
            call(missing)
        assert info.value.error_code == "NOT_FOUND"
        assert info.value.code == StatusCode.NOT_FOUND
    with client.watch_stores(missing) as events:
        with pytest.raises(NotFoundError) as info:
            events.read(timeout=SETTLE_TIMEOUT)
        assert info.value.error_code == "NOT_FOUND"
    with pytest.raises(NotFoundError) as info:
        client.get_store(name="no-such-store")
    assert info.value.message == 'no live store is named "no-such-store"; a deleted store is found by its id only'
    with pytest.raises(ValueError):
        client.get_store(missing, name="no-such-store")


def test_quota_exceeded(unix_client: Client, stores) -> None:
    created = []
    with pytest.raises(QuotaExceededError) as info:
        for i in range(4):  # max 3 live stores, fewer when other stores are live
            created.append(stores.add(unix_client.create_store(unique_name(f"quota{i}")).id))
    assert len(created) <= 3
    err = info.value
    assert err.error_code == "QUOTA_EXCEEDED"
    assert err.code == StatusCode.RESOURCE_EXHAUSTED
    assert isinstance(err, ResourceExhaustedError)


def test_tcp_without_token(tcp_address) -> None:
    with Client.tcp(*tcp_address, timeout=5) as anonymous:
        for _ in range(2):  # refused call by call; the connection stays up
            with pytest.raises(UnauthenticatedError) as info:
                anonymous.health()
            assert info.value.error_code == "UNAUTHENTICATED"
            assert info.value.code == StatusCode.UNAUTHENTICATED
    with Client.tcp(*tcp_address, token="not-a-token", timeout=5) as wrong:
        with pytest.raises(UnauthenticatedError):
            wrong.health()
        with wrong.watch_stores() as events:
            with pytest.raises(UnauthenticatedError):
                events.read(timeout=5)


def test_stream_deadline(client: Client, stores) -> None:
    store = client.create_store(unique_name("deadline"))
    stores.add(store.id)
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        with client.watch_stores(store.id, timeout=0.5) as events:
            for _ in events:
                pass
    assert info.value.error_code == "DEADLINE_EXCEEDED"
    assert time.monotonic() - start < 5
    assert client.health().status == "SERVING"


def test_oversized_request_is_refused_locally(unix_client: Client) -> None:
    with pytest.raises(FrameTooLargeError) as info:
        unix_client.create_store("x" * (unix_client.max_frame_bytes + 1))
    assert info.value.error_code == "FRAME_TOO_LARGE"
    assert unix_client.health().status == "SERVING"  # nothing was sent


def test_oversized_response_is_refused(socket_path: str) -> None:
    # A limit the Health request fits in but its answer (HealthResponse plus the
    # echoed request-id) does not.
    request = envelope_pb2.Envelope(stream_id=1, type=envelope_pb2.FRAME_TYPE_REQUEST,
                                    method=Methods.HEALTH, timeout_ms=5000)
    with Client.unix(socket_path, timeout=5,
                     max_frame_bytes=request.ByteSize() + 4) as small:
        with pytest.raises(FrameTooLargeError) as info:
            small.health()
        assert info.value.error_code == "FRAME_TOO_LARGE"
        assert small.closed
        with pytest.raises(UnavailableError):
            small.health()


def test_connection_errors_are_unavailable(tmp_path) -> None:
    missing = str(tmp_path / "no-daemon.sock")
    with pytest.raises(UnavailableError) as info:
        Client.unix(missing)
    assert info.value.code == StatusCode.UNAVAILABLE
    assert isinstance(info.value, StorePlatformError)
    # Which socket, what is there, and how to point the client at the daemon.
    assert info.value.message.startswith(
        f"cannot reach storeplatformd: there is no socket at {missing}. Is storeplatformd running?"), info.value.message
    assert "STOREPLATFORM_SOCKET=PATH" in info.value.message

    # A file that is not a socket, and a socket nobody listens on, are told apart.
    plain = tmp_path / "plain-file"
    plain.write_text("")
    with pytest.raises(UnavailableError) as info:
        Client.unix(str(plain))
    assert f"{plain} exists but is not a socket" in info.value.message
    stale = str(tmp_path / "stale.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(stale)
    listener.close()
    with pytest.raises(UnavailableError) as info:
        Client.unix(stale)
    assert f"nothing is listening on the socket {stale}" in info.value.message


def test_closed_client_is_unavailable(socket_path: str) -> None:
    client = Client.unix(socket_path, timeout=5)
    events = client.watch_stores()
    client.close()
    with pytest.raises(UnavailableError):
        events.read(timeout=5)
    with pytest.raises(UnavailableError):
        client.health()
