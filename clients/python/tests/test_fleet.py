"""Fleet upgrades against a running storeplatformd.

The daemon's simulator fails the first upgrade of every store with the fault named
by STOREPLATFORM_TEST_UPGRADE_FAULT (conftest.py), and the daemon rolls it back by
itself; a store's later upgrades succeed. One fleet upgrade runs at a time and the
tests share the daemon: each selects its own stores by name, and every fleet
upgrade it starts has ended when it is done (``fleet_stores`` cancels one left
active).
"""

from __future__ import annotations

from typing import List, Tuple

import pytest

from storeplatform_client import (
    Client,
    FailedPreconditionError,
    FleetStoreOutcome,
    FleetUpgrade,
    FleetUpgradeInProgressError,
    FleetUpgradeState,
    InvalidArgumentError,
    InvalidStateTransitionError,
    NotFoundError,
    StatusCode,
    UnknownVersionError,
)

from conftest import CHANGE_TIMEOUT, READY, ready_store, versions_to_use

RUNNING = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_RUNNING")
PAUSED = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_PAUSED")
CANCELLING = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_CANCELLING")
COMPLETED = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_COMPLETED")
CANCELLED = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_CANCELLED")
STOPPED = FleetUpgradeState.Value("FLEET_UPGRADE_STATE_STOPPED")
ENDED = (COMPLETED, CANCELLED, STOPPED)

#: A fleet upgrade id no fleet upgrade has.
UNKNOWN_ID = "fu_0000000000000000"


def outcomes(fleet: FleetUpgrade) -> List[Tuple[str, str]]:
    """(name, outcome) of each selected store, in the fleet upgrade's order."""
    return [(s.name, FleetStoreOutcome.Name(s.outcome)[len("FLEET_STORE_OUTCOME_"):].lower())
            for s in fleet.stores]


def steps(fleet: FleetUpgrade) -> List[str]:
    """The actions of its log, oldest first."""
    return [step.action for step in fleet.steps]


def step_message(fleet: FleetUpgrade, action: str) -> str:
    return [step.message for step in fleet.steps if step.action == action][-1]


def state_of(client: Client, store_id: str) -> Tuple[int, str, int]:
    store = client.get_store(store_id)
    return store.status, store.version, store.revision


def test_fleet_upgrade_stops_after_a_failure_then_completes(
    client: Client, fleet_stores, upgrade_fault: str
) -> None:
    default, other = versions_to_use(client)
    # The second store is made last: the first is free of its create operation by
    # the time the fleet upgrade starts it, and the second starts only in wave 2.
    first = ready_store(client, fleet_stores, "fleet-a")
    second = ready_store(client, fleet_stores, "fleet-b")

    # Waves of one, no failure tolerated: the first store's upgrade meets the fault
    # and is rolled back, and the fleet upgrade stops after wave 1.
    fleet = client.upgrade_fleet(other, names=[first.name, second.name], wave_size=1)
    assert fleet.id.startswith("fu_") and fleet.state == RUNNING
    assert (fleet.version, fleet.wave_size, fleet.max_unavailable, fleet.failure_budget) == (other, 1, 1, 0)
    assert list(fleet.selector.names) == [first.name, second.name]
    assert outcomes(fleet) == [(first.name, "waiting"), (second.name, "waiting")]
    assert [(s.wave, s.from_version) for s in fleet.stores] == [(1, default), (2, default)]
    assert (fleet.wave_count, fleet.waiting) == (2, 2)

    with client.watch_fleet_upgrade(fleet.id, timeout=CHANGE_TIMEOUT) as updates:
        seen = list(updates)  # the stream ends by itself once the fleet upgrade has
    assert seen and {f.id for f in seen} == {fleet.id}
    assert [f.state in ENDED for f in seen] == [False] * (len(seen) - 1) + [True]
    stopped = seen[-1]
    assert stopped.state == STOPPED and stopped.ended_ms > 0, steps(stopped)
    assert outcomes(stopped) == [(first.name, "rolled_back"), (second.name, "waiting")]
    assert f"simulated fault {upgrade_fault}" in stopped.stores[0].message, stopped.stores[0].message
    assert stopped.stores[1].message == ""
    counts = (stopped.upgraded, stopped.rolled_back, stopped.failed, stopped.skipped, stopped.waiting, stopped.upgrading)
    assert counts == (0, 1, 0, 0, 1, 0)
    assert stopped.current_wave == 1
    assert steps(stopped) == ["start", "wave", "stop", "end"]
    assert first.name in step_message(stopped, "stop") and second.name not in step_message(stopped, "stop")
    assert step_message(stopped, "end") == "stopped: 0 upgraded, 1 rolled back, 0 failed, 0 skipped, 1 not started"
    assert state_of(client, first.id) == (READY, default, 3)
    assert state_of(client, second.id) == (READY, default, 1)

    # Read back: by id, as the latest, first in the list (without stores and steps).
    assert client.get_fleet_upgrade(fleet.id) == stopped
    assert client.get_fleet_upgrade().id == fleet.id
    latest = client.list_fleet_upgrades(limit=1).fleet_upgrades
    assert [(f.id, f.state, f.rolled_back, len(f.stores), len(f.steps)) for f in latest] == [(fleet.id, STOPPED, 1, 0, 0)]

    # The second store's first upgrade, on its own, meets the fault too; then a fleet
    # upgrade of both completes with both upgraded.
    client.upgrade_store(second.id, other)
    after = client.wait_for_upgrade(second.id, timeout=CHANGE_TIMEOUT)
    assert (after.status, after.version, after.revision) == (READY, default, 3), after.error_message
    fleet = client.upgrade_fleet(other, names=[first.name, second.name], wave_size=1)
    completed = client.wait_for_fleet_upgrade(fleet.id, timeout=CHANGE_TIMEOUT)
    assert completed.id == fleet.id and completed.state == COMPLETED, steps(completed)
    assert outcomes(completed) == [(first.name, "upgraded"), (second.name, "upgraded")]
    assert [s.revision for s in completed.stores] == [4, 4]
    assert (completed.upgraded, completed.current_wave) == (2, 2)
    assert step_message(completed, "end") == "completed: 2 upgraded, 0 rolled back, 0 failed, 0 skipped, 0 not started"
    assert state_of(client, first.id) == (READY, other, 4)
    assert state_of(client, second.id) == (READY, other, 4)
    # One that has ended is returned at once.
    assert client.wait_for_fleet_upgrade(fleet.id, timeout=CHANGE_TIMEOUT) == completed


