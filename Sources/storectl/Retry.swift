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

    @Argument(help: ArgumentHelp("The id of a failed store.", valueName: "id"))
    var id: String

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("ID must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            var request = Storeplatform_V1_RetryStoreRequest()
            request.id = id
            try await connection.call(StorePlatformMethod.StoreService.retryStore, request) {
                response, client in
                try await waiting.report(response, store: response.store, goal: .ready, client: client, connection: connection)
            }
        }
    }
}
