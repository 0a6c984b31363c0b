import NIOCore
import Synchronization

/// The subjects of the verified client certificates of the gateway's open TLS
/// connections, by connection: recorded when a handshake completes, forgotten
/// when the connection closes, read by ``GatewayResponder/callerIdentity(_:context:)``.
final class TLSPeerSubjects: Sendable {
    private let subjects = Mutex<[ObjectIdentifier: String]>([:])

    /// Records the subject of `channel`'s client certificate until it closes.
    func record(_ subject: String, for channel: any Channel) {
        let key = ObjectIdentifier(channel)
        subjects.withLock { $0[key] = subject }
        channel.closeFuture.whenComplete { _ in
            _ = self.subjects.withLock { $0.removeValue(forKey: key) }
        }
    }

    func subject(of connection: ObjectIdentifier) -> String? {
        subjects.withLock { $0[connection] }
    }
}
