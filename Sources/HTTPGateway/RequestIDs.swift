import StoreCore
import Synchronization

/// Request ids for the `X-Request-Id` header: a well-formed incoming one is
/// echoed, otherwise a new one is made from a per-process random prefix and a
/// counter (cheap, unique within the process, unguessable across restarts).
package final class RequestIDs: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        let random = UInt32.random(in: .min ... .max)
        let hex = String(random, radix: 16)
        prefix = String(repeating: "0", count: 8 - hex.count) + hex + "-"
    }

    package func id(echoing incoming: String?) -> String {
        if let incoming, Self.isAcceptable(incoming) { return incoming }
        let next = counter.add(1, ordering: .relaxed).newValue
        return prefix + String(next, radix: 16)
    }

    /// ``RequestMetadata/requestID``'s rule (the one the RPC server applies): 1...128
    /// of letters, digits and `-_.:`, so an echoed id can never smuggle anything into
    /// a header or a log line. A header that breaks it is replaced, not refused.
    static func isAcceptable(_ id: String) -> Bool {
        RequestMetadata.requestID.accepts(id)
    }
}
