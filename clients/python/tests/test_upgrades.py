"""Engine versions, revisions, upgrades and rollbacks against a running storeplatformd.

The daemon's simulator fails the first upgrade of every store with the fault named
by STOREPLATFORM_TEST_UPGRADE_FAULT (conftest.py); the daemon rolls it back by
itself, and a second upgrade of the store succeeds.
"""

from __future__ import annotations

from typing import List, Tuple

import pytest

from storeplatform_client import (
    AlreadyOnVersionError,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    RevisionStatus,
    StatusCode,
    UnknownRevisionError,
    UnknownVersionError,
)

from conftest import (
    CHANGE_TIMEOUT,
    READY,
    UPGRADING,
    delete_and_wait,
    ready_store,
    versions_to_use,
)


def history(client: Client, store_id: str) -> List[Tuple[int, str, str]]:
    """(revision, version, status) of each revision, newest first."""
    return [(r.revision, r.version, RevisionStatus.Name(r.status)[len("REVISION_STATUS_"):].lower())
            for r in client.list_store_revisions(store_id).revisions]


def test_list_engine_versions(client: Client) -> None:
    versions = client.list_engine_versions().versions
    assert len(versions) >= 2
    assert len({(v.engine, v.name) for v in versions}) == len(versions)
    defaults = [v for v in versions if v.is_default]
    assert len(defaults) == 1
    default = defaults[0]
    assert default.engine == "woocommerce"
    assert default.wordpress_image.startswith("wordpress:")
    assert default.woocommerce_version and default.chart_version


def test_upgrade_a_seeded_fault_then_upgrade_and_roll_back(
    client: Client, stores, upgrade_fault: str
) -> None:
    default, other = versions_to_use(client)
    store = ready_store(client, stores, "upg")
    assert (store.version, store.revision) == (default, 1)
    assert history(client, store.id) == [(1, default, "deployed")]

    # The first upgrade meets the seeded fault: the daemon rolls it back by itself,
    # and the store is ready on its old version as a new revision.
    upgrading = client.upgrade_store(store.id, other)
    assert (upgrading.status, upgrading.version, upgrading.revision) == (UPGRADING, other, 2)
    after = client.wait_for_upgrade(store.id, timeout=CHANGE_TIMEOUT)
    assert (after.status, after.version, after.revision) == (READY, default, 3), after.error_message
    assert history(client, store.id) == [
        (3, default, "deployed"), (2, other, "rolled_back"), (1, default, "superseded")]
    failed = client.list_store_revisions(store.id).revisions[1]
    assert f"simulated fault {upgrade_fault}" in failed.message, failed.message

    # The second upgrade, by name, succeeds: a new revision with the new version.
    upgrading = client.upgrade_store(version=other, name=store.name)
    assert (upgrading.id, upgrading.status, upgrading.version) == (store.id, UPGRADING, other)
    after = client.wait_for_upgrade(store.id, timeout=CHANGE_TIMEOUT)
    assert (after.status, after.version, after.revision) == (READY, other, 4), after.error_message
    assert history(client, store.id)[:2] == [(4, other, "deployed"), (3, default, "superseded")]
    assert [(r.revision, r.version) for r in client.list_store_revisions(name=store.name).revisions] == [
        (4, other), (3, default), (2, other), (1, default)]

    # Back to revision 1, as a new revision with its version.
    rolling = client.rollback_store(store.id, 1)
    assert (rolling.status, rolling.version, rolling.revision) == (UPGRADING, default, 5)
    after = client.wait_for_upgrade(store.id, timeout=CHANGE_TIMEOUT)
    assert (after.status, after.version, after.revision) == (READY, default, 5), after.error_message
    assert history(client, store.id)[:2] == [(5, default, "deployed"), (4, other, "superseded")]
    actions = [e.action for e in client.iter_audit(store_id=store.id)]
    assert actions[:6] == ["upgraded", "rollback", "upgraded", "upgrade", "rolled-back", "upgrade"], actions

    # A store that is not upgrading is returned at once.
    assert client.wait_for_upgrade(store.id, timeout=CHANGE_TIMEOUT).revision == 5
    delete_and_wait(client, store.id)


def test_upgrade_and_rollback_errors(client: Client, stores) -> None:
    default, other = versions_to_use(client)
    store = ready_store(client, stores, "upgerr")

    with pytest.raises(UnknownVersionError) as info:
        client.upgrade_store(store.id, "9.9-wc99.9")
    assert (info.value.error_code, info.value.code) == ("UNKNOWN_VERSION", StatusCode.INVALID_ARGUMENT)
    assert isinstance(info.value, InvalidArgumentError)
    assert default in info.value.message and other in info.value.message  # the versions there are

    with pytest.raises(AlreadyOnVersionError) as info:
        client.upgrade_store(name=store.name, version=default)
    assert (info.value.error_code, info.value.code) == ("ALREADY_ON_VERSION", StatusCode.FAILED_PRECONDITION)
    assert isinstance(info.value, FailedPreconditionError)

    for revision in (99, 1):  # one it does not have, and the one it runs
        with pytest.raises(UnknownRevisionError) as info:
            client.rollback_store(store.id, revision)
        assert (info.value.error_code, info.value.code) == ("UNKNOWN_REVISION", StatusCode.INVALID_ARGUMENT)

    # None of them changed the store.
    after = client.get_store(store.id)
    assert (after.status, after.version, after.revision) == (READY, default, 1)
    assert history(client, store.id) == [(1, default, "deployed")]
    delete_and_wait(client, store.id)


def test_upgrades_of_a_store_that_does_not_exist(client: Client) -> None:
    default, other = versions_to_use(client)
    for by in ({"id": "st_doesnotexist"}, {"name": "no-such-store"}):
        for call in (
            lambda: client.upgrade_store(version=other, **by),
            lambda: client.rollback_store(revision=1, **by),
            lambda: client.list_store_revisions(**by),
        ):
            with pytest.raises(NotFoundError) as info:
                call()
            assert (info.value.error_code, info.value.code) == ("NOT_FOUND", StatusCode.NOT_FOUND)
    for call in (client.upgrade_store, client.rollback_store, client.list_store_revisions):
        with pytest.raises(ValueError):
            call("st_doesnotexist", name="no-such-store")
        with pytest.raises(ValueError):
            call()
