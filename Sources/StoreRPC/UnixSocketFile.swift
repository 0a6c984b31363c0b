#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The filesystem side of the Unix listener: its parent directory, stale
/// socket files, the socket's mode, and removal at shutdown.
struct UnixSocketFile: Sendable {
    let path: String
    private var identity: (device: UInt64, inode: UInt64)?

    init(path: String) {
        self.path = path
    }

    /// Makes the path ready for `bind`: creates missing parent directories with
    /// `directoryMode`, and removes an existing socket file only after a connect
    /// proves no process listens on it. Throws when a daemon is listening there
    /// or when the path is something other than a socket.
    func prepare(directoryMode: UInt32) throws {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw UnixSocketError("socket path \(path) is longer than the \(MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1) bytes a Unix socket address holds")
        }
        try Self.makeDirectories(Self.parent(of: path), mode: directoryMode)

        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw UnixSocketError("cannot inspect \(path): \(Self.errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw UnixSocketError("\(path) exists and is not a socket; refusing to replace it")
        }
        if Self.somebodyListens(on: path) {
            throw UnixSocketError("another daemon is already listening on \(path); stop it first or choose another --socket path")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw UnixSocketError("cannot remove stale socket file \(path): \(Self.errnoText())")
        }
    }

    /// Sets the socket's mode after `bind` and remembers which file is ours.
    mutating func adopt(mode: UInt32) throws {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw UnixSocketError("cannot set mode \(String(mode, radix: 8)) on \(path): \(Self.errnoText())")
        }
        var info = stat()
        if stat(path, &info) == 0 {
            identity = (UInt64(info.st_dev), UInt64(info.st_ino))
        }
    }

    /// Removes the socket file if it is still the one this server bound.
    func remove() {
        var info = stat()
        guard let identity, lstat(path, &info) == 0,
            UInt64(info.st_dev) == identity.device, UInt64(info.st_ino) == identity.inode
        else { return }
        unlink(path)
    }

    /// True when a connect to `path` succeeds.
    static func somebodyListens(on path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    static func makeDirectories(_ directory: String, mode: UInt32) throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw UnixSocketError("\(directory) exists and is not a directory")
            }
            return
        }
        try makeDirectories(parent(of: directory), mode: mode)
        guard mkdir(directory, mode_t(mode)) == 0 || errno == EEXIST else {
            throw UnixSocketError("cannot create directory \(directory): \(errnoText())")
        }
        // mkdir applies the umask; the mode is a promise, so set it exactly.
        chmod(directory, mode_t(mode))
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

public struct UnixSocketError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
