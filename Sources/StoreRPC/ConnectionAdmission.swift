import Synchronization

/// Counts open connections per listener and decides, when a connection is
/// accepted (before any of its frames is read), whether it may stay: each listener
/// has its own cap, so no number of TCP clients can fill the admin socket, and the
/// socket's last reserved places are for admin uids, so other local users cannot
/// either. A refused connection gets an ERROR frame and is closed; nothing it sent,
/// Health included, is answered.
final class ConnectionAdmission: Sendable {
    private let configuration: RPCServerConfiguration
    private let open = Mutex<[RPCPeer.Transport: Int]>([:])

    init(configuration: RPCServerConfiguration) {
        self.configuration = configuration
    }

    /// Takes a place for the connection, or says why there is none.
    func admit(_ peer: RPCPeer) -> RPCStatus? {
        open.withLock { open in
            let count = open[peer.transport, default: 0]
            let refusal: RPCStatus?
            switch peer.transport {
            case .tcp:
                refusal = count < configuration.maxTCPConnections
                    ? nil
                    : RPCError.resourceExhausted(
                        "too many TCP connections (limit \(configuration.maxTCPConnections)); close idle connections and retry"
                    ).status
            case .unix:
                let isAdmin = peer.uid.map { configuration.unixSocket?.adminUIDs.contains($0) == true } ?? false
                let limit = configuration.maxUnixConnections - (isAdmin ? 0 : configuration.reservedAdminConnections)
                let reserved = isAdmin ? "" : "; the last \(configuration.reservedAdminConnections) are kept for admins"
                refusal = count < limit
                    ? nil
                    : RPCError.resourceExhausted(
                        "too many connections on the admin socket (limit \(configuration.maxUnixConnections)\(reserved)); close idle connections and retry"
                    ).status
            }
            if refusal == nil { open[peer.transport] = count + 1 }
            return refusal
        }
    }

    /// Gives back the place of a connection that was admitted.
    func release(_ transport: RPCPeer.Transport) {
        open.withLock { $0[transport, default: 1] -= 1 }
    }

    func count(_ transport: RPCPeer.Transport) -> Int {
        open.withLock { $0[transport, default: 0] }
    }
}
