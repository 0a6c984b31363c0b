import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC
import SwiftProtobuf

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show whether the daemon is serving, its version, uptime and cluster driver.")

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            let client = try await connection.connect()
            defer { Task { await client.close() } }
            let health = try await client.unary(
                StorePlatformMethod.PlatformService.health,
                Storeplatform_V1_HealthRequest(),
                as: Storeplatform_V1_HealthResponse.self,
                timeout: connection.callTimeout
            )
            if connection.json {
                print(try health.jsonString())
                return
            }
            let cluster = health.clusterSimulated ? "\(health.clusterDriver) (embedded simulator, no real Kubernetes)" : health.clusterDriver
            printTable([
                ["status", health.status],
                ["version", health.version],
                ["uptime", formatDuration(seconds: health.uptimeSeconds)],
                ["cluster", cluster],
                ["database", health.database],
                ["endpoint", client.endpoint.description],
            ])
        }
    }
}
