import Glibc
import NIOCore
import StorePlatformEnvelope
import SwiftProtobuf

public typealias Envelope = Storeplatform_V1_Envelope
public typealias StorePlatformFrameType = Storeplatform_V1_FrameType

/// One frame's envelope (proto/storeplatform/v1/envelope.proto) as the server and
/// the client read and write it: the payload stays a slice of the frame it came
/// in, and metadata is only built when the frame has some.
///
/// Envelopes are read and written here by hand because every call pays for it:
/// with swift-protobuf's general code, writing the envelope took 14 % of the
/// daemon's CPU per Health call and reading it about 16 % (BENCHMARKS.md, "Re-run
/// with the HTTP gateway in the binary"). Reading takes a fast path for what peers
/// send — the fields envelope.proto declares, each in its own wire type — and
/// hands anything else to swift-protobuf (an unknown field, another wire type, a
/// second status, anything malformed), so what is accepted, and the error for
/// what is not, stay exactly swift-protobuf's.
/// `WireEnvelopeTests` hold both directions to swift-protobuf on random envelopes
/// and random damage.
struct WireEnvelope: Sendable, Equatable {
    var streamID: UInt32 = 0
    var type: StorePlatformFrameType = .unspecified
    var method = ""
    var payload = ByteBuffer()
    var status: RPCStatus?
    var metadata: [String: String] = [:]
    var timeoutMs: UInt64 = 0

    init() {}

    /// The status; an envelope without one says OK, as its generated code reads.
    var statusOrOK: RPCStatus { status ?? .ok }

    /// Parses one frame body. A method name equal to `knownMethod` (the one the
    /// connection's previous request named) is that string, not a new one.
    ///
    /// - Throws: swift-protobuf's error for a body that is not an `Envelope`.
    init(parsing body: ByteBuffer, knownMethod: String = "") throws {
        self.init()
        if readDeclaredFields(body, knownMethod: knownMethod) { return }
        self.init(try Envelope(serializedBytes: ProtobufBytes(body)))
    }

    init(_ envelope: Envelope) {
        streamID = envelope.streamID
        type = envelope.type
        method = envelope.method
        payload = ByteBuffer(bytes: envelope.payload)
        status = envelope.hasStatus ? RPCStatus(envelope.status) : nil
        metadata = envelope.metadata
        timeoutMs = envelope.timeoutMs
    }

    /// The fast path: nil when the body holds anything but the declared fields in
    /// their own wire types, well formed.
    static func parseDeclaredFields(_ body: ByteBuffer, knownMethod: String = "") -> WireEnvelope? {
        var envelope = WireEnvelope()
        return envelope.readDeclaredFields(body, knownMethod: knownMethod) ? envelope : nil
    }

    /// ``parseDeclaredFields(_:knownMethod:)`` into this envelope, made empty
    /// (the envelope is read in place, not copied out): false, with the envelope
    /// partly read, when the fast path does not apply.
    private mutating func readDeclaredFields(_ body: ByteBuffer, knownMethod: String) -> Bool {
        body.withUnsafeReadableBytes { bytes -> Bool in
            var reader = ProtobufReader(bytes)
            while !reader.isAtEnd {
                guard let (field, wireType) = reader.tag() else { return false }
                switch (field, wireType) {
                case (1, .varint):
                    guard let value = reader.varint() else { return false }
                    self.streamID = UInt32(truncatingIfNeeded: value)
                case (2, .varint):
                    guard let value = reader.varint(),
                        let type = StorePlatformFrameType(rawValue: Int(Int32(truncatingIfNeeded: value)))
                    else { return false }
                    self.type = type
                case (3, .lengthDelimited):
                    guard let method = reader.string(reusing: knownMethod) else { return false }
                    self.method = method
                case (4, .lengthDelimited):
                    guard let range = reader.lengthDelimited() else { return false }
                    self.payload = body.getSlice(at: body.readerIndex + range.lowerBound, length: range.count)!
                case (5, .lengthDelimited):
                    // A second status merges into the first: swift-protobuf's to do.
                    guard self.status == nil, let range = reader.lengthDelimited(),
                        let status = Self.parseStatus(ProtobufReader(UnsafeRawBufferPointer(rebasing: bytes[range])))
                    else { return false }
                    self.status = status
                case (6, .lengthDelimited):
                    guard let range = reader.lengthDelimited(),
                        let (key, value) = Self.parseMetadataEntry(ProtobufReader(UnsafeRawBufferPointer(rebasing: bytes[range])))
                    else { return false }
                    self.metadata[key] = value
                case (7, .varint):
                    guard let value = reader.varint() else { return false }
                    self.timeoutMs = value
                default:
                    return false
                }
            }
            return true
        }
    }

