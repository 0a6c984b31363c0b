import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Upgrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upgrade a ready store to another engine version; with --wait, follow it to the end.",
        discussion: """
            The store is upgrading at once; its release is upgraded with the version's values \
            set explicitly, then awaited (readiness, and the setup hook's database migrations). \
            When that fails the platform rolls the release back to the revision before by itself: \
            the store is ready again on its old version (`storectl revisions STORE` says why), or \
            failed when even the rollback failed. `storectl versions` lists the versions.

            With --wait one line is printed per status change; storectl exits 0 when the store \
            runs the new version, and 1 when the upgrade was rolled back, failed, or did not end \
            within --wait-timeout.
            """
    )

    @Argument(help: ArgumentHelp(StoreReference.help, valueName: "store"))
    var store: String

    @Argument(help: ArgumentHelp("The engine version to run, as `storectl versions` lists it (6.9-wc10.3).", valueName: "version"))
    var version: String

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        try StoreReference.validate(store)
        guard !version.isEmpty else { throw ValidationError("VERSION must not be empty: `storectl versions` lists them") }
    }

    func run() async throws {
        var request = Storeplatform_V1_UpgradeStoreRequest()
        (request.id, request.name) = StoreReference(store).idOrName
        request.version = version
        try await waiting.start(
            StorePlatformMethod.StoreService.upgradeStore, connection: connection, store: \.store, goal: { .revision($0.revision) }
        ) { [request] _ in request }
    }
}
