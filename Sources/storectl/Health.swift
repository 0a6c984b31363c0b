import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC
import SwiftProtobuf

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show whether the daemon is serving (NOT_SERVING while its database does not answer), its version, uptime, cluster driver and database.")

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(
                StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest()
            ) { health, client in
                let cluster = health.clusterSimulated ? "\(health.clusterDriver) (embedded simulator, no real Kubernetes)" : health.clusterDriver
                printTable([
                    ["status", health.status],
                    ["version", health.version],
                    ["uptime", formatDuration(seconds: health.uptimeSeconds)],
                    ["cluster", cluster],
                    ["database", health.databaseProblem.isEmpty ? health.database : "\(health.database): \(health.databaseProblem)"],
                    ["endpoint", client.endpoint.description],
                ])
            }
        }
    }
}
