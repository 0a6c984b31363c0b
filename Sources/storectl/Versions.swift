import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Versions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the engine versions stores can run (what upgrade takes).",
        discussion: "The default, marked *, is the version new stores get."
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.StoreService.listEngineVersions, Storeplatform_V1_ListEngineVersionsRequest()) {
                response, _ in
                printTable([["ENGINE", "VERSION", "WORDPRESS IMAGE", "WOOCOMMERCE", "CHART"]] + response.versions.map { version in
                    [
                        version.engine, version.name + (version.isDefault ? " *" : ""), version.wordpressImage,
                        version.woocommerceVersion, version.chartVersion,
                    ]
                })
            }
        }
    }
}
