import Foundation
import StoreRPC

/// Why storectl could not connect to the daemon, said for the person at the
/// terminal: where it looked, what it found there, and how to point it elsewhere.
struct Unreachable {
    let endpoint: RPCEndpoint
    /// The connect failure as the transport reported it (its text may carry the
    /// system's error number).
    let failure: String

    var message: String {
        switch endpoint {
        case .unix(let path):
            return "cannot reach storeplatformd: \(Self.socketProblem(path)). "
                + "Is storeplatformd running? It listens on the socket its --socket (or STOREPLATFORM_SOCKET) names; "
                + "give storectl the same path with --socket PATH or STOREPLATFORM_SOCKET=PATH."
        case .tcp(let host, let port):
            let reason = systemReason.map { " (\($0.lowercased()))" } ?? ""
            return "cannot reach storeplatformd at \(host):\(port)\(reason). "
                + "Is storeplatformd running with --tcp \(host):\(port)? Give storectl the daemon's address with --tcp HOST:PORT, "
                + "or leave --tcp out to use its Unix socket."
        }
    }

    /// What is at `path`, seen from here: missing, not a socket, not ours to open,
    /// or a socket nobody listens on.
    static func socketProblem(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == EACCES
                ? "permission denied looking for the socket \(path) (a directory on the way is not open to this user)"
                : "there is no socket at \(path)"
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { return "\(path) exists but is not a socket" }
        guard access(path, W_OK) == 0 else {
            return "permission denied on the socket \(path) (run storectl as the daemon's user, root, or a member of the socket's group)"
        }
        return "nothing is listening on the socket \(path) (a daemon that stopped may have left it behind)"
    }

    /// The system's text for the error number in the transport's message, if any.
    private var systemReason: String? {
        guard let range = failure.range(of: "errno: ") else { return nil }
        guard let number = Int32(failure[range.upperBound...].prefix(while: \.isNumber)), number > 0 else { return nil }
        return String(cString: strerror(number))
    }
}
