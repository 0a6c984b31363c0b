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

    @Argument(help: ArgumentHelp(StoreReference.help, valueName: "store"))
    var store: String

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !store.isEmpty else { throw ValidationError("STORE must not be empty: give the store's id or its name") }
    }

    func run() async throws {
        try await runReportingErrors {
            try await connection.withClient { client in
                var request = Storeplatform_V1_DeleteStoreRequest()
                request.id = try await StoreReference(store).id(using: client, timeout: connection.callTimeout)
                let response = try await client.unary(StorePlatformMethod.StoreService.deleteStore, request, timeout: connection.callTimeout)
                try await waiting.report(response, store: response.store, goal: .deleted, client: client, connection: connection)
            }
        }
    }
}
