import Foundation
import StoreCore
import Testing

@Suite("Store event bus")
struct StoreEventBusTests {
    func event(_ id: String, _ status: StoreStatus, auditID: Int64) throws -> StoreEvent {
        var store = Store.queued(name: try StoreName.validate("shop"), engine: WooCommerceEngine(), id: id, now: Date())
        store.status = status
        return StoreEvent(store: store, fromStatus: nil, toStatus: status, action: .provision, auditID: auditID, time: Date())
    }

    @Test func subscribersGetMatchingEventsInOrder() async throws {
        let bus = StoreEventBus()
        let all = bus.subscribe()
        let one = bus.subscribe(storeID: "st_b")
        try bus.publish(event("st_a", .queued, auditID: 1))
        try bus.publish(event("st_b", .queued, auditID: 2))
        try bus.publish(event("st_b", .provisioning, auditID: 3))

        var allIterator = all.events.makeAsyncIterator()
        var seen: [Int64] = []
        for _ in 0..<3 { seen.append(try #require(await allIterator.next()).auditID) }
        #expect(seen == [1, 2, 3])
        var oneIterator = one.events.makeAsyncIterator()
        #expect(await oneIterator.next()?.auditID == 2)
        #expect(await oneIterator.next()?.auditID == 3)
    }

    @Test func aWatcherThatStopsLeavesNoSubscription() async throws {
        let bus = StoreEventBus()
        let watcher = Task {
            for await _ in bus.subscribe().events {}
        }
        while bus.subscriberCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        watcher.cancel()
        await watcher.value
        #expect(bus.subscriberCount == 0)
    }

    /// A watcher a whole buffer behind keeps the contiguous run it has, then its
    /// stream ends and says it fell behind; nothing is dropped silently, and a
    /// watcher that keeps up is not affected.
    @Test func aSlowWatcherIsToldItFellBehindAfterAContiguousRun() async throws {
        let bus = StoreEventBus(bufferLimit: 2)
        let slow = bus.subscribe()
        let reader = bus.subscribe()
        var readerIterator = reader.events.makeAsyncIterator()
        var read: [Int64] = []
        for auditID in 1...5 {
            try bus.publish(event("st_a", .queued, auditID: Int64(auditID)))
            read.append(try #require(await readerIterator.next()).auditID)
        }
        var received: [Int64] = []
        for await event in slow.events { received.append(event.auditID) }
        #expect(received == [1, 2])
        #expect(slow.fellBehind)
        #expect(read == [1, 2, 3, 4, 5])
        #expect(!reader.fellBehind)
        #expect(bus.subscriberCount == 1)
    }
}
