import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit log, newest first: who changed which store, and how.",
        discussion: """
            When there are older events, the command for the next page is printed on \
            standard error. Messages are shown on one line; --json keeps them whole.
            """
    )

    @Option(help: ArgumentHelp("At most this many events, 1-1000 (default: the daemon's, 50).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only events of this store.", valueName: "id"))
    var store: String?

    @Option(help: ArgumentHelp("Continue with older events from this token (printed by the previous page).", valueName: "token"))
    var pageToken: String?

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
        if let store, store.isEmpty { throw ValidationError("--store must not be empty") }
        if let pageToken, pageToken.isEmpty { throw ValidationError("--page-token must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            var request = Storeplatform_V1_ListAuditRequest()
            request.limit = UInt32(limit ?? 0)
            request.storeID = store ?? ""
            request.pageToken = pageToken ?? ""
            try await connection.show(StorePlatformMethod.PlatformService.listAudit, request) {
                response, _ in
                if response.events.isEmpty {
                    print("no audit events")
                } else {
                    // A message's one-line summary; --json has the whole text.
                    let header = ["TIME", "ACTOR", "ACTION", "STORE", "FROM→TO", "MESSAGE"]
                    printTable([header] + response.events.map { event in
                        [
                            formatTimestamp(milliseconds: event.timeMs),
                            event.actor,
                            event.action,
                            !event.fleetUpgradeID.isEmpty ? "fleet \(event.fleetUpgradeID)"
                                : event.storeName.isEmpty ? event.storeID : event.storeName,
                            event.fleetUpgradeID.isEmpty ? formatTransition(from: event.fromStatus, to: event.toStatus) : "-",
                            event.summary.isEmpty ? singleLine(event.message) : event.summary,
                        ]
                    })
                }
                if !response.nextPageToken.isEmpty {
                    printNote("older events: \(nextPageCommand(token: response.nextPageToken))")
                }
            }
        }
    }

    /// The command line that prints the next page with the same filters.
    private func nextPageCommand(token: String) -> String {
        var words = ["storectl", "audit"]
        if let limit { words += ["--limit", String(limit)] }
        if let store { words += ["--store", store] }
        words += ["--page-token", token]
        return words.joined(separator: " ")
    }
}
