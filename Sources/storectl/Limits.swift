import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Limits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the platform's runtime limits, or change some of them.",
        discussion: """
            Without options, prints the limits in force. With any of the options, changes \
            only those limits and prints the limits now in force. Changes are stored in \
            the daemon's database: they outlive restarts (over the daemon's flags) and \
            reach every replica on that database within seconds.

            Admin only: on the Unix socket the daemon answers its own uid and root (see \
            storeplatformd --admin-uid), and refuses AdminService over TCP.
            """
    )

    @Option(help: ArgumentHelp("Set the maximum of live (not deleted) stores.", valueName: "n"))
    var maxLiveStores: UInt32?

    @Option(help: ArgumentHelp("Set the requests per minute each caller may make.", valueName: "n"))
    var requestsPerMinute: UInt32?

    @Option(help: ArgumentHelp("Set the creates per minute each caller may make.", valueName: "n"))
    var createsPerMinute: UInt32?

    @Option(help: ArgumentHelp("Set how many provisionings run at once; the rest stay queued.", valueName: "n"))
    var maxConcurrentProvisions: UInt32?

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    /// The update these options ask for; nil when none was given.
    private var update: Storeplatform_V1_UpdateLimitsRequest? {
        var request = Storeplatform_V1_UpdateLimitsRequest()
        if let maxLiveStores { request.maxLiveStores = maxLiveStores }
        if let requestsPerMinute { request.requestsPerMinute = requestsPerMinute }
        if let createsPerMinute { request.createsPerMinute = createsPerMinute }
        if let maxConcurrentProvisions { request.maxConcurrentProvisions = maxConcurrentProvisions }
        let changesSomething = request.hasMaxLiveStores || request.hasRequestsPerMinute
            || request.hasCreatesPerMinute || request.hasMaxConcurrentProvisions
        return changesSomething ? request : nil
    }

    func run() async throws {
        try await runReportingErrors {
            if let update {
                try await connection.show(
                    StorePlatformMethod.AdminService.updateLimits, update
                ) { response, _ in
                    printNote("updated; the change lasts until the daemon restarts")
                    printLimits(response.limits)
                }
            } else {
                try await connection.show(
                    StorePlatformMethod.AdminService.getLimits, Storeplatform_V1_GetLimitsRequest()
                ) { response, _ in printLimits(response.limits) }
            }
        }
    }

    private func printLimits(_ limits: Storeplatform_V1_Limits) {
        printTable([
            ["max-live-stores", String(limits.maxLiveStores)],
            ["requests-per-minute", String(limits.requestsPerMinute)],
            ["creates-per-minute", String(limits.createsPerMinute)],
            ["max-concurrent-provisions", String(limits.maxConcurrentProvisions)],
        ])
    }
}
