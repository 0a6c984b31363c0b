import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the platform's counters: stores by status, provisioning times, recent failures."
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest()) { metrics, _ in
                let live = metrics.storesByStatus.filter { $0.status != .deleted }.reduce(0) { $0 + $1.count }
                printSection(
                    "Stores by status (\(live) / \(metrics.maxLiveStores) live)",
                    metrics.storesByStatus.map { [$0.status.name, String($0.count)] }
                )

                let provisioning = metrics.provisioning
                print()
                if provisioning.count == 0 {
                    printSection("Provisioning durations", [["no store has become ready yet"]])
                } else {
                    func seconds(_ milliseconds: Double) -> String { String(format: "%.1f s", milliseconds / 1000) }
                    printSection("Provisioning durations (stores that became ready)", [
                        ["count", String(provisioning.count)],
                        ["avg", seconds(provisioning.avgMs)],
                        ["min", seconds(provisioning.minMs)],
                        ["max", seconds(provisioning.maxMs)],
                        ["p50", seconds(provisioning.p50Ms)],
                        ["p95", seconds(provisioning.p95Ms)],
                    ])
                }

                print()
                if metrics.recentFailures.isEmpty {
                    printSection("Recent failures", [["none"]])
                } else {
                    printSection("Recent failures (newest first)", [["TIME", "STORE", "SINCE", "REASON"]] + metrics.recentFailures.map { failure in
                        [
                            formatTimestamp(milliseconds: failure.timeMs),
                            failure.storeName.isEmpty ? failure.storeID : "\(failure.storeName) (\(failure.storeID))",
                            failure.outcome,
                            failure.summary.isEmpty ? singleLine(failure.reason) : failure.summary,
                        ]
                    })
                    printNote("the whole reason of a failure: storectl get ID")
                }

                print()
                let creates = metrics.lastHour.reduce(0) { $0 + $1.creates }
                let failures = metrics.lastHour.reduce(0) { $0 + $1.failures }
                printSection("Last hour (five-minute spans, oldest first)", [
                    ["creates", "\(creates)", metrics.lastHour.map { String($0.creates) }.joined(separator: " ")],
                    ["failures", "\(failures)", metrics.lastHour.map { String($0.failures) }.joined(separator: " ")],
                ])

                print()
                printSection("Counters (since the daemon started)", [
                    ["rate_limited_total", String(metrics.rateLimitedTotal)],
                    ["quota_refusals_total", String(metrics.quotaRefusalsTotal)],
                    ["active_operations", String(metrics.activeOperations)],
                    ["reconcile_passes", String(metrics.reconcilePasses)],
                    ["reconcile_corrections", String(metrics.reconcileCorrections)],
                ])
            }
        }
    }

    /// A title line, then the rows as a table indented under it.
    private func printSection(_ title: String, _ rows: [[String]]) {
        print(title)
        printTable(rows.map { row in row.isEmpty ? row : ["  " + row[0]] + row.dropFirst() })
    }
}

extension Storeplatform_V1_FailureRecord {
    /// What followed the failure, in words: "open" while the store is still failed
    /// with it; "resolved: retried, ready" or "resolved: deleted" once the store is
    /// ready again or gone; otherwise where the retry or the delete is.
    var outcome: String {
        switch (resolution, storeStatus) {
        case (.open, _): "open"
        case (_, .deleted): "resolved: deleted"
        case (.retried, .ready): "resolved: retried, ready"
        case (.retried, .failed): "retried, failed again"
        case (.retried, let status): "retried, \(status.name)"
        case (.deleted, .failed): "delete failed"
        case (.deleted, let status): "delete, \(status.name)"
        default: "-"
        }
    }
}
