import Foundation
import NIOCore
import StorePlatformEnvelope
import SwiftProtobuf
import Testing
import TestSupport

@testable import StoreRPC

/// The transport's hand-written envelope reader and writer (WireEnvelope.swift),
/// held to swift-protobuf's generated code on random envelopes and on random
/// damage to them: what one accepts the other accepts, with the same fields.
@Suite("Wire envelope")
struct WireEnvelopeTests {
    @Test(arguments: 0..<300)
    func anEnvelopeSwiftProtobufWritesIsReadTheSameOnTheFastPath(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        let envelope = Self.randomEnvelope(&generator)
        let body = ByteBuffer(bytes: try envelope.serializedBytes() as [UInt8])
        let fast = try #require(WireEnvelope.parseDeclaredFields(body), "the fast path handed \(envelope) on")
        #expect(fast == WireEnvelope(envelope))
        #expect(try WireEnvelope(parsing: body) == WireEnvelope(envelope))
    }

    @Test(arguments: 0..<2000)
    func damagedEnvelopesAreAcceptedOrRefusedExactlyAsSwiftProtobufDoes(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        var bytes: [UInt8] = try Self.randomEnvelope(&generator).serializedBytes()
        Self.damage(&bytes, &generator)
        let body = ByteBuffer(bytes: bytes)
        let expected = Result { try Envelope(serializedBytes: bytes) }
        let actual = Result { try WireEnvelope(parsing: body) }
        switch (expected, actual) {
        case (.success(let envelope), .success(let read)):
            #expect(read == WireEnvelope(envelope), "bytes \(bytes)")
        case (.failure(let expectedError), .failure(let error)):
            #expect("\(error)" == "\(expectedError)")
        default:
            Issue.record("swift-protobuf: \(expected), WireEnvelope: \(actual), bytes \(bytes)")
        }
        // What the fast path accepts, swift-protobuf reads the same.
        if let fast = WireEnvelope.parseDeclaredFields(body) {
            #expect(fast == WireEnvelope(try Envelope(serializedBytes: bytes)), "bytes \(bytes)")
        }
    }

    @Test(arguments: 0..<300)
    func aFrameTheServerWritesIsTheBytesSwiftProtobufWrites(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        var envelope = Envelope()
        envelope.streamID = UInt32(truncatingIfNeeded: generator.next() >> (generator.next() % 33))
        envelope.type = Self.randomFrameType(&generator)
        envelope.payload = Data(Self.randomBytes(&generator, upTo: 300))
        if generator.next() % 3 != 0 { envelope.status = Self.randomStatus(&generator) }
        let requestID = generator.next() % 3 == 0 ? nil : Self.randomString(&generator)
        if let requestID { envelope.metadata["request-id"] = requestID }

        var frame = WireEnvelope.frame(
            streamID: envelope.streamID, type: envelope.type, payload: ByteBuffer(bytes: envelope.payload),
            status: envelope.hasStatus ? RPCStatus(envelope.status) : nil, requestID: requestID,
            allocator: ByteBufferAllocator()
        )
        let header = frame.readInteger(endianness: .big, as: UInt32.self)
        let length = try #require(header)
        #expect(Int(length) == frame.readableBytes)
        let body = Array(frame.readableBytesView)
        #expect(try Envelope(serializedBytes: body) == envelope)
        let written: [UInt8] = try envelope.serializedBytes()
        #expect(body == written, "WireEnvelope wrote \(body), swift-protobuf \(written)")
    }

