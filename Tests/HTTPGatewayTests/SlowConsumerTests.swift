import ControlPlane
import Foundation
import HTTPGateway
import Logging
import NIOCore
import RPCTestSupport
import StoreCore
import StoreDatabase
import StorePlatformEnvelope
import StorePlatformProto
import StoreRPC
import SwiftProtobuf
import Testing

/// Watchers that stop reading: the server keeps a bounded amount for each, then
/// tells it it fell behind (with the last event it was sent) instead of losing
/// events silently; an event stream reconnecting with that id catches up from the
/// audit log.
@Suite struct SlowConsumerTests {
    /// `count` made-up transitions of one store, audit ids from `first` on, straight
    /// onto the bus (the audit log does not have them).
    static func flood(_ harness: GatewayHarness, count: Int, from first: Int64) throws {
        let store = Store.queued(name: try StoreName.validate("flood"), engine: WooCommerceEngine(), now: Date())
        for offset in 0..<Int64(count) {
            harness.provisioner.events.publish(StoreEvent(
                store: store, fromStatus: .queued, toStatus: .provisioning, action: .provision, auditID: first + offset, time: Date()
            ))
        }
    }

    @Test func aStalledEventStreamIsToldItFellBehindAndCatchesUpWithLastEventID() async throws {
        let harness = try GatewayHarness(eventBuffer: 64)
        try await harness.withGateway { port in
            try await withHangGuard {
                // Real transitions in the audit log: three stores, created and ready.
                var ids: [String] = []
                for name in ["one", "two", "three"] {
                    let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"\#(name)"}"#)
                    ids.append(try Storeplatform_V1_Store(apiJSON: created.body).id)
                }
                for id in ids { _ = try await harness.waitFor(port: port, id: id, status: "ready") }
                let audit = try await harness.database.auditEvents(after: 0, storeID: nil, limit: 100)
                #expect(audit.count == 9)

                // A stream that stops reading while far more events happen than
                // the bus and the socket hold.
                try await withEventStream(port: port) { reader in
                    try Self.flood(harness, count: 40_000, from: 1_000)
                    try await reader.read { text in
                        guard let marker = text.range(of: "event: behind\n") else { return false }
                        return text[marker.upperBound...].contains("}\n\n")
                    }
                    let received = try storeEvents(in: reader.text).map(\.auditID)
                    // A contiguous run from the first event on, then the marker naming its end.
                    #expect(!received.isEmpty)
                    #expect(received == Array(1_000..<(1_000 + Int64(received.count))))
                    #expect(received.count < 40_000)
                    #expect(reader.text.contains(#"event: behind\#ndata: {"lastEventId":"\#(received.last ?? -1)""#), "\(reader.text.suffix(300))")
                }

                // Reconnecting with the last id it got replays the audit log after it.
                try await withEventStream(port: port, headers: ["Last-Event-ID": String(audit[2].id)]) { reader in
                    try await reader.read { ((try? storeEvents(in: $0)) ?? []).count >= 6 }
                    let replayed = try storeEvents(in: reader.text)
                    #expect(replayed.map(\.auditID) == audit[3...].map(\.id))
                    #expect(replayed.map(\.action) == audit[3...].map(\.action.rawValue))
                }
            }
        }
    }

    /// A page cannot set `Last-Event-ID` on an EventSource: `?after=ID` resumes the
    /// same way, a partial replay ends with `event: behind` naming where to go on
    /// from, and the header wins when both are given.
    @Test func afterQueryParameterResumesLikeLastEventID() async throws {
        let harness = try GatewayHarness(replayLimit: 4)
        try await harness.withGateway { port in
            try await withHangGuard {
                for name in ["uno", "dos", "tres"] {
                    let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"\#(name)"}"#)
                    _ = try await harness.waitFor(port: port, id: try Storeplatform_V1_Store(apiJSON: created.body).id, status: "ready")
                }
                let audit = try await harness.database.auditEvents(after: 0, storeID: nil, limit: 100)
                #expect(audit.count == 9)

                // What followed audit[4], at most 4 of them: audit[5...8], then the
                // end of the replay as the place to resume from.
                try await withEventStream(port: port, target: "/api/events?after=\(audit[4].id)") { reader in
                    try await reader.read { text in
                        guard let marker = text.range(of: "event: behind\n") else { return false }
                        return text[marker.upperBound...].contains("}\n\n")
                    }
                    let replayed = try storeEvents(in: reader.text)
                    #expect(replayed.map(\.auditID) == audit[5...8].map(\.id))
                    #expect(replayed.map(\.action) == audit[5...8].map(\.action.rawValue))
                    #expect(reader.text.contains("id: \(audit[8].id)\nevent: store\n"))
                    #expect(reader.text.contains(#"event: behind\#ndata: {"lastEventId":"\#(audit[8].id)""#), "\(reader.text.suffix(300))")
                }

                // The rest of the log fits: replayed, then the stream stays live.
                try await withEventStream(port: port, target: "/api/events?after=\(audit[6].id)") { reader in
                    try await reader.read { ((try? storeEvents(in: $0)) ?? []).count >= 2 }
                    #expect(try storeEvents(in: reader.text).map(\.auditID) == audit[7...8].map(\.id))
                    let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"cuatro"}"#)
                    let id = try Storeplatform_V1_Store(apiJSON: created.body).id
                    try await reader.read { text in ((try? storeEvents(in: text)) ?? []).contains { $0.store.id == id } }
                    #expect(!reader.text.contains("event: behind"))
                }

                // Both given: Last-Event-ID (the newer id an EventSource sends when it
                // reconnects by itself to the same URL) decides.
                try await withEventStream(
                    port: port, target: "/api/events?after=\(audit[0].id)", headers: ["Last-Event-ID": String(audit[6].id)]
                ) { reader in
                    try await reader.read { ((try? storeEvents(in: $0)) ?? []).count >= 2 }
                    #expect(try storeEvents(in: reader.text).prefix(2).map(\.auditID) == audit[7...8].map(\.id))
                }

                // after=0 replays nothing.
                let quiet = try await withEventStream(port: port, target: "/api/events?after=0") { reader in
                    try await Task.sleep(for: .milliseconds(300))
                    return try storeEvents(in: reader.text)
                }
                #expect(quiet.isEmpty)
            }
        }
    }

    /// `after` must be an event id: anything else is refused before a stream opens,
    /// on GET and HEAD alike, saying what to send instead.
    @Test func afterMustBeANonNegativeWholeNumber() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            try await withHangGuard {
                let watchers = harness.provisioner.events.subscriberCount
                for value in ["-1", "abc", "", "1.5", "99999999999999999999", "0x10"] {
                    for method in ["GET", "HEAD"] {
                        let refused = try await RawHTTPClient.send(port: port, method, "/api/events?after=\(value)")
                        #expect(refused.status == 400, "\(method) after=\(value): \(refused.status) \(refused.body)")
                        guard method == "GET" else { continue }
                        let error = try #require(
                            try JSONSerialization.jsonObject(with: Data(refused.body.utf8)) as? [String: [String: String]]
                        )["error"]
                        #expect(error?["code"] == "INVALID_ARGUMENT")
                        #expect(
                            error?["message"]
                                == "after \"\(value)\" is not an event id; give the id of the last event received (a whole number, 0 or more), or leave after out to watch from now on"
                        )
                    }
                }
                #expect(harness.provisioner.events.subscriberCount == watchers)
            }
        }
    }

    /// Id 0 is a one-store watch's "current" frame, not a transition: reconnecting
    /// with it replays nothing.
    @Test func lastEventIDZeroReplaysNothing() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            try await withHangGuard {
                let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"quiet"}"#)
                let id = try Storeplatform_V1_Store(apiJSON: created.body).id
                _ = try await harness.waitFor(port: port, id: id, status: "ready")
                let events = try await withEventStream(port: port, headers: ["Last-Event-ID": "0"]) { reader in
                    try await Task.sleep(for: .milliseconds(300))
                    return try storeEvents(in: reader.text)
                }
                #expect(events.isEmpty)
            }
        }
    }

    @Test func eventStreamsAreCapped() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.maxEventStreams = 1 }) { port in
            try await withHangGuard {
                try await withEventStream(port: port) { _ in
                    let refused = try await RawHTTPClient.send(port: port, "GET", "/api/events")
                    #expect(refused.status == 503)
                    #expect(refused.body == errorBody("UNAVAILABLE", "too many event streams are open (limit 1); try again later"))
                }
            }
        }
    }

    /// WatchStores over a real socket whose client stops reading: the stream ends
    /// with WATCH_FELL_BEHIND naming the last audit id the client was sent.
    @Test func aStalledWatchStoresEndsWithWatchFellBehind() async throws {
        let harness = try GatewayHarness(eventBuffer: 64)
        try await harness.withRPCServer { socketPath in
            var envelope = Storeplatform_V1_Envelope()
            envelope.streamID = 1
            envelope.type = .request
            envelope.method = StorePlatformMethod.StoreService.watchStores.name
            envelope.payload = try Storeplatform_V1_WatchStoresRequest().serializedBytes()
            let request: [UInt8] = try envelope.serializedBytes()
            try await withHangGuard {
                // The socket blocks: all of it on a thread of its own, never on the
                // concurrency pool the server's tasks need.
                let (received, end) = try await withCheckedThrowingContinuation { continuation in
                    Thread.detachNewThread {
                        continuation.resume(with: Result { () throws -> ([Int64], Storeplatform_V1_Envelope?) in
                            let socket = try BlockingFrameSocket(connectingTo: .unix(path: socketPath), receiveTimeout: .seconds(30))
                            try socket.sendFrame(request)
                            while harness.provisioner.events.subscriberCount < 1 { Thread.sleep(forTimeInterval: 0.01) }
                            try Self.flood(harness, count: 40_000, from: 1_000)
                            var received: [Int64] = []
                            while let frame = try socket.receiveFrame() {
                                let answer = try Storeplatform_V1_Envelope(serializedBytes: frame)
                                guard answer.type == .streamMessage else { return (received, answer) }
                                received.append(try Storeplatform_V1_StoreEvent(serializedBytes: answer.payload).auditID)
                            }
                            return (received, nil)
                        })
                    }
                }
                #expect(received == Array(1_000..<(1_000 + Int64(received.count))))
                #expect(received.count < 40_000)
                let status = try #require(end?.status)
                #expect(end?.type == .streamEnd)
                #expect(status.errorCode == "WATCH_FELL_BEHIND")
                #expect(status.code == .aborted)
                #expect(
                    status.message
                        == "this watch fell behind and was ended after audit id \(received.last ?? -1); watch again with after_audit_id \(received.last ?? -1) to receive what followed"
                )
            }
        }
    }

    /// A WatchStores resumed with after_audit_id replays the transitions after it,
    /// then goes on live with nothing repeated; one store's resumed watch sends no
    /// "current" event.
    @Test func aResumedWatchStoresReplaysFromTheAuditLog() async throws {
        let harness = try GatewayHarness()
        try await harness.withRPCServer { socketPath in
            try await withHangGuard {
                let client = try await RPCClient.connect(to: .unix(path: socketPath))
                var ids: [String] = []
                for name in ["one", "two"] {
                    var create = Storeplatform_V1_CreateStoreRequest()
                    create.name = name
                    let created = try await client.unary(
                        StorePlatformMethod.StoreService.createStore, create
                    )
                    ids.append(created.store.id)
                }
                var audit: [AuditEvent] = []
                while audit.count < 6 {
                    audit = try await harness.database.auditEvents(after: 0, storeID: nil, limit: 100)
                    try await Task.sleep(for: .milliseconds(20))
                }
                var request = Storeplatform_V1_WatchStoresRequest()
                request.afterAuditID = audit[1].id
                var iterator = try client.serverStream(StorePlatformMethod.StoreService.watchStores, request)
                    .makeAsyncIterator()
                var replayed: [Int64] = []
                for _ in 2..<audit.count { replayed.append(try #require(try await iterator.next()).auditID) }
                #expect(replayed == audit[2...].map(\.id))
                // Live from here: the next transition, once.
                _ = try await client.unary(
                    StorePlatformMethod.StoreService.deleteStore,
                    { var delete = Storeplatform_V1_DeleteStoreRequest(); delete.id = ids[0]; return delete }()
                )
                let live = try #require(try await iterator.next())
                #expect(live.auditID > audit.last!.id)
                #expect(live.action == "delete")

                // One store, resumed: its replay only, no "current".
                var one = Storeplatform_V1_WatchStoresRequest()
                one.storeID = ids[1]
                one.afterAuditID = audit[0].id
                var oneIterator = try client.serverStream(StorePlatformMethod.StoreService.watchStores, one)
                    .makeAsyncIterator()
                let first = try #require(try await oneIterator.next())
                #expect(first.action != "current")
                #expect(first.store.id == ids[1])
                #expect(first.auditID == audit.first { $0.storeID == ids[1] }?.id)
                await client.close()
            }
        }
    }
    /// `count` created stores straight in the database (one `create` audit row each):
    /// their audit ids, oldest first.
    static func createRows(_ harness: GatewayHarness, count: Int) async throws -> [Int64] {
        for index in 0..<count {
            let store = Store.queued(name: try StoreName.validate("row-\(index)"), engine: WooCommerceEngine(), now: Date())
            _ = try await harness.database.createStore(store, maxLiveStores: count, requestedBy: "test", idempotencyKey: nil, requestID: nil)
        }
        return try await harness.database.auditEvents(after: 0, storeID: nil, limit: count + 1).map(\.id)
    }

    /// A replay longer than one page (``StoreWatch`` reads 200 transitions at a time)
    /// sends every transition once, in order, across the pages; one longer than the
    /// replay limit stops at it and says where to resume, on RPC and on the event stream.
    @Test func replaysCrossPagesAndStopAtTheirLimit() async throws {
        let harness = try GatewayHarness(maxLiveStores: 1000, replayLimit: 450)
        let ids = try await Self.createRows(harness, count: 520)
        try await harness.withRPCServer { socketPath in
            try await withHangGuard {
                let client = try await RPCClient.connect(to: .unix(path: socketPath))
                // From the 100th on: 420 follow, under the limit, over two pages.
                var request = Storeplatform_V1_WatchStoresRequest()
                request.afterAuditID = ids[99]
                var received: [Int64] = []
                var iterator = try client.serverStream(StorePlatformMethod.StoreService.watchStores, request)
                    .makeAsyncIterator()
                while received.count < 420 { received.append(try #require(try await iterator.next()).auditID) }
                #expect(received == Array(ids[100...]))

                // From the start: 519 follow, over the limit.
                request.afterAuditID = ids[0]
                received = []
                let error = await #expect(throws: RPCError.self) {
                    for try await event in try client.serverStream(
                        StorePlatformMethod.StoreService.watchStores, request
                    ) {
                        received.append(event.auditID)
                    }
                }
                #expect(received == Array(ids[1...450]))
                #expect(error?.errorCode == "WATCH_FELL_BEHIND")
                #expect(error?.message.contains("after audit id \(ids[450]);") == true, "\(error?.message ?? "")")
                await client.close()
            }
        }
        try await harness.withGateway { port in
            try await withHangGuard {
                try await withEventStream(port: port, headers: ["Last-Event-ID": String(ids[0])]) { reader in
                    try await reader.read { text in
                        guard let marker = text.range(of: "event: behind\n") else { return false }
                        return text[marker.upperBound...].contains("}\n\n")
                    }
                    #expect(try storeEvents(in: reader.text).map(\.auditID) == Array(ids[1...450]))
                    #expect(reader.text.contains(#"event: behind\#ndata: {"lastEventId":"\#(ids[450])""#))
                }
            }
        }
    }
}
