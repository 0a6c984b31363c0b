import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start deleting a store; with --wait, follow it until it is deleted.",
        discussion: """
            The daemon answers at once with the store in status deleting and uninstalls it \
            in the background. With --wait one line is printed per status change; storectl \
            exits 0 when the store is deleted and 1 when the deletion failed or did not end \
            within --wait-timeout.
            """
    )

    @Argument(help: ArgumentHelp("The store's id.", valueName: "id"))
    var id: String

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("ID must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            var request = Storeplatform_V1_DeleteStoreRequest()
            request.id = id
            try await connection.call(StorePlatformMethod.StoreService.deleteStore, request) {
                response, client in
                try await waiting.report(response, store: response.store, goal: .deleted, client: client, connection: connection)
            }
        }
    }
}
