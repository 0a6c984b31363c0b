import Foundation
import NIOCore
import NIOPosix

/// An HTTP/1.1 response as it came off the socket.
struct RawResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A deliberately small HTTP/1.1 client over a real TCP socket, so tests see the
/// exact bytes the gateway sends (and can send paths no URL type would allow,
/// such as `/../Package.swift`).
enum RawHTTPClient {
    static func connect(host: String = "127.0.0.1", port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// A request as a JSON client sends it: a non-empty body goes with
    /// `Content-Type: application/json` unless `headers` names another (or
    /// `Content-Type: ""` leaves the header out).
    static func requestText(
        _ method: String, _ target: String, headers: [String: String] = [:], body: String? = nil
    ) -> String {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        var headers = headers
        if let body, !body.isEmpty, !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
            headers["Content-Type"] = "application/json"
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) where !(name.lowercased() == "content-type" && value.isEmpty) {
            text += "\(name): \(value)\r\n"
        }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        return text
    }

    /// Sends one request with `Connection: close` and reads the whole answer.
    static func send(
        host: String = "127.0.0.1", port: Int, _ method: String, _ target: String, headers: [String: String] = [:], body: String? = nil
    ) async throws -> RawResponse {
        try await send(host: host, port: port, raw: requestText(method, target, headers: headers, body: body))
    }

    static func send(host: String = "127.0.0.1", port: Int, raw: String) async throws -> RawResponse {
        let channel = try await connect(host: host, port: port)
        let bytes = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: raw))
            var received: [UInt8] = []
            do {
                for try await chunk in inbound { received += chunk.readableBytesView }
            } catch {
                // The server may reset after answering; what arrived is the answer.
            }
            return received
        }
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    static func parse(_ text: String) throws -> RawResponse {
        guard let split = text.range(of: "\r\n\r\n") else { throw ClientError("no header end in: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ClientError("bad status line \(lines[0])") }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = String(text[split.upperBound...])
        let response = RawResponse(status: status, headers: headers, body: body)
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            body = dechunk(body)
        }
        return RawResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ text: String) -> String {
        var rest = Substring(text)
        var out = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let bytes = Array(rest[start...].utf8.prefix(size))
            out += String(decoding: bytes, as: UTF8.self)
            rest = rest[start...].dropFirst(String(decoding: bytes, as: UTF8.self).count).dropFirst(2)
        }
        return out
    }
}

struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// How long a gateway test may run before it is taken for hung. A bound on a hang,
/// not a speed check: the full suite runs every test at once, and on a loaded
/// 2-core CI machine a test that takes one second alone has taken over 100.
let hangBound: Duration = .seconds(300)

/// Runs `body`, failing if it outlasts ``hangBound``.
func withHangGuard<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: hangBound)
            throw ClientError("still running after \(hangBound): taken for hung")
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
