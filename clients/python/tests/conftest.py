"""Fixtures for the client tests.

The daemon tests need a running storeplatformd, named by environment variables:

    STOREPLATFORM_TEST_SOCKET   its Unix socket
    STOREPLATFORM_TEST_TCP      its TCP listener, host:port
    STOREPLATFORM_TEST_TOKEN    a token of its --token-file
    STOREPLATFORM_TEST_UPGRADE_FAULT
                                the fault its simulator injects into the first
                                upgrade of every store (--sim-fault upgrade-error
                                or migration-error), for the upgrade and fleet
                                upgrade tests

It must run with --max-live-stores 3, fast simulator flags and generous rate
limits (see clients/python/README.md). Without the variables those tests fail
with a message saying so; the tests that need no daemon run regardless.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
import time
from typing import Iterator, List, Tuple

import pytest

# Test the working tree, whether or not the package is pip-installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from storeplatform_client import (  # noqa: E402
    Client,
    NotFoundError,
    OperationInProgressError,
    InvalidStateTransitionError,
    StoreStatus,
    store_pb2,
)

_ENV_HELP = (
    "the daemon tests need a running storeplatformd: set STOREPLATFORM_TEST_SOCKET "
    "(its Unix socket), STOREPLATFORM_TEST_TCP (its TCP listener, host:port) and "
    "STOREPLATFORM_TEST_TOKEN (a token of its --token-file) and STOREPLATFORM_TEST_UPGRADE_FAULT "
    "(its --sim-fault for upgrades); start it with --max-live-stores 3, fast simulator flags and "
    "--sim-fault migration-error (clients/python/README.md)"
)

READY = StoreStatus.Value("STORE_STATUS_READY")
FAILED = StoreStatus.Value("STORE_STATUS_FAILED")
DELETING = StoreStatus.Value("STORE_STATUS_DELETING")
DELETED = StoreStatus.Value("STORE_STATUS_DELETED")
UPGRADING = StoreStatus.Value("STORE_STATUS_UPGRADING")

#: Seconds a store may take to become ready or deleted with the fast simulator.
SETTLE_TIMEOUT = 30.0
#: Default deadline of unary calls in the tests.
CALL_TIMEOUT = 10.0
#: A bound on one upgrade or rollback (a failed one is two changes) on a loaded machine.
CHANGE_TIMEOUT = 120.0

def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set: {_ENV_HELP}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def socket_path() -> str:
    return _env("STOREPLATFORM_TEST_SOCKET")


@pytest.fixture(scope="session")
def tcp_address() -> Tuple[str, int]:
    value = _env("STOREPLATFORM_TEST_TCP")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        pytest.fail(f"STOREPLATFORM_TEST_TCP={value!r} is not host:port", pytrace=False)
    return host.strip("[]"), int(port)


@pytest.fixture(scope="session")
def token() -> str:
    return _env("STOREPLATFORM_TEST_TOKEN")


#: The faults the upgrade tests know: each fails an upgrade in a way the daemon
#: undoes with an automatic rollback, and its revision's message names it.
UPGRADE_FAULTS = ("upgrade-error", "migration-error")


@pytest.fixture(scope="session")
def upgrade_fault() -> str:
    value = _env("STOREPLATFORM_TEST_UPGRADE_FAULT")
    if value not in UPGRADE_FAULTS:
        pytest.fail(f"STOREPLATFORM_TEST_UPGRADE_FAULT={value!r} is not one of {', '.join(UPGRADE_FAULTS)} "
                    "(the daemon's --sim-fault for the first upgrade of every store)", pytrace=False)
    return value


@pytest.fixture
def unix_client(socket_path: str) -> Iterator[Client]:
    with Client.unix(socket_path, timeout=CALL_TIMEOUT) as client:
        yield client


@pytest.fixture
def tcp_client(tcp_address: Tuple[str, int], token: str) -> Iterator[Client]:
    with Client.tcp(*tcp_address, token=token, timeout=CALL_TIMEOUT) as client:
        yield client


@pytest.fixture(params=["unix", "tcp"])
def client(request: pytest.FixtureRequest) -> Client:
    """A client over each transport in turn (TCP with the token)."""
    return request.getfixturevalue(f"{request.param}_client")


_names = itertools.count(1)
_nonce = secrets.token_hex(2)


def unique_name(tag: str = "") -> str:
    """A store name unique to this run: DNS-1123, at most 40 characters."""
    name = f"py{os.getpid()}-{_nonce}-{next(_names)}"
    if tag:
        name += "-" + tag
    return name[:40].rstrip("-")


class Stores:
    """Stores a test created; all of them are deleted (and followed to DELETED)
    at teardown, so the daemon's 3 live stores stay available to other tests."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ids: List[str] = []

    def add(self, store_id: str) -> str:
        if store_id not in self.ids:
            self.ids.append(store_id)
        return store_id

    def delete_all(self) -> None:
        errors = []
        for store_id in self.ids:
            try:
                delete_and_wait(self.client, store_id)
            except Exception as exc:  # report every leftover, not just the first
                errors.append(f"{store_id}: {exc!r}")
        if errors:
            raise AssertionError("could not delete test stores: " + "; ".join(errors))


def delete_and_wait(client: Client, store_id: str) -> None:
    """Delete a store whatever its state (waiting out provisioning) and follow it to DELETED."""
    for _ in range(20):
        try:
            store = client.wait_for_store(
                store_id, (READY, FAILED, DELETING, DELETED), timeout=SETTLE_TIMEOUT)
        except NotFoundError:
            return
        if store.status in (READY, FAILED):
            try:
                client.delete_store(store_id)
            except (OperationInProgressError, InvalidStateTransitionError):
                continue  # raced with another operation on it; look again
        client.wait_for_store(store_id, (DELETED,), timeout=SETTLE_TIMEOUT)
        return
    raise AssertionError(f"store {store_id} could not be deleted")


@pytest.fixture
def stores(socket_path: str) -> Iterator[Stores]:
    with Client.unix(socket_path, timeout=CALL_TIMEOUT) as cleanup_client:
        tracker = Stores(cleanup_client)
        try:
            yield tracker
        finally:
            tracker.delete_all()


@pytest.fixture
def fleet_stores(stores: Stores, socket_path: str) -> Iterator[Stores]:
    """``stores``, and at teardown, before they are deleted: a fleet upgrade the test
    left active is cancelled and followed to its end (one runs at a time, and the
    tests share the daemon)."""
    yield stores
    with Client.unix(socket_path, timeout=CALL_TIMEOUT) as cleanup_client:
        try:
            cleanup_client.cancel_fleet_upgrade()
        except NotFoundError:
            return  # none is active
        except InvalidStateTransitionError:
            pass  # cancelling already
        cleanup_client.wait_for_fleet_upgrade(timeout=CHANGE_TIMEOUT)

def versions_to_use(client: Client) -> Tuple[str, str]:
    """The default woocommerce version (what new stores run) and another one."""
    versions = [v for v in client.list_engine_versions().versions if v.engine == "woocommerce"]
    default = [v.name for v in versions if v.is_default]
    others = [v.name for v in versions if not v.is_default]
    assert len(default) == 1 and others, f"versions: {[(v.name, v.is_default) for v in versions]}"
    return default[0], others[0]


def ready_store(client: Client, stores: Stores, tag: str) -> store_pb2.Store:
    """A new store (deleted at teardown), once it is ready."""
    store = client.create_store(unique_name(tag))
    stores.add(store.id)
    store = client.wait_for_store(store.id, ("READY", "FAILED"), timeout=SETTLE_TIMEOUT)
    assert store.status == READY, store.error_message
    return store
