import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll a ready store back to an earlier revision; with --wait, follow it to the end.",
        discussion: """
            The rollback is a new revision with the earlier revision's version (Helm's way), \
            awaited and undone on failure as an upgrade is. `storectl revisions STORE` lists the \
            revisions. With --wait storectl exits 0 when the store runs the new revision, and 1 \
            otherwise.
            """
    )

    @Argument(help: ArgumentHelp(StoreReference.help, valueName: "store"))
    var store: String

    @Argument(help: ArgumentHelp("The earlier revision to go back to, as `storectl revisions` lists it.", valueName: "revision"))
    var revision: UInt32

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        try StoreReference.validate(store)
        guard revision > 0 else { throw ValidationError("REVISION must be 1 or more: `storectl revisions STORE` lists them") }
    }

    func run() async throws {
        var request = Storeplatform_V1_RollbackStoreRequest()
        (request.id, request.name) = StoreReference(store).idOrName
        request.revision = revision
        try await waiting.start(
            StorePlatformMethod.StoreService.rollbackStore, connection: connection, store: \.store, goal: { .revision($0.revision) }
        ) { [request] _ in request }
    }
}
