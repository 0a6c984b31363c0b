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
        try StoreReference.validate(store)
    }

    func run() async throws {
        let (store, timeout) = (StoreReference(store), connection.callTimeout)
        try await waiting.start(StorePlatformMethod.StoreService.retryStore, connection: connection, store: \.store, goal: { _ in .ready }) {
            var request = Storeplatform_V1_RetryStoreRequest()
            request.id = try await store.id(using: $0, timeout: timeout)
            return request
        }
    }
}
