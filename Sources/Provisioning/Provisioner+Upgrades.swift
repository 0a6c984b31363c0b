import Foundation
import StoreCore
import StoreDatabase

/// Upgrades and rollbacks (docs/ARCHITECTURE.md, "Upgrades and rollbacks"): a ready
/// store moves to another revision of its release under its operation lock and
/// lease, as one audited transition per status change, and ends ready on the new
/// revision, or, when that failed, back on the revision before (rolled back by
/// itself), or failed when even that rollback failed. The steps read the release's
/// history before each act, so an operation interrupted anywhere resumes from the
/// top (``resumeChange(_:)``, the reconciler's).
extension Provisioner {
    /// Starts upgrading a ready store to the engine version named `versionName`.
    ///
    /// - Throws: ``PlatformError``: NOT_FOUND; INVALID_ARGUMENT (no version);
    ///   UNKNOWN_VERSION; INVALID_STATE_TRANSITION (not ready: failed, deleted, …);
    ///   ALREADY_ON_VERSION; OPERATION_IN_PROGRESS; UNAVAILABLE once shutdown began.
    /// - Parameter context: what the upgrade is part of (a fleet upgrade and its
    ///   wave), put before its audit message and its revision's.
    public func upgrade(
        storeID: String, to versionName: String, actor: String, requestID: String?, context: String? = nil
    ) async throws -> Store {
        try checkAccepting()
        let store = try await existingStore(storeID)
        await awaitFinishingOperation(store)
        guard !versionName.allSatisfy(\.isWhitespace) else {
            throw PlatformError(.invalidArgument, "version is required: one of the engine versions storectl versions lists")
        }
        try Self.checkChangeable(store)
        let target = try engine(of: store).version(named: versionName)
        guard store.version != target.name else {
            throw PlatformError(
                .alreadyOnVersion,
                "store \(store.name.quotedForMessage) already runs version \(target.name) (revision \(store.revision)); nothing to upgrade"
            )
        }
        let next = try await nextRevision(of: store)
        let prefix = context.map { "\($0): " } ?? ""
        let pending = StoreRevision(
            storeID: store.id, revision: next, version: target.name, status: .pending, actor: actor, time: Date(),
            message: prefix + "upgrade from \(store.version)"
        )
        return try await beginChange(
            store, to: pending, kind: .upgrade, action: .upgrade, requestID: requestID,
            message: prefix + "upgrade from \(store.version) (revision \(store.revision)) to \(target.name) (revision \(pending.revision))"
        )
    }

    /// Starts rolling a ready store back to its earlier `revision`, as a new revision
    /// with that revision's version (Helm's way).
    ///
    /// - Throws: ``PlatformError``: NOT_FOUND; UNKNOWN_REVISION (no such revision of
    ///   the store, or the one it runs); INVALID_STATE_TRANSITION;
    ///   OPERATION_IN_PROGRESS; UNAVAILABLE once shutdown began.
    public func rollback(storeID: String, to revision: Int, actor: String, requestID: String?) async throws -> Store {
        try checkAccepting()
        let store = try await existingStore(storeID)
        await awaitFinishingOperation(store)
        try Self.checkChangeable(store)
        let history = try await database.storeRevisions(storeID: store.id)
        guard revision != store.revision else {
            throw PlatformError(
                .unknownRevision, "store \(store.name.quotedForMessage) runs revision \(revision) already; roll back to an earlier one"
            )
        }
        // Only a revision that ran (deployed, then superseded) is one to go back to.
        let ran = history.filter { $0.revision < store.revision && !$0.version.isEmpty && [.deployed, .superseded].contains($0.status) }
        guard let earlier = ran.first(where: { $0.revision == revision }) else {
            let known = ran.map { String($0.revision) }
            let never = history.first { $0.revision == revision && $0.revision < store.revision }
            throw PlatformError(
                .unknownRevision,
                (never.map { "revision \(revision) of store \(store.name.quotedForMessage) never ran (it is \($0.status.rawValue)); " }
                    ?? "store \(store.name.quotedForMessage) has no revision \(revision) to roll back to; ")
                    + (known.isEmpty ? "it has no earlier revision" : "its earlier revisions: \(known.joined(separator: ", "))")
            )
        }
        let next = try await nextRevision(of: store)
        let pending = StoreRevision(
            storeID: store.id, revision: next, version: earlier.version, status: .pending, actor: actor, time: Date(),
            message: "rollback to revision \(earlier.revision)", rollbackTo: earlier.revision
        )
        return try await beginChange(
            store, to: pending, kind: .rollback, action: .rollback, requestID: requestID,
            message: "rollback from revision \(store.revision) (\(store.version)) to revision \(earlier.revision) (\(earlier.version)) as revision \(pending.revision)"
        )
    }

