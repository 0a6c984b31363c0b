import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every field of one store.")

    @Argument(help: ArgumentHelp("The store's id.", valueName: "id"))
    var id: String

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("ID must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            var request = Storeplatform_V1_GetStoreRequest()
            request.id = id
            try await connection.show(StorePlatformMethod.StoreService.getStore, request) {
                response, _ in printTable(response.store.detailRows)
            }
        }
    }
}
