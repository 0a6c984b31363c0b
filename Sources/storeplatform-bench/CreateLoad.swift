import Foundation
import StorePlatformProto
import StoreRPC

/// Creates `total` stores (`load-0`, `load-1`, …) with `inFlight` calls at once,
/// spread round-robin over `clients`, and counts the stores that end ready or
/// failed on `watch` (a WatchStores stream opened before): how long until every
/// create was answered, and until every store ended.
enum CreateLoad {
    struct Outcome {
        var answered: Duration
        var ended: Duration
        var ready: Int
        var failed: Int
    }

    static func run(
        total: Int, inFlight: Int, clients: [RPCClient], watch: some AsyncSequence<Storeplatform_V1_StoreEvent, any Error> & Sendable
    ) async throws -> Outcome {
        let started = ContinuousClock.now
        let counter = Task {
            var ready = 0
            var failed = 0
            for try await event in watch {
                if event.toStatus == .ready { ready += 1 }
                if event.toStatus == .failed { failed += 1 }
                if ready + failed == total { break }
            }
            return (ready, failed, ContinuousClock.now)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func submit() {
                let index = next
                next += 1
                let client = clients[index % clients.count]
                group.addTask {
                    var request = Storeplatform_V1_CreateStoreRequest()
                    request.name = "load-\(index)"
                    _ = try await client.unary(StorePlatformMethod.StoreService.createStore, request)
                }
            }
            for _ in 0..<min(inFlight, total) { submit() }
            while try await group.next() != nil {
                if next < total { submit() }
            }
        }
        let answered = ContinuousClock.now - started
        let (ready, failed, finished) = try await counter.value
        return Outcome(answered: answered, ended: finished - started, ready: ready, failed: failed)
    }
}
