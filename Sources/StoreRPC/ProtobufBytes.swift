import NIOCore
import SwiftProtobuf

/// Lets swift-protobuf parse from and serialize into a `ByteBuffer` directly,
/// without an intermediate `[UInt8]`. When swift-protobuf allocates one for
/// serializing, it reserves the frame header in front of the message, so the
/// finished frame is this same buffer: one allocation, no copy.
struct ProtobufBytes: SwiftProtobufContiguousBytes {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    init(repeating: UInt8, count: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: FrameDecoder.headerLength + count)
        buffer.writeRepeatingByte(0, count: FrameDecoder.headerLength)
        buffer.writeRepeatingByte(repeating, count: count)
        buffer.moveReaderIndex(forwardBy: FrameDecoder.headerLength)
    }

    /// The frame: the 4-byte length header (in the reserved space when there is
    /// some, else in a new buffer) followed by the message.
    func framed(allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = UInt32(buffer.readableBytes)
        if buffer.readerIndex >= FrameDecoder.headerLength {
            var frame = buffer
            frame.moveReaderIndex(to: buffer.readerIndex - FrameDecoder.headerLength)
            frame.setInteger(length, at: frame.readerIndex, endianness: .big)
            return frame
        }
        var frame = allocator.buffer(capacity: FrameDecoder.headerLength + buffer.readableBytes)
        frame.writeInteger(length, endianness: .big)
        frame.writeImmutableBuffer(buffer)
        return frame
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        buffer = ByteBuffer(bytes: sequence)
    }

    var count: Int { buffer.readableBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes(body)
    }
}