    /// Carries on with an `upgrading` store that no operation holds (after a restart,
    /// or a replica's loss), from the top. False when an operation holds it (here or
    /// on another replica), shutdown began, or the database does not answer.
    @discardableResult
    public func resumeChange(_ store: Store) async -> Bool {
        guard let history = try? await database.storeRevisions(storeID: store.id) else { return false }
        let kind: OperationKind = history.first { $0.revision == store.revision }?.rollbackTo == nil ? .upgrade : .rollback
        guard let lease = try? await register(store, kind: kind) else { return false }
        await launch(lease) { lease in
            await self.runChange(store.id, lease: lease)
        }
        return true
    }

    /// Upgrades and rollbacks apply to ready stores. An upgrading store is in the
    /// middle of one (its operation runs, or the reconciler resumes it):
    /// OPERATION_IN_PROGRESS.
    private static func checkChangeable(_ store: Store) throws {
        guard store.status != .upgrading else { throw changeInProgress(store) }
        try store.status.checkTransition(to: .upgrading, storeName: store.name)
    }

    /// OPERATION_IN_PROGRESS for an `upgrading` store.
    static func changeInProgress(_ store: Store) -> PlatformError {
        PlatformError(
            .operationInProgress,
            "store \(store.name.quotedForMessage) is being moved to revision \(store.revision) (\(store.version)); wait for that to end"
        )
    }

    /// The number the release's next revision gets: one past the newest of its
    /// history, as Helm numbers them. UNAVAILABLE when the cluster does not answer.
    private func nextRevision(of store: Store) async throws -> Int {
        do {
            let history = try await driver.releaseHistory(namespace: store.namespace, release: store.release)
            return (history.last?.revision ?? store.revision) + 1
        } catch {
            throw PlatformError(
                .unavailable,
                "cannot read the history of store \(store.name.quotedForMessage)'s release: \(Self.reason(error)); try again"
            )
        }
    }

    /// The store's engine; INVALID_STATE_TRANSITION for one this build has no versions of.
    private func engine(of store: Store) throws -> any StoreEngine {
        guard let engine = StoreEngines.all.first(where: { $0.name == store.engine }), !engine.versions.isEmpty else {
            throw PlatformError(.invalidStateTransition, "store \(store.name.quotedForMessage) runs engine \"\(store.engine)\", which has no versions to move between")
        }
        return engine
    }

    /// Takes the store's lock and lease, records ready → upgrading with `pending`
    /// (and the revision it runs, when that predates revisions), and starts the change.
    private func beginChange(
        _ store: Store, to pending: StoreRevision, kind: OperationKind, action: AuditAction, requestID: String?, message: String
    ) async throws -> Store {
        let lease = try await register(store, kind: kind)
        let upgrading: Transition
        do {
            var revisions = [pending]
            let history = try await database.storeRevisions(storeID: store.id)
            if store.revision > 0, !history.contains(where: { $0.revision == store.revision }) {
                revisions.append(StoreRevision(
                    storeID: store.id, revision: store.revision, version: store.version, status: .deployed, actor: "system",
                    time: store.readyAt ?? store.updatedAt, message: "install (recorded before revisions were)"
                ))
            }
            upgrading = try await commit(
                store.id, to: .upgrading, expectedFrom: [.ready], action: action, actor: pending.actor, message: message,
                requestID: requestID, revisions: revisions
            ) {
                $0.version = pending.version
                $0.revision = pending.revision
                $0.errorMessage = ""
            }
        } catch {
            await release(lease)
            throw error
        }
        await launch(lease) { lease in
            await self.runChange(store.id, lease: lease)
        }
        return upgrading.store
    }

