import StorePlatformProto
import StoreRPC
import SwiftProtobuf

/// Follows one store with WatchStores until the operation that was just started
/// on it ends, printing one line (or one JSON object) per status change: the
/// `--wait` of create, delete and retry.
struct StoreFollower: Sendable {
    /// Where the operation should leave the store.
    enum Goal: Sendable, Equatable {
        /// Create and retry: ready. Failed, deleting or deleted end the wait as a failure.
        case ready
        /// Delete: deleted. Failed ends the wait as a failure.
        case deleted
        /// Upgrade and rollback: ready on this revision. Ready on another (the change
        /// failed and was rolled back) or failed ends the wait as a failure.
        case revision(UInt32)
    }

    let client: RPCClient
    let goal: Goal
    let json: Bool
    /// The bound of the whole wait, seconds.
    let waitTimeout: Double

    /// Returns when the store reaches the goal. Throws ``CLIError/failed(_:)``
    /// when it fails instead, when the wait times out, or when the daemon ends
    /// the watch first; an `RPCError` when a call fails.
    ///
    /// - Parameter initial: the store as the call that started the operation
    ///   returned it (already printed by the caller).
    func follow(_ initial: Storeplatform_V1_Store) async throws {
        var last = initial
        if try settled(last) { return }

        // The provisioning deadline, for "… of the 10m 0s deadline" on the steps' lines;
        // without it (an older daemon, a failed call) the lines carry the elapsed time alone.
        let deadline = goal == .ready
            ? (try? await client.unary(StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest()))?.provisionDeadlineMs ?? 0
            : 0
        var watch = Storeplatform_V1_WatchStoresRequest()
        watch.storeID = initial.id
        watch.includeProgress = true
        let events = try client.serverStream(
            StorePlatformMethod.StoreService.watchStores,
            watch,
            timeout: .milliseconds(Int64(waitTimeout * 1000))
        )

        do {
            for try await event in events where event.store.id == initial.id {
                if event.action == "progress" {
                    try showProgress(event, since: initial, deadlineMilliseconds: deadline)
                    continue
                }
                // The stream starts with the store's current state (action "current"),
                // taken after the watch was registered, so a change committed before
                // the watch opened is not missed; repeats of what was shown are skipped.
                guard isNews(event.store, after: last) else { continue }
                last = event.store
                try show(event, store: last, since: initial)
                if try settled(last) { return }
            }
        } catch let error as RPCError where error.code == .deadlineExceeded {
            throw CLIError.failed(
                "store \(last.label) is still \(last.status.name) after \(formatDuration(seconds: waitTimeout)); "
                    + "stopped waiting, the platform carries on (follow it with `storectl watch --store \(last.id)`)"
            )
        }
        try Task.checkCancellation()
        throw CLIError.failed(
            "the daemon ended the watch while store \(last.label) was \(last.status.name); "
                + "see where it is with `storectl get \(last.id)`"
        )
    }

    /// A status change not printed yet. Changes older than the last one printed
    /// (by updated_at_ms) are stale copies and skipped.
    private func isNews(_ store: Storeplatform_V1_Store, after last: Storeplatform_V1_Store) -> Bool {
        store.status != last.status && store.updatedAtMs >= last.updatedAtMs
    }

    /// One line per provisioning step as it begins: "2026-05-01T12:00:01Z
    /// provisioning, step 3 of 4: installing the Helm release (+1.0s; 0.8s of the
    /// 10m 0s deadline)": since the operation started, and since the provisioning
    /// attempt started against the deadline that runs from it (when known).
    private func showProgress(
        _ event: Storeplatform_V1_StoreEvent, since initial: Storeplatform_V1_Store, deadlineMilliseconds deadline: Int64
    ) throws {
        if json {
            try printJSONLine(event)
        } else {
            let elapsed = Double(max(0, event.timeMs - initial.updatedAtMs)) / 1000
            var times = "+\(formatDuration(seconds: elapsed))"
            if deadline > 0, event.store.provisioningStartedAtMs > 0 {
                let attempt = Double(max(0, event.timeMs - event.store.provisioningStartedAtMs)) / 1000
                times += "; \(formatDuration(seconds: attempt)) of the \(formatDuration(seconds: Double(deadline) / 1000)) deadline"
            }
            printLine("\(formatTimestamp(milliseconds: event.timeMs))  provisioning, \(event.stepText) (\(times))")
        }
    }

    /// One line per change: when it happened (the daemon's time), the new status,
    /// and how long after the operation started ("2026-05-01T12:00:03Z  ready at
    /// http://… (+4.2s)").
    private func show(_ message: some SwiftProtobuf.Message, store: Storeplatform_V1_Store, since initial: Storeplatform_V1_Store) throws {
        if json {
            try printJSONLine(message)
        } else {
            let elapsed = Double(max(0, store.updatedAtMs - initial.updatedAtMs)) / 1000
            printLine("\(formatTimestamp(milliseconds: store.updatedAtMs))  \(store.statusLine) (+\(formatDuration(seconds: elapsed)))")
        }
    }

    /// True when the store reached the goal; throws when it can no longer reach it.
    private func settled(_ store: Storeplatform_V1_Store) throws -> Bool {
        switch (goal, store.status) {
        case (.ready, .ready), (.deleted, .deleted):
            return true
        case (.revision(let revision), .ready) where store.revision == revision:
            return true
        case (.revision(let revision), .ready):
            throw CLIError.failed(
                "revision \(revision) of store \(store.label) failed and was rolled back: it runs revision \(store.revision) "
                    + "(\(store.version)) again\n(see why with `storectl revisions \(store.id)` or `storectl audit --store \(store.id)`)"
            )
        case (.revision, .failed):
            let reason = store.errorMessage.isEmpty ? "no reason given" : store.errorMessage
            throw CLIError.failed(
                "store \(store.label) failed: \(reason)\n"
                    + "(reinstall it with `storectl retry \(store.id)`, or remove it with `storectl delete \(store.id)`)"
            )
        case (.ready, .failed):
            let reason = store.errorMessage.isEmpty ? "no reason given" : store.errorMessage
            throw CLIError.failed(
                "store \(store.label) failed: \(reason)\n"
                    + "(queue it again with `storectl retry \(store.id)`, or remove it with `storectl delete \(store.id)`)"
            )
        case (.deleted, .failed):
            let reason = store.errorMessage.isEmpty ? "no reason given" : store.errorMessage
            throw CLIError.failed(
                "deleting store \(store.label) failed: \(reason)\n(try again with `storectl delete \(store.id)`)"
            )
        case (.ready, .deleting), (.ready, .deleted):
            throw CLIError.failed("store \(store.label) is being deleted, so it will not become ready")
        default:
            return false
        }
    }
}

extension Storeplatform_V1_StoreEvent {
    /// "step 3 of 4: installing the Helm release" for a progress event's step.
    var stepText: String {
        let order: [Storeplatform_V1_ProvisioningStep] = [.namespace, .secret, .install, .readiness]
        let doing: String = switch step {
        case .namespace: "creating the namespace"
        case .secret: "writing the store's Secret"
        case .install: "installing the Helm release"
        case .readiness: "waiting for the pods to be ready"
        case .unspecified, .UNRECOGNIZED: "step \(step.rawValue)"
        }
        guard let index = order.firstIndex(of: step) else { return doing }
        return "step \(index + 1) of \(order.count): \(doing)"
    }
}
