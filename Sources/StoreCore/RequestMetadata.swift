/// The rules for the per-call metadata the platform keeps: the request id (echoed in
/// every answer, written to logs and to audit rows) and the idempotency key (stored
/// with the store it created). One implementation for both transports: RPC metadata
/// `request-id` and `idempotency-key`, HTTP headers `X-Request-Id` and
/// `Idempotency-Key` (header names are case-insensitive, so the messages name both).
///
/// An absent or empty value means "none" on both transports; a present one must
/// follow its rule. Lengths are counted in UTF-8 bytes, and checked before the
/// characters, so a message never quotes, or walks, an unbounded input.
public struct RequestMetadata: Sendable {
    /// The metadata key (RPC) and, case aside, the HTTP header's name.
    public let key: String
    /// The most bytes a value may have; at least one is needed.
    public let maxBytes: Int
    /// The allowed characters, as the refusal message states them.
    public let alphabet: String
    private let allows: @Sendable (UInt8) -> Bool

    private init(key: String, maxBytes: Int, alphabet: String, allows: @escaping @Sendable (UInt8) -> Bool) {
        self.key = key
        self.maxBytes = maxBytes
        self.alphabet = alphabet
        self.allows = allows
    }

    /// `request-id`: 1 to 128 of `A-Z a-z 0-9 - _ . :`, so an echoed id cannot smuggle
    /// anything into a header, a log line or a JSON body unescaped.
    public static let requestID = RequestMetadata(
        key: "request-id", maxBytes: 128, alphabet: "letters A-Z a-z, digits 0-9 and - _ . :"
    ) { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    /// `idempotency-key`: 1 to 128 printable ASCII characters without spaces (`!` to
    /// `~`), wider than the request id's alphabet so UUIDs, ULIDs and base64 keys
    /// that clients already make fit unchanged. It is stored, never echoed.
    public static let idempotencyKey = RequestMetadata(
        key: "idempotency-key", maxBytes: 128, alphabet: "printable ASCII characters ! to ~ (no spaces or control characters)"
    ) { byte in
        (0x21...0x7E).contains(byte)
    }

    /// The rule in words, as every refusal ends.
    public var rule: String {
        "\(key) must be 1 to \(maxBytes) \(alphabet)"
    }

    /// True when `value` follows the rule (an empty value does not).
    public func accepts(_ value: String) -> Bool {
        problem(with: value) == nil
    }

    /// Checks a value as a call carries it: nil or empty is "none" and passes.
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/invalidArgument`` and a message that
    ///   names the key, what is wrong (the length, or the first character not allowed,
    ///   with its position), the length limit and the allowed characters.
    public func check(_ value: String?) throws {
        guard let value, !value.isEmpty, let problem = problem(with: value) else { return }
        throw PlatformError(.invalidArgument, problem)
    }

    private func problem(with value: String) -> String? {
        let bytes = value.utf8.count
        if bytes == 0 { return "\(key) is empty; \(rule)" }
        if bytes > maxBytes { return "\(key) is \(bytes) bytes long; \(rule)" }
        for (offset, byte) in value.utf8.enumerated() where !allows(byte) {
            let shown = (0x21...0x7E).contains(byte) ? "\"\(Character(Unicode.Scalar(byte)))\"" : "byte 0x" + Self.hex(byte)
            return "\(key) contains \(shown) at byte \(offset + 1); \(rule)"
        }
        return nil
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