    /// The change's steps: the release moved to the pending revision unless the
    /// history shows it was, then readiness; on failure, ``remediate``.
    private func runChange(_ storeID: String, lease: OperationLease) async {
        do {
            try checkpoint(lease)
        } catch {
            return
        }
        let store: Store
        let pending: StoreRevision
        let previous: StoreRevision?
        do {
            guard let current = try await database.store(id: storeID), current.status == .upgrading else { return }
            let history = try await database.storeRevisions(storeID: storeID)
            guard let found = history.first(where: { $0.revision == current.revision }) else {
                throw PlatformError(.internalError, "store \(storeID) is upgrading to revision \(current.revision), which is not recorded")
            }
            (store, pending) = (current, found)
            previous = history.first { $0.revision < current.revision && $0.status == .deployed }
        } catch {
            logger.warning(
                "cannot read an upgrading store; the next reconcile pass resumes it",
                metadata: ["store": "\(storeID)", "error": "\(error)"]
            )
            return
        }
        let started = store.updatedAt
        do {
            let latest = try await settledRevision(store, after: pending.revision - 1, since: started, lease: lease)
            switch latest {
            case let latest? where latest.revision > pending.revision:
                // A rollback of this change ran before a restart: finish it.
                throw ProvisioningFailure("the change to revision \(pending.revision) was being rolled back when the daemon stopped")
            case let latest? where latest.revision == pending.revision && latest.state == .failed:
                throw ProvisioningFailure("revision \(pending.revision) failed before the daemon stopped")
            case let latest? where latest.revision == pending.revision:
                break  // made before a restart: only readiness is left
            default:
                if let target = pending.rollbackTo {
                    try await driver.rollbackRelease(namespace: store.namespace, release: store.release, to: target)
                } else {
                    try await driver.upgradeRelease(releaseRequest(store))
                }
            }
            try await waitUntilReady(store, since: started, changedAt: started, lease: lease)
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            await remediate(store, pending: pending, previous: previous, reason: Self.reason(error), lease: lease)
            return
        }
        var deployed = pending
        deployed.status = .deployed
        deployed.time = Date()
        var revisions = [deployed]
        if var superseded = previous {
            superseded.status = .superseded
            revisions.append(superseded)
        }
        await record(
            storeID, from: .upgrading, to: .ready, action: .upgraded,
            message: "revision \(pending.revision) (\(pending.version)) runs", revisions: revisions
        ) { _ in }
    }

    /// The release's newest revision, once it is no longer pending when it is past
    /// revision `after`: a pending one is a helm command still running, or one killed
    /// before it recorded how it ended (a daemon restart, an out-of-memory kill). Past
    /// helm's timeout counted from `since` it is the latter: ProvisioningFailure.
    private func settledRevision(_ store: Store, after: Int, since: Date, lease: OperationLease) async throws -> ReleaseRevision? {
        while true {
            try checkpoint(lease)
            let latest = try await driver.releaseHistory(namespace: store.namespace, release: store.release).last
            guard let latest, latest.state == .pending, latest.revision > after else { return latest }
            let age = Date().timeIntervalSince(since)
            let timeout = Self.seconds(configuration.pendingReleaseTimeout)
            if age >= timeout {
                throw ProvisioningFailure(String(
                    format: "revision %d of release %@ has been pending for %.0f s, past helm's timeout of %.0f s: the helm command that made it was interrupted (a daemon restart or an out-of-memory kill) before it finished",
                    latest.revision, store.release, age, timeout
                ))
            }
            try await pause(for: configuration.pollInterval, lease)
        }
    }