    private static func parseStatus(_ reader: ProtobufReader) -> RPCStatus? {
        var reader = reader
        var status = RPCStatus(code: .ok, errorCode: "", message: "")
        while !reader.isAtEnd {
            guard let (field, wireType) = reader.tag() else { return nil }
            switch (field, wireType) {
            case (1, .varint):
                guard let value = reader.varint(),
                    let code = RPCStatusCode(rawValue: Int(Int32(truncatingIfNeeded: value)))
                else { return nil }
                status.code = code
            case (2, .lengthDelimited):
                guard let text = reader.string() else { return nil }
                status.errorCode = text
            case (3, .lengthDelimited):
                guard let text = reader.string() else { return nil }
                status.message = text
            case (4, .varint):
                guard let value = reader.varint() else { return nil }
                status.retryAfterMilliseconds = value
            default:
                return nil
            }
        }
        return status
    }

    /// A map entry: key 1 and value 2, each absent meaning "".
    private static func parseMetadataEntry(_ reader: ProtobufReader) -> (String, String)? {
        var reader = reader
        var key = ""
        var value = ""
        while !reader.isAtEnd {
            guard let (field, wireType) = reader.tag() else { return nil }
            switch (field, wireType) {
            case (1, .lengthDelimited):
                guard let text = reader.string() else { return nil }
                key = text
            case (2, .lengthDelimited):
                guard let text = reader.string() else { return nil }
                value = text
            default:
                return nil
            }
        }
        return (key, value)
    }
}

// MARK: Writing

extension WireEnvelope {
    /// This envelope as one complete frame, in a buffer of its own of the exact
    /// size (what a client sends).
    func frame(allocator: ByteBufferAllocator) -> ByteBuffer {
        var frame = allocator.buffer(capacity: 0)
        Self.writeFrame(
            into: &frame, streamID: streamID, type: type, method: method, payload: payload, status: status,
            metadata: metadata, timeoutMs: timeoutMs
        )
        return frame
    }

    /// One complete frame the server sends — no method, no timeout, and the
    /// request id as its only metadata — in a buffer of its own of the exact size.
    static func frame(
        streamID: UInt32,
        type: StorePlatformFrameType,
        payload: ByteBuffer? = nil,
        status: RPCStatus? = nil,
        requestID: String? = nil,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var frame = allocator.buffer(capacity: 0)
        writeFrame(into: &frame, streamID: streamID, type: type, payload: payload, status: status, requestID: requestID)
        return frame
    }

    /// Appends one complete frame the server sends (see
    /// ``frame(streamID:type:payload:status:requestID:allocator:)``) to `frame`.
    static func writeFrame(
        into frame: inout ByteBuffer,
        streamID: UInt32,
        type: StorePlatformFrameType,
        payload: ByteBuffer? = nil,
        status: RPCStatus? = nil,
        requestID: String? = nil
    ) {
        if let requestID {
            writeFrame(
                into: &frame, streamID: streamID, type: type, method: "", payload: payload, status: status,
                metadata: CollectionOfOne((key: requestIDKey, value: requestID)), timeoutMs: 0
            )
        } else {
            writeFrame(
                into: &frame, streamID: streamID, type: type, method: "", payload: payload, status: status,
                metadata: EmptyCollection(), timeoutMs: 0
            )
        }
    }

