import Foundation

struct BlockingHTTPFailure: Error, CustomStringConvertible {
    var description: String
}

/// A plain HTTP/1.1 GET (`Connection: close`) to the gateway on 127.0.0.1, made on a
/// thread of its own: its status and body. A gateway whose event loop is blocked
/// answers nothing: the read gives up after `timeout` seconds.
func blockingHTTPGet(port: Int, path: String, timeout: Double) async throws -> (status: Int, body: Data) {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try blockingHTTPGetOnThisThread(port: port, path: path, timeout: timeout) })
        }
    }
}

private func blockingHTTPGetOnThisThread(port: Int, path: String, timeout: Double) throws -> (status: Int, body: Data) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BlockingHTTPFailure(description: "socket failed") }
    defer { close(fd) }
    var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw BlockingHTTPFailure(description: "cannot connect to the gateway on port \(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { throw BlockingHTTPFailure(description: "write failed") }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count == 0 { break }
        guard count > 0 else { throw BlockingHTTPFailure(description: "GET \(path): no complete answer within \(timeout) s") }
        received += buffer[..<count]
    }
    let text = String(decoding: received, as: UTF8.self)
    let fields = text.prefix { $0 != "\r" && $0 != "\n" }.split(separator: " ")
    guard fields.count >= 2, let status = Int(fields[1]) else { throw BlockingHTTPFailure(description: "not an HTTP answer: \(text)") }
    let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (status, Data(body.utf8))
}
