import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

struct Operations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the store operations running now, on every replica.",
        discussion: """
            Each running operation (provision, delete, retry) holds its store's lease in the \
            database, owned by the replica that runs it; a second operation on that store is \
            refused with OPERATION_IN_PROGRESS meanwhile. A replica renews its leases while it \
            works; one that stops holds its stores until LEASE LAPSES, then another takes them over.

            Admin only: on the Unix socket the daemon answers its own uid and root (see \
            storeplatformd --admin-uid), and refuses AdminService over TCP.
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.AdminService.listOperations, Storeplatform_V1_ListOperationsRequest()) { response, _ in
                guard !response.operations.isEmpty else {
                    print("no store operations running")
                    return
                }
                let now = Date()
                printTable([["STORE", "ID", "KIND", "REPLICA", "STARTED", "RUNNING FOR", "LEASE LAPSES"]] + response.operations.map { operation in
                    [
                        operation.storeName.isEmpty ? "-" : operation.storeName,
                        operation.storeID,
                        operation.kind,
                        operation.replica.isEmpty ? "-" : operation.replica,
                        formatTimestamp(milliseconds: operation.startedAtMs),
                        formatAge(sinceMilliseconds: operation.startedAtMs, now: now),
                        formatTimestamp(milliseconds: operation.leaseExpiresAtMs),
                    ]
                })
            }
        }
    }
}
