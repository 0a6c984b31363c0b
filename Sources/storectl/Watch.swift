import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print store status changes as they are committed, until Ctrl-C.",
        discussion: """
            One line per change: time (UTC), store, old → new status, the action that caused \
            it, and the URL or the error when there is one. Runs until Ctrl-C (exit 130) or \
            until the daemon ends the stream (exit 0, or 3 when the connection dropped). \
            --timeout does not apply. With --json each StoreEvent is one object per line. \
            --after ID first prints the changes committed after that audit id. When the \
            daemon says the watch fell behind (WATCH_FELL_BEHIND), it resumes after the \
            last change printed, so none is missed. --progress adds a line as each \
            provisioning step begins (live only: a resumed watch does not repeat them).
            """
    )

    @Option(help: ArgumentHelp("Only this store's changes: its id (st_…) or the name of a live store.", valueName: "store"))
    var store: String?

    @Option(help: ArgumentHelp("First the changes committed after this audit id (storectl audit shows ids).", valueName: "audit-id"))
    var after: Int64 = 0

    @Flag(help: "Also a line as each provisioning step begins (namespace, secret, install, readiness).")
    var progress = false

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        if let store, store.isEmpty { throw ValidationError("--store must not be empty") }
        if after < 0 { throw ValidationError("--after must not be negative") }
    }

    /// The id of the store --store names (an id, or a live store's name); "" for every store.
    private func watchedStoreID(_ client: RPCClient) async throws -> String {
        guard let store else { return "" }
        return try await StoreReference(store).id(using: client, timeout: connection.callTimeout)
    }

    func run() async throws {
        try await runReportingErrors {
            try await connection.withClient { client in
                let storeID = try await watchedStoreID(client)
                let json = connection.json
                let start = after
                try await cancellingOnInterrupt {
                    var last = start
                    while true {
                        let resumedFrom = last
                        var request = Storeplatform_V1_WatchStoresRequest()
                        request.storeID = storeID
                        request.afterAuditID = last
                        request.includeProgress = progress
                        do {
                            let events = try client.serverStream(
                                StorePlatformMethod.StoreService.watchStores, request
                            )
                            for try await event in events {
                                if json {
                                    try printJSONLine(event)
                                } else {
                                    printLine(event.watchLine)
                                }
                                if event.auditID > 0 { last = event.auditID }
                            }
                            return
                        } catch let error as RPCError where error.errorCode == "WATCH_FELL_BEHIND" {
                            // The daemon kept what it could and said where it stopped: go on from there.
                            printNote("the watch fell behind after audit id \(last); resuming from there")
                            // Nothing came this time (the daemon could not read its log): not at once again.
                            if last == resumedFrom { try await Task.sleep(for: .seconds(1)) }
                        }
                    }
                }
            }
        }
    }
}

extension Storeplatform_V1_StoreEvent {
    /// "2025-05-01T12:00:03Z  shop-1 (st_…)  provisioning → ready  ready  http://…"
    fileprivate var watchLine: String {
        if action == "progress" {
            return [formatTimestamp(milliseconds: timeMs), store.label, "provisioning", stepText].joined(separator: "  ")
        }
        var fields = [
            formatTimestamp(milliseconds: timeMs),
            store.label,
            formatTransition(from: fromStatus, to: toStatus),
            action,
        ]
        switch toStatus {
        case .ready where !store.url.isEmpty: fields.append(store.url)
        case .failed where !store.errorMessage.isEmpty: fields.append("error: \(singleLine(store.errorMessage))")
        default: break
        }
        return fields.joined(separator: "  ")
    }
}