def test_fleet_upgrade_pause_resume_cancel(client: Client, fleet_stores) -> None:
    default, other = versions_to_use(client)
    first = ready_store(client, fleet_stores, "fleet-p")
    second = ready_store(client, fleet_stores, "fleet-q")

    # Paused at once: its first wave may have started, the second waits. A failure
    # (the fault of the first store's first upgrade) is tolerated, so it stays paused.
    fleet = client.upgrade_fleet(other, names=[first.name, second.name], wave_size=1, failure_budget=2)
    paused = client.pause_fleet_upgrade(fleet.id)
    assert (paused.id, paused.state) == (fleet.id, PAUSED)
    assert outcomes(paused)[1] == (second.name, "waiting")
    assert paused.steps[-1].action == "pause" and paused.steps[-1].actor

    # One at a time: another is refused while this one is active, paused or not.
    with pytest.raises(FleetUpgradeInProgressError) as info:
        client.upgrade_fleet(other, names=[second.name])
    assert (info.value.error_code, info.value.code) == ("FLEET_UPGRADE_IN_PROGRESS", StatusCode.FAILED_PRECONDITION)
    assert isinstance(info.value, FailedPreconditionError)
    assert fleet.id in info.value.message and "paused" in info.value.message, info.value.message
    active = client.get_fleet_upgrade()
    assert (active.id, active.state) == (fleet.id, PAUSED)

    with pytest.raises(InvalidStateTransitionError) as info:
        client.pause_fleet_upgrade()
    assert (info.value.error_code, info.value.code) == ("INVALID_STATE_TRANSITION", StatusCode.FAILED_PRECONDITION)
    resumed = client.resume_fleet_upgrade(fleet.id)
    assert resumed.state == RUNNING, steps(resumed)
    with pytest.raises(InvalidStateTransitionError):
        client.resume_fleet_upgrade()

    cancelling = client.cancel_fleet_upgrade()
    assert cancelling.id == fleet.id and cancelling.state in (CANCELLING, CANCELLED)
    cancelled = client.wait_for_fleet_upgrade(fleet.id, timeout=CHANGE_TIMEOUT)
    assert cancelled.state == CANCELLED and cancelled.ended_ms > 0 and cancelled.upgrading == 0
    actions = [a for a in steps(cancelled) if a in ("pause", "resume", "cancel")]
    assert actions == ["pause", "resume", "cancel"], steps(cancelled)
    assert step_message(cancelled, "end").startswith("cancelled: ")

    # Ended: nothing more to change, and none is active.
    with pytest.raises(InvalidStateTransitionError) as info:
        client.cancel_fleet_upgrade(fleet.id)
    assert "cancelled" in info.value.message
    with pytest.raises(NotFoundError) as info:
        client.pause_fleet_upgrade()
    assert (info.value.error_code, info.value.code) == ("NOT_FOUND", StatusCode.NOT_FOUND)
    # The stores not started keep their version; those started end on one or the other.
    for store in (first, second):
        after = client.wait_for_upgrade(store.id, timeout=CHANGE_TIMEOUT)
        assert (after.status, after.version in (default, other)) == (READY, True), after.error_message


def test_fleet_upgrade_refusals(client: Client, fleet_stores) -> None:
    default, other = versions_to_use(client)
    store = ready_store(client, fleet_stores, "fleet-r")

    with pytest.raises(UnknownVersionError):
        client.upgrade_fleet("9.9-wc99.9", names=[store.name])
    with pytest.raises(NotFoundError) as info:
        client.upgrade_fleet(other, names=["no-store-is-named-this"])
    assert "no-store-is-named-this" in info.value.message
    with pytest.raises(InvalidArgumentError) as info:
        client.upgrade_fleet(other, names=[store.name], wave_size=1, max_unavailable=2)
    assert info.value.error_code == "INVALID_ARGUMENT"
    with pytest.raises(InvalidArgumentError):
        client.upgrade_fleet(other, names=[store.name], statuses=["READY"])
    with pytest.raises(InvalidArgumentError):
        client.upgrade_fleet("", names=[store.name])

    for call in (client.get_fleet_upgrade, client.pause_fleet_upgrade, client.resume_fleet_upgrade,
                 client.cancel_fleet_upgrade, client.wait_for_fleet_upgrade):
        with pytest.raises(NotFoundError) as info:
            call(UNKNOWN_ID)
        assert (info.value.error_code, info.value.code) == ("NOT_FOUND", StatusCode.NOT_FOUND)
        assert UNKNOWN_ID in info.value.message
    with pytest.raises(NotFoundError):
        list(client.watch_fleet_upgrade(UNKNOWN_ID, timeout=CHANGE_TIMEOUT))
    # None of them changed the store.
    assert state_of(client, store.id) == (READY, default, 1)