    /// Appends one complete frame — the 4-byte length and the envelope — to
    /// `frame`, growing it once at most. Fields at their default are left out and
    /// the rest written in field order, as swift-protobuf writes them.
    static func writeFrame<Metadata: Collection<(key: String, value: String)>>(
        into frame: inout ByteBuffer,
        streamID: UInt32,
        type: StorePlatformFrameType,
        method: String,
        payload: ByteBuffer?,
        status: RPCStatus?,
        metadata: Metadata,
        timeoutMs: UInt64
    ) {
        let payloadLength = payload?.readableBytes ?? 0
        let statusSize = status.map(Self.statusSize)
        var size = 0
        if streamID != 0 { size += 1 + ProtobufWriter.varintSize(UInt64(streamID)) }
        if type.rawValue != 0 { size += 1 + ProtobufWriter.varintSize(enumValue: type.rawValue) }
        size += ProtobufWriter.stringSize(method)
        if payloadLength > 0 { size += ProtobufWriter.lengthDelimitedSize(payloadLength) }
        if let statusSize { size += ProtobufWriter.lengthDelimitedSize(statusSize) }
        for entry in metadata {
            size += ProtobufWriter.lengthDelimitedSize(Self.entrySize(entry))
        }
        if timeoutMs != 0 { size += 1 + ProtobufWriter.varintSize(timeoutMs) }

        frame.writeWithUnsafeMutableBytes(minimumWritableBytes: FrameDecoder.headerLength + size) { bytes in
            var writer = ProtobufWriter(bytes)
            writer.bigEndian(UInt32(size))
            if streamID != 0 {
                writer.tag(1, .varint)
                writer.varint(UInt64(streamID))
            }
            if type.rawValue != 0 {
                writer.tag(2, .varint)
                writer.varint(enumValue: type.rawValue)
            }
            writer.string(method, field: 3)
            if let payload, payloadLength > 0 {
                writer.tag(4, .lengthDelimited)
                writer.varint(UInt64(payloadLength))
                payload.withUnsafeReadableBytes { writer.bytes($0) }
            }
            if let status, let statusSize {
                writer.tag(5, .lengthDelimited)
                writer.varint(UInt64(statusSize))
                if status.code.rawValue != 0 {
                    writer.tag(1, .varint)
                    writer.varint(enumValue: status.code.rawValue)
                }
                writer.string(status.errorCode, field: 2)
                writer.string(status.message, field: 3)
                if status.retryAfterMilliseconds != 0 {
                    writer.tag(4, .varint)
                    writer.varint(status.retryAfterMilliseconds)
                }
            }
            for entry in metadata {
                writer.tag(6, .lengthDelimited)
                writer.varint(UInt64(Self.entrySize(entry)))
                writer.string(entry.key, field: 1, evenIfEmpty: true)
                writer.string(entry.value, field: 2, evenIfEmpty: true)
            }
            if timeoutMs != 0 {
                writer.tag(7, .varint)
                writer.varint(timeoutMs)
            }
            return writer.written
        }
    }

    private static let requestIDKey = "request-id"

    /// A map entry has its key and value even when empty, as swift-protobuf writes it.
    private static func entrySize(_ entry: (key: String, value: String)) -> Int {
        ProtobufWriter.lengthDelimitedSize(entry.key.utf8.count) + ProtobufWriter.lengthDelimitedSize(entry.value.utf8.count)
    }

    private static func statusSize(_ status: RPCStatus) -> Int {
        var size = 0
        if status.code.rawValue != 0 { size += 1 + ProtobufWriter.varintSize(enumValue: status.code.rawValue) }
        size += ProtobufWriter.stringSize(status.errorCode)
        size += ProtobufWriter.stringSize(status.message)
        if status.retryAfterMilliseconds != 0 { size += 1 + ProtobufWriter.varintSize(status.retryAfterMilliseconds) }
        return size
    }
}

