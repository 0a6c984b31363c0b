import Foundation
import GRDB
import StoreCore

/// An SQLite file that could not be opened, said so an operator can act on it:
/// which file, and why in the system's words. SQLite itself reports only
/// "unable to open database file", whether the directory is read-only, the path
/// is a directory or a parent is missing.
public struct SQLiteOpenFailure: Error, CustomStringConvertible {
    /// The database file.
    public let path: String
    /// The system's reason (`Permission denied`, `Is a directory`, …) with
    /// SQLite's own words, or SQLite's alone when the system found nothing wrong.
    public let reason: String
    /// What SQLite (through GRDB) threw.
    public let underlying: any Error

    public init(path: String, underlying: any Error) {
        self.path = path
        self.underlying = underlying
        let sqlite: String
        switch underlying {
        case let error as DatabaseError: sqlite = "SQLite: \(error.message ?? "error \(error.resultCode.rawValue)")"
        case let error as PlatformError: sqlite = error.message
        default: sqlite = "\(underlying)"
        }
        if let system = Self.systemReason(path: path) {
            reason = "\(system) (\(sqlite))"
        } else {
            reason = sqlite
        }
    }

    public var description: String {
        "cannot open \(path): \(reason)"
    }

    /// Opens for writing, as SQLite must, the database file and the WAL and
    /// shared-memory files beside it, and returns the first failure's errno text
    /// (naming the file when it is not the database itself). Files the probe
    /// creates are removed again.
    static func systemReason(path: String) -> String? {
        for file in [path, path + "-wal", path + "-shm"] {
            let existed = access(file, F_OK) == 0
            let descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                let text = String(cString: strerror(errno))
                return file == path ? text : "\(file): \(text)"
            }
            close(descriptor)
            if !existed { unlink(file) }
        }
        return nil
    }
}
