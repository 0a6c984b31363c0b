import NIOCore

/// Splits a byte stream into frames: a 4-byte unsigned big-endian length `N`, then
/// `N` bytes. Emits each frame's body as a slice of the received bytes (no copy).
///
/// A length over `maxFrameLength` is refused from the header alone, before any
/// of the body is buffered or allocated: decoding fails with
/// ``RPCProtocolError/frameTooLarge(length:limit:)``.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// Bytes of the length prefix.
    public static let headerLength = 4
    /// The default frame body limit: 4 MiB.
    public static let defaultMaxFrameLength = 4 * 1024 * 1024

    public let maxFrameLength: Int

    public init(maxFrameLength: Int = FrameDecoder.defaultMaxFrameLength) {
        precondition(maxFrameLength >= 0 && maxFrameLength <= Int(UInt32.max), "maxFrameLength out of range")
        self.maxFrameLength = maxFrameLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard Int(length) <= maxFrameLength else {
            throw RPCProtocolError.frameTooLarge(length: Int(length), limit: maxFrameLength)
        }
        guard buffer.readableBytes >= Self.headerLength + Int(length) else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}

/// A violation of the framing or envelope rules. The connection that sent it
/// gets an ERROR frame on stream 0 and is closed.
public enum RPCProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A frame header announced more bytes than the limit.
    case frameTooLarge(length: Int, limit: Int)
    /// A frame body did not parse as an `Envelope`.
    case malformedEnvelope(String)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .malformedEnvelope(let detail):
            "frame is not a valid storeplatform.v1.Envelope: \(detail)"
        }
    }

    /// The status sent on stream 0 before the connection is closed.
    public var status: RPCStatus {
        switch self {
        case .frameTooLarge:
            RPCStatus(code: .resourceExhausted, errorCode: "FRAME_TOO_LARGE", message: description)
        case .malformedEnvelope:
            RPCStatus(code: .invalidArgument, errorCode: "MALFORMED_ENVELOPE", message: description)
        }
    }
}
