import NIOCore
import NIOEmbedded
import RPCTestSupport
import TestSupport
import Testing

@testable import StoreRPC

@Suite("Frame decoder")
struct FrameDecoderTests {
    static func frame(_ body: [UInt8]) -> [UInt8] { BlockingFrameSocket.frame(body) }

    /// Feeds `chunks` to a decoder channel and returns the frames it emitted.
    static func decode(_ chunks: [[UInt8]], max: Int = 1024) throws -> [[UInt8]] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameLength: max)))
        var frames: [[UInt8]] = []
        for chunk in chunks {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
            while let frame = try channel.readInbound(as: ByteBuffer.self) {
                frames.append(Array(frame.readableBytesView))
            }
        }
        _ = try channel.finish()
        return frames
    }

    let bodies: [[UInt8]] = [Array("first".utf8), [], Array(repeating: 7, count: 300), [0, 1, 2]]

    @Test func framesSplitAtEveryByteBoundaryDecode() throws {
        let stream = bodies.flatMap(Self.frame)
        for split in 0...stream.count {
            let frames = try Self.decode([Array(stream[..<split]), Array(stream[split...])])
            #expect(frames == bodies, "split at \(split)")
        }
    }

    @Test func framesDeliveredOneByteAtATimeDecode() throws {
        let stream = bodies.flatMap(Self.frame)
        #expect(try Self.decode(stream.map { [$0] }) == bodies)
    }

    @Test func coalescedFramesInOneReadAllDecode() throws {
        #expect(try Self.decode([bodies.flatMap(Self.frame)]) == bodies)
    }

    @Test func zeroLengthFrameDecodesToEmptyBody() throws {
        #expect(try Self.decode([[0, 0, 0, 0]]) == [[]])
    }

    @Test func frameOfExactlyTheMaximumIsAccepted() throws {
        let body = [UInt8](repeating: 0xAB, count: 1024)
        #expect(try Self.decode([Self.frame(body)], max: 1024) == [body])
    }

    @Test func frameOfMaximumPlusOneIsRefusedFromTheHeaderAlone() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameLength: 1024)))
        // Only the 4 header bytes: the decoder must refuse before any body arrives.
        #expect(throws: RPCProtocolError.frameTooLarge(length: 1025, limit: 1024)) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0x04, 0x01]))
        }
    }

    @Test func hugeAnnouncedLengthIsRefusedWithoutBuffering() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: RPCProtocolError.frameTooLarge(length: Int(UInt32.max), limit: FrameDecoder.defaultMaxFrameLength)) {
            try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]))
        }
    }

    @Test(arguments: 0..<200)
    func randomBytesNeverCrashOrExceedTheLimit(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        let max = 64
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameLength: max)))
        var failed = false
        for _ in 0..<20 where !failed {
            let count = Int(generator.next() % 40)
            let chunk = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch let error as RPCProtocolError {
                if case .frameTooLarge(let length, _) = error { #expect(length > max) }
                failed = true
            }
            while let frame = try channel.readInbound(as: ByteBuffer.self) {
                #expect(frame.readableBytes <= max)
                // Random bodies mostly fail to parse; what parses stays inside its frame.
                if let envelope = try? WireEnvelope(parsing: frame) {
                    #expect(envelope.payload.readableBytes <= max)
                }
            }
        }
        _ = try? channel.finish()
    }
}
