import ArgumentParser
import StorePlatformProto
import StoreRPC

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a reconcile pass now and show what it corrected.",
        discussion: """
            Compares every store with the cluster, corrects the stores whose status no \
            longer matches it, and lists managed namespaces that belong to no live store. \
            With several replicas the pass runs on the one leading the reconciler, \
            whichever replica is asked.

            Admin only: on the Unix socket the daemon answers its own uid and root (see \
            storeplatformd --admin-uid), and refuses AdminService over TCP.
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.AdminService.reconcile, Storeplatform_V1_ReconcileRequest()) { pass, _ in
                let corrections = pass.corrections.count
                print(
                    "Examined \(pass.storesExamined) stores in \(formatDuration(milliseconds: pass.durationMs))"
                        + (pass.replica.isEmpty ? "" : " on replica \(pass.replica) (the reconciler's leader)")
                        + ": \(corrections) correction\(corrections == 1 ? "" : "s")."
                )
                if !pass.corrections.isEmpty {
                    print()
                    printTable([["STORE", "FROM→TO", "REASON"]] + pass.corrections.map { correction in
                        [
                            correction.storeName.isEmpty ? correction.storeID : "\(correction.storeName) (\(correction.storeID))",
                            formatTransition(from: correction.fromStatus, to: correction.toStatus),
                            singleLine(correction.reason),
                        ]
                    })
                }
                print()
                print("Orphan namespaces (no live store): \(list(pass.orphanNamespaces))")
                if !pass.deletedOrphans.isEmpty {
                    print("Deleted orphans: \(list(pass.deletedOrphans))")
                }
            }
        }
    }

    private func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