    /// After a failed change: the release rolled back to `previous` (unless the
    /// history shows it already was, or that the change never made a revision), then
    /// readiness. The store ends ready on `previous` with both reasons recorded, or
    /// failed when the rollback failed too.
    private func remediate(_ store: Store, pending: StoreRevision, previous: StoreRevision?, reason: String, lease: OperationLease) async {
        let what = pending.rollbackTo.map { "rollback to revision \($0)" } ?? "upgrade to \(pending.version)"
        guard let previous else {
            await fail(store, pending: pending, previous: nil, message: "\(what) failed: \(reason); there is no earlier revision to roll back to")
            return
        }
        let restored: Int
        let rollingBack = Date()
        do {
            // The change's own revision may be pending (its helm command was killed): it
            // is rolled back like a failed one. Only the rollback's own is waited for.
            let latest = try await settledRevision(store, after: pending.revision, since: rollingBack, lease: lease)
            if let latest, latest.revision == previous.revision, latest.state == .deployed {
                restored = previous.revision  // the change never made a revision: nothing to undo
            } else if let latest, latest.revision > pending.revision, latest.state == .deployed {
                restored = latest.revision  // rolled back before a restart
            } else {
                try await driver.rollbackRelease(namespace: store.namespace, release: store.release, to: previous.revision)
                guard let revision = await rollbackRevision(store, lease: lease) else { return }
                restored = revision
            }
            try await waitUntilReady(store, since: rollingBack, changedAt: rollingBack, lease: lease)
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            await fail(
                store, pending: pending, previous: previous,
                message: "\(what) failed: \(reason); the automatic rollback to revision \(previous.revision) (\(previous.version)) failed too: \(Self.reason(error))"
            )
            return
        }
        let now = Date()
        var undone = pending
        undone.status = .rolledBack
        undone.time = now
        undone.message = "\(pending.message): failed: \(reason)"
        var revisions = [undone]
        if restored != previous.revision {
            var superseded = previous
            superseded.status = .superseded
            revisions.append(superseded)
            revisions.append(StoreRevision(
                storeID: store.id, revision: restored, version: previous.version, status: .deployed, actor: "system", time: now,
                message: "automatic rollback to revision \(previous.revision)"
            ))
        }
        let message = "\(what) failed: \(reason); rolled back to revision \(previous.revision) (\(previous.version))"
            + (restored == previous.revision ? ", which still runs" : " as revision \(restored)")
        await record(store.id, from: .upgrading, to: .ready, action: .rolledBack, message: message, revisions: revisions) {
            $0.version = previous.version
            $0.revision = restored
        }
    }

    /// The revision a rollback that ran made: the newest of the release's history,
    /// read again after a pause when the read fails. Nil when it still cannot be read,
    /// or the operation ends: the rollback worked, so the store is not failed but left
    /// `upgrading`, and the reconciler's next pass finishes it from the history.
    private func rollbackRevision(_ store: Store, lease: OperationLease) async -> Int? {
        var attempt = 1
        while true {
            do {
                try checkpoint(lease)
                if let latest = try await driver.releaseHistory(namespace: store.namespace, release: store.release).last {
                    return latest.revision
                }
                throw ProvisioningFailure("release \(store.release) has no history after its rollback")
            } catch {
                if error is CancellationError || Task.isCancelled { return nil }
                guard attempt < Self.historyReadAttempts else {
                    logger.warning(
                        "the release's history cannot be read after its rollback; the store stays upgrading and the next reconcile pass finishes it",
                        metadata: ["store": "\(store.id)", "error": "\(Self.reason(error))"]
                    )
                    return nil
                }
            }
            attempt += 1
            do {
                try await pause(for: configuration.pollInterval, lease)
            } catch {
                return nil
            }
        }
    }

    /// How many times the history is read after a rollback before the reconciler is left to it.
    static let historyReadAttempts = 3

    /// Upgrading → failed with `message`: the release is in no known state. The store
    /// records the revision it ran before (`previous`), whose version a retry reinstalls.
    private func fail(_ store: Store, pending: StoreRevision, previous: StoreRevision?, message: String) async {
        var failed = pending
        failed.status = .failed
        failed.time = Date()
        failed.message = "\(pending.message): \(message)"
        await record(store.id, from: .upgrading, to: .failed, action: .fail, message: message, revisions: [failed]) {
            $0.errorMessage = message
            if let previous {
                $0.version = previous.version
                $0.revision = previous.revision
            }
        }
    }
}
