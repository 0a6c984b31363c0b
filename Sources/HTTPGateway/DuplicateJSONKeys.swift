/// Finds a key that appears twice in one JSON object. SwiftProtobuf's JSON
/// decoding keeps the last value of a repeated key, so `{"name":"a","name":"b"}`
/// would create "b" while a log or a proxy that reads the first shows "a"; the
/// gateway refuses such bodies instead.
///
/// Meant for bodies that already decoded: it walks well-formed JSON, compares
/// keys after unescaping (`"n\u0061me"` is `"name"`), and gives up quietly (nil)
/// on anything malformed or nested deeper than ``maxDepth``.
enum DuplicateJSONKeys {
    static let maxDepth = 100

    /// The first key found twice in the same object, or nil.
    static func first(in bytes: [UInt8]) -> String? {
        var scanner = Scanner(bytes: bytes)
        return try? scanner.value(depth: 0)
    }

    private struct Malformed: Error {}

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        /// Skips one value; returns the first duplicate key inside it, if any.
        mutating func value(depth: Int) throws -> String? {
            guard depth < DuplicateJSONKeys.maxDepth else { throw Malformed() }
            skipWhitespace()
            guard index < bytes.count else { throw Malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""):
                _ = try string()
                return nil
            default:
                // A number, true, false or null: up to the next delimiter.
                while index < bytes.count, !Self.isDelimiter(bytes[index]) { index += 1 }
                return nil
            }
        }

        private mutating func object(depth: Int) throws -> String? {
            index += 1
            var keys: Set<String> = []
            skipWhitespace()
            if try consume(UInt8(ascii: "}")) { return nil }
            while true {
                skipWhitespace()
                let key = try string()
                if !keys.insert(key).inserted { return key }
                skipWhitespace()
                guard try consume(UInt8(ascii: ":")) else { throw Malformed() }
                if let duplicate = try value(depth: depth + 1) { return duplicate }
                skipWhitespace()
                if try consume(UInt8(ascii: "}")) { return nil }
                guard try consume(UInt8(ascii: ",")) else { throw Malformed() }
            }
        }

        private mutating func array(depth: Int) throws -> String? {
            index += 1
            skipWhitespace()
            if try consume(UInt8(ascii: "]")) { return nil }
            while true {
                if let duplicate = try value(depth: depth + 1) { return duplicate }
                skipWhitespace()
                if try consume(UInt8(ascii: "]")) { return nil }
                guard try consume(UInt8(ascii: ",")) else { throw Malformed() }
            }
        }

        /// A string literal, unescaped.
        private mutating func string() throws -> String {
            guard try consume(UInt8(ascii: "\"")) else { throw Malformed() }
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll(keepingCapacity: true)
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    flush()
                    scalars.append(try escape())
                default:
                    raw.append(byte)
                }
            }
            throw Malformed()
        }

        private mutating func escape() throws -> Unicode.Scalar {
            guard index < bytes.count else { throw Malformed() }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let unit = try hex4()
                if (0xD800..<0xDC00).contains(unit) {
                    // A high surrogate must be followed by \u and a low one.
                    guard try consume(UInt8(ascii: "\\")), try consume(UInt8(ascii: "u")) else { throw Malformed() }
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Malformed() }
                    let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    guard let scalar = Unicode.Scalar(value) else { throw Malformed() }
                    return scalar
                }
                guard let scalar = Unicode.Scalar(unit) else { throw Malformed() }
                return scalar
            default: throw Malformed()
            }
        }

        private mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count,
                let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
            else { throw Malformed() }
            index += 4
            return value
        }

        private mutating func consume(_ byte: UInt8) throws -> Bool {
            guard index < bytes.count else { throw Malformed() }
            guard bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func skipWhitespace() {
            while index < bytes.count, Self.isWhitespace(bytes[index]) { index += 1 }
        }

        private static func isWhitespace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }

        private static func isDelimiter(_ byte: UInt8) -> Bool {
            isWhitespace(byte) || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}")
        }
    }
}