    @Test(arguments: 0..<300)
    func anyEnvelopeWrittenAsAFrameIsReadBackEquallyBySwiftProtobuf(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed))
        let envelope = Self.randomEnvelope(&generator)
        var frame = WireEnvelope(envelope).frame(allocator: ByteBufferAllocator())
        let header = frame.readInteger(endianness: .big, as: UInt32.self)
        #expect(header.map(Int.init) == frame.readableBytes)
        let body = Array(frame.readableBytesView)
        #expect(try Envelope(serializedBytes: body) == envelope)
        if envelope.metadata.count <= 1 {
            // A map's order is the dictionary's, so bytes compare only with one entry at most.
            let written: [UInt8] = try envelope.serializedBytes()
            #expect(body == written)
        }
    }

    // MARK: Random envelopes

    static func randomEnvelope(_ generator: inout SplitMix64) -> Envelope {
        var envelope = Envelope()
        if generator.next() % 4 != 0 { envelope.streamID = UInt32(truncatingIfNeeded: generator.next() >> (generator.next() % 33)) }
        envelope.type = randomFrameType(&generator)
        if generator.next() % 2 == 0 { envelope.method = randomString(&generator) }
        if generator.next() % 2 == 0 { envelope.payload = Data(randomBytes(&generator, upTo: 200)) }
        if generator.next() % 4 == 0 { envelope.status = randomStatus(&generator) }
        for _ in 0..<generator.next() % 4 {
            envelope.metadata[randomString(&generator)] = randomString(&generator)
        }
        if generator.next() % 3 == 0 { envelope.timeoutMs = generator.next() >> (generator.next() % 65) }
        return envelope
    }

    static func randomFrameType(_ generator: inout SplitMix64) -> StorePlatformFrameType {
        let value = generator.next() % 10 == 0 ? Int(Int32(truncatingIfNeeded: generator.next())) : Int(generator.next() % 7)
        return StorePlatformFrameType(rawValue: value)!
    }

    static func randomStatus(_ generator: inout SplitMix64) -> Storeplatform_V1_Status {
        var status = Storeplatform_V1_Status()
        status.code = Storeplatform_V1_Code(rawValue: Int(generator.next() % 17))!
        if generator.next() % 2 == 0 { status.errorCode = randomString(&generator) }
        if generator.next() % 2 == 0 { status.message = randomString(&generator) }
        if generator.next() % 3 == 0 { status.retryAfterMs = generator.next() >> (generator.next() % 65) }
        return status
    }

    /// Short strings of ASCII, accented letters, CJK and emoji.
    static func randomString(_ generator: inout SplitMix64) -> String {
        let pieces = ["a", "Z", "-", "/", "é", "ß", "店", "🛒", " ", "0"]
        return (0..<generator.next() % 12).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
    }

    static func randomBytes(_ generator: inout SplitMix64, upTo limit: UInt64) -> [UInt8] {
        (0..<generator.next() % limit).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    /// One to three kinds of damage: a byte changed, the end cut off, random
    /// bytes put in, an unknown or mistyped field added, a field repeated.
    static func damage(_ bytes: inout [UInt8], _ generator: inout SplitMix64) {
        for _ in 0...generator.next() % 3 {
            let at = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 7 {
            case 0 where !bytes.isEmpty:
                bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            case 1 where !bytes.isEmpty:
                bytes[at] ^= 1 << (generator.next() % 8)
            case 2:
                bytes.removeLast(Int(generator.next() % UInt64(bytes.count + 1)))
            case 3:
                bytes.insert(contentsOf: randomBytes(&generator, upTo: 6), at: at)
            case 4:
                // A field of any number and wire type, with a plausible body.
                let field = UInt64(generator.next() % 12)
                let wireType = UInt64(generator.next() % 8)
                bytes += varint(field << 3 | wireType)
                switch wireType {
                case 0: bytes += varint(generator.next() >> (generator.next() % 65))
                case 1: bytes += randomBytes(&generator, upTo: 9)
                case 2:
                    let body = randomBytes(&generator, upTo: 8)
                    bytes += varint(UInt64(body.count)) + body
                case 5: bytes += randomBytes(&generator, upTo: 5)
                default: break
                }
            case 5:
                // A second status, or a status with a field it does not declare.
                var status: [UInt8] = try! randomStatus(&generator).serializedBytes()
                if generator.next() % 2 == 0 { status += varint(9 << 3) + [1] }
                bytes += [5 << 3 | 2] + varint(UInt64(status.count)) + status
            default:
                // A metadata entry with invalid UTF-8, a missing key, or a stray field.
                var entry: [UInt8] = []
                switch generator.next() % 3 {
                case 0: entry = [1 << 3 | 2, 2, 0xC3, 0x28]
                case 1: entry = [2 << 3 | 2, 1, 0x41]
                default: entry = [1 << 3 | 2, 1, 0x41, 3 << 3, 1]
                }
                bytes += [6 << 3 | 2] + varint(UInt64(entry.count)) + entry
            }
        }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }
}
