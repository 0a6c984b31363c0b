import Foundation

/// Reads the request bodies that client-go's typed clients send as protobuf
/// (`application/vnd.kubernetes.protobuf`): Helm stores its release records through
/// them. Only the kinds those clients write are understood: ConfigMap and Secret.
/// Responses are always JSON, which every client accepts.
enum KubernetesProtobuf {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// "k8s\0", then a runtime.Unknown: typeMeta (1: apiVersion 1, kind 2), raw (2).
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    static func decode(_ bytes: [UInt8]) throws -> JSON {
        guard bytes.starts(with: magic) else { throw Failure(description: "no k8s protobuf envelope") }
        var apiVersion = "", kind = ""
        var raw: [UInt8] = []
        for field in try fields(bytes[magic.count...]) {
            switch field.number {
            case 1:
                for meta in try fields(field.bytes[...]) {
                    if meta.number == 1 { apiVersion = meta.string }
                    if meta.number == 2 { kind = meta.string }
                }
            case 2: raw = field.bytes
            default: break
            }
        }
        var object: [String: JSON] = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        switch kind {
        case "ConfigMap":
            // metadata 1, data 2 (map<string,string>), binaryData 3 (map<string,bytes>), immutable 4
            var data: [String: JSON] = [:], binary: [String: JSON] = [:]
            for field in try fields(raw[...]) {
                switch field.number {
                case 1: object["metadata"] = try objectMeta(field.bytes)
                case 2: let (key, value) = try entry(field.bytes); data[key] = .string(String(decoding: value, as: UTF8.self))
                case 3: let (key, value) = try entry(field.bytes); binary[key] = .string(Data(value).base64EncodedString())
                case 4: object["immutable"] = .bool(field.varint != 0)
                default: break
                }
            }
            if !data.isEmpty { object["data"] = .object(data) }
            if !binary.isEmpty { object["binaryData"] = .object(binary) }
        case "Secret":
            // metadata 1, data 2 (map<string,bytes>), type 3, stringData 4, immutable 5
            var data: [String: JSON] = [:]
            for field in try fields(raw[...]) {
                switch field.number {
                case 1: object["metadata"] = try objectMeta(field.bytes)
                case 2: let (key, value) = try entry(field.bytes); data[key] = .string(Data(value).base64EncodedString())
                case 3: object["type"] = .string(field.string)
                case 4: let (key, value) = try entry(field.bytes); data[key] = .string(Data(value).base64EncodedString())
                case 5: object["immutable"] = .bool(field.varint != 0)
                default: break
                }
            }
            if !data.isEmpty { object["data"] = .object(data) }
        default:
            throw Failure(description: "the double reads no protobuf \(kind) (only ConfigMap and Secret); send JSON")
        }
        return .object(object)
    }

    /// ObjectMeta: name 1, generateName 2, namespace 3, uid 5, resourceVersion 6,
    /// generation 7, labels 11, annotations 12, finalizers 14.
    private static func objectMeta(_ bytes: [UInt8]) throws -> JSON {
        var meta: [String: JSON] = [:]
        var labels: [String: JSON] = [:], annotations: [String: JSON] = [:]
        var finalizers: [JSON] = []
        for field in try fields(bytes[...]) {
            switch field.number {
            case 1: meta["name"] = .string(field.string)
            case 2: meta["generateName"] = .string(field.string)
            case 3: meta["namespace"] = .string(field.string)
            case 5: meta["uid"] = .string(field.string)
            case 6: meta["resourceVersion"] = .string(field.string)
            case 7: meta["generation"] = .int(Int(field.varint))
            case 11: let (key, value) = try entry(field.bytes); labels[key] = .string(String(decoding: value, as: UTF8.self))
            case 12: let (key, value) = try entry(field.bytes); annotations[key] = .string(String(decoding: value, as: UTF8.self))
            case 14: finalizers.append(.string(field.string))
            default: break
            }
        }
        if !labels.isEmpty { meta["labels"] = .object(labels) }
        if !annotations.isEmpty { meta["annotations"] = .object(annotations) }
        if !finalizers.isEmpty { meta["finalizers"] = .array(finalizers) }
        return .object(meta)
    }

    struct Field {
        var number: Int
        var varint: UInt64 = 0
        var bytes: [UInt8] = []
        var string: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// A map entry: key 1, value 2.
    private static func entry(_ bytes: [UInt8]) throws -> (String, [UInt8]) {
        var key = "", value: [UInt8] = []
        for field in try fields(bytes[...]) {
            if field.number == 1 { key = field.string }
            if field.number == 2 { value = field.bytes }
        }
        return (key, value)
    }

    private static func fields(_ bytes: ArraySlice<UInt8>) throws -> [Field] {
        var result: [Field] = []
        var index = bytes.startIndex
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex, shift < 64 else { throw Failure(description: "truncated varint") }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let tag = try varint()
            var field = Field(number: Int(tag >> 3))
            switch tag & 7 {
            case 0: field.varint = try varint()
            case 1: index += 8
            case 2:
                let length = Int(try varint())
                guard length >= 0, bytes.endIndex - index >= length else { throw Failure(description: "truncated field") }
                field.bytes = Array(bytes[index..<index + length])
                index += length
            case 5: index += 4
            default: throw Failure(description: "unsupported wire type \(tag & 7)")
            }
            guard index <= bytes.endIndex else { throw Failure(description: "truncated field") }
            result.append(field)
        }
        return result
    }
}
