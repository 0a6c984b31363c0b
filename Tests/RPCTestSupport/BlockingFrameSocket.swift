import StoreRPC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain blocking socket that sends and receives raw frames, one thread, no
/// event loop. For benchmarks (the same client drives the RPC server and the
/// echo floor, so the difference is the server's) and for protocol tests that
/// must send bytes no well-behaved client would.
public final class BlockingFrameSocket {
    public let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Read buffer, made on the first read: a socket that is only held open (a
    /// benchmark's thousands of idle connections) costs no memory for it.
    private var chunk: [UInt8] = []

    /// Connects to `endpoint`. `receiveTimeout` bounds every read (nil: none).
    public init(connectingTo endpoint: RPCEndpoint, receiveTimeout: Duration? = .seconds(10)) throws {
        switch endpoint {
        case .unix(let path):
            descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw Self.failure("socket") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(descriptor)
                throw BlockingSocketError("socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard result == 0 else {
                let error = Self.failure("connect to \(path)")
                close(descriptor)
                throw error
            }
        case .tcp(let host, let port):
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw Self.failure("socket") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
                close(descriptor)
                throw BlockingSocketError("not an IPv4 address: \(host)")
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0 else {
                let error = Self.failure("connect to \(host):\(port)")
                close(descriptor)
                throw error
            }
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if let receiveTimeout {
            let (seconds, attoseconds) = receiveTimeout.components
            var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    deinit {
        close(descriptor)
    }

    /// Writes all of `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure("send")
            }
            offset += written
        }
    }

    /// Writes one frame: the 4-byte big-endian length, then `body`.
    public func sendFrame(_ body: [UInt8]) throws {
        try send(Self.frame(body))
    }

    /// Reads one whole frame body. Returns nil at end of stream; throws on a
    /// timeout or error.
    public func receiveFrame() throws -> [UInt8]? {
        guard let header = try receiveExactly(4) else { return nil }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        if length == 0 { return [] }
        guard let body = try receiveExactly(length) else {
            throw BlockingSocketError("connection closed in the middle of a frame")
        }
        return body
    }

    /// Reads at least one frame (blocking), then every further frame already
    /// received, without blocking again. Empty at end of stream.
    public func receiveAvailableFrames() throws -> [[UInt8]] {
        guard let first = try receiveFrame() else { return [] }
        var frames = [first]
        while let next = bufferedFrame() {
            frames.append(next)
        }
        return frames
    }

    /// The next whole frame already in the buffer, if there is one.
    private func bufferedFrame() -> [UInt8]? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        guard available >= 4 + length else { return nil }
        start += 4
        return try? receiveExactly(length)
    }

    /// True when the peer has closed the connection (a read returns end of stream).
    public func isClosedByPeer() throws -> Bool {
        while start == buffer.count {
            if try fill() == 0 { return true }
        }
        return false
    }

    /// The length-prefixed frame for `body`.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
    }

    private func receiveExactly(_ count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            if try fill() == 0 {
                return nil
            }
        }
        let bytes = Array(buffer[start..<start + count])
        start += count
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return bytes
    }

    private func fill() throws -> Int {
        if start > 65_536 {
            buffer.removeFirst(start)
            start = 0
        }
        while true {
            if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 65_536) }
            let received = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw BlockingSocketError("timed out waiting for the peer") }
                throw Self.failure("recv")
            }
            buffer.append(contentsOf: chunk[0..<received])
            return received
        }
    }

    private static func failure(_ what: String) -> BlockingSocketError {
        BlockingSocketError("\(what): \(String(cString: strerror(errno)))")
    }
}

public struct BlockingSocketError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
