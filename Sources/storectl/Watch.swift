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
            --timeout does not apply. With --json each StoreEvent is one object per line.
            """
    )

    @Option(help: ArgumentHelp("Only this store's changes.", valueName: "id"))
    var store: String?

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        if let store, store.isEmpty { throw ValidationError("--store must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            try await connection.withClient { client in
                var watch = Storeplatform_V1_WatchStoresRequest()
                watch.storeID = store ?? ""
                let request = watch
                let json = connection.json
                try await cancellingOnInterrupt {
                    let events = try client.serverStream(
                        StorePlatformMethod.StoreService.watchStores,
                        request,
                        as: Storeplatform_V1_StoreEvent.self
                    )
                    for try await event in events {
                        if json {
                            try printJSONLine(event)
                        } else {
                            printLine(event.watchLine)
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
