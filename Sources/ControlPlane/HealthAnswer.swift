import NIOCore
import StorePlatformProto
import SwiftProtobuf
import Synchronization

/// Health's answer as the RPC server sends it, pre-encoded: while the database
/// answers, everything in `HealthResponse` but the uptime is fixed for the
/// daemon's life, so the fields before and after `uptime_seconds` are serialized
/// once and each call only splices in the current uptime (a double is its tag and
/// eight bytes). The bytes are swift-protobuf's for the same message, fields in
/// number order (`HealthAnswerTests`). The HTTP gateway's `HealthEncoder` does the
/// same for its JSON.
///
/// The calls of one millisecond share one encoded answer (``encoded(uptimeNanoseconds:)``):
/// at hundreds of thousands of calls a second, a buffer of its own per call (with
/// the uptime's clock arithmetic) was 13 % of the daemon's CPU per Health call
/// (BENCHMARKS.md, "RPC").
final class HealthAnswer: Sendable {
    /// `uptime_seconds` (field 3) as a 64-bit value: tag 3 << 3 | 1.
    private static let uptimeTag: UInt8 = 0x19
    /// Fields 1 and 2 (status, version).
    private let head: [UInt8]
    /// The fields after it (4 onwards).
    private let tail: [UInt8]
    /// The millisecond of uptime last answered, and its answer.
    private let last = Mutex<(millisecond: UInt64, answer: ByteBuffer)?>(nil)

    /// - Parameter template: the answer while the database answers; its uptime is ignored.
    init(_ template: Storeplatform_V1_HealthResponse) throws {
        var head = Storeplatform_V1_HealthResponse()
        head.status = template.status
        head.version = template.version
        var tail = template
        tail.status = ""
        tail.version = ""
        tail.uptimeSeconds = 0
        self.head = try head.serializedBytes()
        self.tail = try tail.serializedBytes()
    }

    /// The answer with `uptime` in place, in a buffer of its own. An uptime of
    /// exactly 0, which swift-protobuf would leave out, is written as 0: it reads
    /// back the same.
    func encoded(uptime: Double) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.count + 9 + tail.count)
        buffer.writeBytes(head)
        buffer.writeInteger(Self.uptimeTag)
        buffer.writeInteger(uptime.bitPattern, endianness: .little)
        buffer.writeBytes(tail)
        return buffer
    }

    /// The answer for an uptime: the one already made in the same millisecond
    /// (its uptime that of the first call in it, at most 1 ms behind), or a new one.
    func encoded(uptimeNanoseconds: UInt64) -> ByteBuffer {
        let millisecond = uptimeNanoseconds / 1_000_000
        return last.withLock { last in
            if let last, last.millisecond == millisecond { return last.answer }
            let answer = encoded(uptime: Double(uptimeNanoseconds) / 1e9)
            last = (millisecond, answer)
            return answer
        }
    }
}
