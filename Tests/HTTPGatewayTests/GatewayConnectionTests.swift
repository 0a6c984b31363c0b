import Foundation
import NIOCore
import Testing

/// The gateway's own connection cap and idle timeout: idle or half-sent
/// connections give their place back, and a connection over the cap gets a 503 in
/// the error shape instead of the daemon running out of descriptors.
@Suite struct GatewayConnectionTests {
    @Test func connectionsOverTheCapAre503AndIdleOnesAreClosed() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.maxConnections = 2
            // Long enough that a loaded machine refuses the third before the first
            // two time out (2 s was not, at a load average of 24 on two cores).
            $0.idleTimeout = .seconds(5)
        }) { port in
            try await withHangGuard {
                // The third must arrive while the first two are still open: on a loaded
                // machine they may have timed out first (the third is then served, sends
                // nothing, and is closed unanswered), and the scenario runs again.
                var refusedOnce = false
                for _ in 0..<3 where !refusedOnce {
                    refusedOnce = try await thirdOverTheCapIsRefused(port: port)
                }
                #expect(refusedOnce, "the third connection was never answered 503")
                // Their places are free again.
                var answered = false
                for _ in 0..<50 where !answered {
                    answered = (try await RawHTTPClient.send(port: port, "GET", "/api/health")).status == 200
                    if !answered { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(answered)
            }
        }
    }

    /// Two idle connections, one of them half-way through a request head, then a
    /// third: answered 503 before it sends anything, and closed; the two are closed
    /// by the idle timeout. False when the third was closed unanswered (the two had
    /// timed out before it came).
    private func thirdOverTheCapIsRefused(port: Int) async throws -> Bool {
        let idle = try await RawHTTPClient.connect(port: port)
        let halfSent = try await RawHTTPClient.connect(port: port)
        return try await halfSent.executeThenClose { halfInbound, halfOutbound in
            try await halfOutbound.write(ByteBuffer(string: "GET /api/health HTTP/1.1\r\nHo"))
            return try await idle.executeThenClose { idleInbound, _ in
                let third = try await RawHTTPClient.connect(port: port)
                let text = try await third.executeThenClose { inbound, _ in
                    var text = ""
                    for try await chunk in inbound { text += String(buffer: chunk) }
                    return text
                }
                guard !text.isEmpty else { return false }
                let refused = try RawHTTPClient.parse(text)
                #expect(refused.status == 503)
                #expect(refused.body == errorBody("UNAVAILABLE", "too many connections (limit 2); close idle connections and retry"))
                // Both are closed by the idle timeout…
                var idleIterator = idleInbound.makeAsyncIterator()
                #expect(try await idleIterator.next() == nil)
                var halfIterator = halfInbound.makeAsyncIterator()
                #expect(try await halfIterator.next() == nil)
                return true
            }
        }
    }

    @Test func anEventStreamOutlivesTheIdleTimeout() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({
            // Long enough for a loaded machine to send the request first.
            $0.idleTimeout = .seconds(2)
            $0.keepAliveInterval = .seconds(30)
        }) { port in
            try await withHangGuard {
                try await withEventStream(port: port) { reader in
                    try await Task.sleep(for: .seconds(4))
                    _ = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"late"}"#)
                    try await reader.read { ((try? storeEvents(in: $0)) ?? []).contains { $0.store.name == "late" } }
                }
            }
        }
    }
}
