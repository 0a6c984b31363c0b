import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Revisions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a store's releases, newest first: its install, upgrades and rollbacks.",
        discussion: """
            STATUS is deployed (the revision the store runs), superseded (a later one replaced it), \
            pending (being installed), rolled-back (it failed and the revision before was brought \
            back) or failed (it failed and so did its rollback). rollback takes a REVISION number.
            """
    )

    @Argument(help: ArgumentHelp(StoreReference.help, valueName: "store"))
    var store: String

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        try StoreReference.validate(store)
    }

    func run() async throws {
        var request = Storeplatform_V1_ListStoreRevisionsRequest()
        (request.id, request.name) = StoreReference(store).idOrName
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.StoreService.listStoreRevisions, request) { response, _ in
                guard !response.revisions.isEmpty else {
                    print("no revisions recorded for store \(store)")
                    return
                }
                printTable([["REVISION", "VERSION", "STATUS", "BY", "TIME", "MESSAGE"]] + response.revisions.map { revision in
                    [
                        String(revision.revision), revision.version, revision.status.name, revision.actor,
                        formatTimestamp(milliseconds: revision.timeMs), revision.message.isEmpty ? "-" : revision.message,
                    ]
                })
            }
        }
    }
}

extension Storeplatform_V1_RevisionStatus {
    /// The status as users read it: "deployed", "rolled-back".
    var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .pending: "pending"
        case .deployed: "deployed"
        case .superseded: "superseded"
        case .failed: "failed"
        case .rolledBack: "rolled-back"
        case .UNRECOGNIZED(let value): "unknown(\(value))"
        }
    }
}
