import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue a failed store again; with --wait, follow it until it is ready.",
        discussion: """
            With --wait one line is printed per status change; storectl exits 0 when the \
            store is ready and 1 when it failed again, is deleted meanwhile, or is not ready \
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
                var request = Storeplatform_V1_RetryStoreRequest()
                request.id = try await StoreReference(store).id(using: client, timeout: connection.callTimeout)
                let response = try await client.unary(StorePlatformMethod.StoreService.retryStore, request, timeout: connection.callTimeout)
                try await waiting.report(response, store: response.store, goal: .ready, client: client, connection: connection)
            }
        }
    }
}
