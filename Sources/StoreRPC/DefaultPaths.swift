import Foundation

/// Default locations shared by the daemon and its clients, so both agree
/// without flags.
public enum DefaultPaths {
    /// The admin socket: `$STOREPLATFORM_SOCKET`, else
    /// `/run/storeplatform/storeplatformd.sock` for root, else
    /// `$XDG_RUNTIME_DIR/storeplatform/storeplatformd.sock`, else
    /// `/tmp/storeplatform-<uid>/storeplatformd.sock`.
    public static var socket: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["STOREPLATFORM_SOCKET"], !path.isEmpty { return path }
        if getuid() == 0 { return "/run/storeplatform/storeplatformd.sock" }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/storeplatform/storeplatformd.sock"
        }
        return "/tmp/storeplatform-\(getuid())/storeplatformd.sock"
    }

    /// The TCP listener for internal services: `$STOREPLATFORM_TCP`, else 127.0.0.1:7070.
    public static var tcp: String {
        ProcessInfo.processInfo.environment["STOREPLATFORM_TCP"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:7070"
    }
}
