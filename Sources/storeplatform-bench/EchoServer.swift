import ArgumentParser
import Foundation

/// The floor for the RPC benchmark: echoes length-prefixed frames back, with no
/// protobuf and no dispatch, one blocking thread per connection. Whole frames
/// received in one read are written back in one write.
struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Echo frames on a Unix socket or TCP (the benchmark's floor; started by `rpc`).",
        shouldDisplay: false
    )

    @Option(help: "Unix socket path to listen on.")
    var socket: String?

    @Flag(help: "Listen on 127.0.0.1, a free port; the port is printed on standard output.")
    var tcp = false

    func run() throws {
        let listener: Int32
        if let socket {
            unlink(socket)
            listener = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: socket.utf8) }
            try check(withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }, "bind \(socket)")
        } else {
            listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            try check(withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }, "bind 127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            FileHandle.standardOutput.write(Data("\(UInt16(bigEndian: address.sin_port))\n".utf8))
        }
        try check(listen(listener, 64), "listen")
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            if tcp {
                var one: Int32 = 1
                setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            Thread.detachNewThread { Self.echo(connection) }
        }
    }

    static func echo(_ connection: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + filled, $0.count - filled, 0) }
            guard received > 0 else { break }
            filled += received
            // Echo every whole frame received so far in one write; keep the partial rest.
            var end = 0
            while filled - end >= 4 {
                let length = Int(buffer[end]) << 24 | Int(buffer[end + 1]) << 16 | Int(buffer[end + 2]) << 8 | Int(buffer[end + 3])
                guard filled - end >= 4 + length else { break }
                end += 4 + length
            }
            var sent = 0
            while sent < end {
                let written = buffer.withUnsafeBytes { send(connection, $0.baseAddress! + sent, end - sent, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else { close(connection); return }
                sent += written
            }
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + end, byteCount: filled - end)
            }
            filled -= end
        }
        close(connection)
    }

    private func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw ValidationError("\(what): \(String(cString: strerror(errno)))") }
    }
}
