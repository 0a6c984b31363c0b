import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every field of one store.")

    @Argument(help: ArgumentHelp(StoreReference.help, valueName: "store"))
    var store: String

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        try StoreReference.validate(store)
    }

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.StoreService.getStore, StoreReference(store).getRequest) {
                response, _ in printTable(response.store.detailRows)
            }
        }
    }
}
