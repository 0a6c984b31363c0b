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
        try StoreReference.validate(store)
    }

    func run() async throws {
        let (store, timeout) = (StoreReference(store), connection.callTimeout)
        try await waiting.start(StorePlatformMethod.StoreService.deleteStore, connection: connection, store: \.store, goal: { _ in .deleted }) {
            var request = Storeplatform_V1_DeleteStoreRequest()
            request.id = try await store.id(using: $0, timeout: timeout)
            return request
        }
    }
}
