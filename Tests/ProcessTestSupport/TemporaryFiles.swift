import Foundation
import Synchronization

/// Directories and files a test process makes under /tmp, removed when it exits.
private let madeForThisProcess: Mutex<[String]> = {
    atexit {
        for path in madeForThisProcess.withLock({ $0 }) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
    return Mutex([])
}()

/// A new directory `/tmp/PREFIX-XXXXXXXX`, made now and removed with all it holds
/// when the test process exits. Short, so a Unix socket path inside it stays well
/// under the 108-byte limit.
public func makeTemporaryDirectory(_ prefix: String) throws -> String {
    let path = temporaryPath(prefix)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A path `/tmp/PREFIX-XXXXXXXX` + `suffix` that nothing uses yet, removed (if
/// anything made it) when the test process exits.
public func temporaryPath(_ prefix: String, suffix: String = "") -> String {
    let path = "/tmp/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())\(suffix)"
    madeForThisProcess.withLock { $0.append(path) }
    return path
}