// MARK: Wire format

/// Protobuf's wire types (protobuf.dev/programming-guides/encoding).
enum ProtobufWireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Reads protobuf's wire format from raw bytes; nil from any read means the
/// bytes are not what was asked for (truncated, too long, not UTF-8).
struct ProtobufReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index == bytes.count }

    /// A field's number and wire type, as swift-protobuf reads a tag: a varint
    /// of at most 32 bits whose field number is not 0.
    mutating func tag() -> (Int, ProtobufWireType)? {
        guard let tag = varint(), tag <= UInt64(UInt32.max), tag >> 3 != 0,
            let wireType = ProtobufWireType(rawValue: UInt8(tag & 7))
        else { return nil }
        return (Int(tag >> 3), wireType)
    }

    /// A varint of at most 10 bytes; bits past the 64th are dropped, as
    /// swift-protobuf drops them.
    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// The range of a length-delimited field's bytes.
    mutating func lengthDelimited() -> Range<Int>? {
        guard let length = varint(), length <= UInt64(bytes.count - index) else { return nil }
        let range = index..<index + Int(length)
        index = range.upperBound
        return range
    }

    /// A length-delimited field read as UTF-8. ASCII, what names and ids are,
    /// needs no check past its bytes' high bits. When its bytes are `known`'s,
    /// `known` itself is returned: no new string is made.
    mutating func string(reusing known: String = "") -> String? {
        guard let range = lengthDelimited() else { return nil }
        if range.isEmpty { return "" }
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self)
        let isKnown = known.utf8.count == utf8.count && known.utf8.withContiguousStorageIfAvailable {
            memcmp($0.baseAddress!, utf8.baseAddress!, utf8.count) == 0
        } == true
        if isKnown { return known }
        if utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: utf8, as: UTF8.self)
        }
        return String(validating: utf8, as: UTF8.self)
    }
}

/// Writes protobuf's wire format into memory sized beforehand with its `…Size`
/// functions; writing past the end is a programming error.
struct ProtobufWriter {
    private let bytes: UnsafeMutableRawBufferPointer
    private(set) var written = 0

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    /// An enum value's varint: a negative one takes ten bytes, as int32 does.
    static func varintSize(enumValue: Int) -> Int {
        varintSize(UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: enumValue))))
    }

    static func lengthDelimitedSize(_ length: Int) -> Int {
        1 + varintSize(UInt64(length)) + length
    }

    /// A string field's size; 0 when it is empty (left out).
    static func stringSize(_ text: String) -> Int {
        let length = text.utf8.count
        return length == 0 ? 0 : lengthDelimitedSize(length)
    }

    private mutating func byte(_ value: UInt8) {
        precondition(written < bytes.count, "a protobuf write past its reserved size")
        bytes[written] = value
        written += 1
    }

    mutating func bigEndian(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            byte(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// A tag of a field number under 16: one byte.
    mutating func tag(_ field: UInt8, _ wireType: ProtobufWireType) {
        byte(field << 3 | wireType.rawValue)
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(value))
    }

    mutating func varint(enumValue: Int) {
        varint(UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: enumValue))))
    }

    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        precondition(source.count <= bytes.count - written, "a protobuf write past its reserved size")
        UnsafeMutableRawBufferPointer(rebasing: bytes[written...]).copyMemory(from: source)
        written += source.count
    }

    /// A string field, left out when empty unless `evenIfEmpty`.
    mutating func string(_ text: String, field: UInt8, evenIfEmpty: Bool = false) {
        var text = text
        let length = text.utf8.count
        guard length > 0 || evenIfEmpty else { return }
        tag(field, .lengthDelimited)
        varint(UInt64(length))
        text.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }
}
