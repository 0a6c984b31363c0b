import Foundation
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("Transitions reach watchers in audit-id order")
struct EventOrderTests {
    /// Hundreds of stores created at once, each provisioned and deleted while
    /// others are: every transition is published, and in audit-id order. A watcher
    /// that falls behind resumes after the last id it received; were a lower id
    /// published after a higher one, a watcher ended in between would never see it.
    @Test func concurrentTransitionsArePublishedInAuditIDOrder() async throws {
        let harness = try Harness(provisioner: { $0.maxConcurrentProvisions = 32 })
        let subscription = harness.provisioner.events.subscribe()
        let stores = 150
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var ids: [String] = []
                    for index in stride(from: lane, to: stores, by: 8) {
                        ids.append(try await harness.create("order-\(index)", maxLiveStores: 1000).id)
                    }
                    return ids.joined(separator: ",")
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1.split(separator: ",").map(String.init) }
        }
        for id in ids { try await harness.waitFor(id, [.ready], within: .seconds(120)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask { _ = try await harness.provisioner.delete(storeID: id, actor: "uid:0", requestID: nil) }
            }
            try await group.waitForAll()
        }
        for id in ids { try await harness.waitFor(id, [.deleted], within: .seconds(120)) }

        let rows = try await harness.database.listAudit(limit: 1000, pageToken: "", storeID: nil).events.count
        var received: [Int64] = []
        for await event in subscription.events {
            received.append(event.auditID)
            if received.count == rows { break }
        }
        #expect(!subscription.fellBehind)
        #expect(received.count == rows)
        let inversions = zip(received, received.dropFirst()).filter { $0 >= $1 }
        #expect(inversions.isEmpty, "published out of order: \(inversions.prefix(10))")
    }
}
