import StoreCore
import Testing

@Suite struct RequestMetadataTests {
    static let requestIDRule = "request-id must be 1 to 128 letters A-Z a-z, digits 0-9 and - _ . :"
    static let keyRule = "idempotency-key must be 1 to 128 printable ASCII characters ! to ~ (no spaces or control characters)"

    @Test func absentOrEmptyMeansNone() throws {
        try RequestMetadata.requestID.check(nil)
        try RequestMetadata.requestID.check("")
        try RequestMetadata.idempotencyKey.check(nil)
        try RequestMetadata.idempotencyKey.check("")
        #expect(!RequestMetadata.requestID.accepts(""))
        #expect(!RequestMetadata.idempotencyKey.accepts(""))
    }

    @Test func oneHundredTwentyEightBytesPassAndOneMoreIsRefusedWithTheRule() throws {
        try RequestMetadata.requestID.check(String(repeating: "r", count: 128))
        try RequestMetadata.idempotencyKey.check(String(repeating: "k", count: 128))

        let longID = #expect(throws: PlatformError.self) { try RequestMetadata.requestID.check(String(repeating: "r", count: 129)) }
        #expect(longID?.code == .invalidArgument)
        #expect(longID?.message == "request-id is 129 bytes long; " + Self.requestIDRule)
        let longKey = #expect(throws: PlatformError.self) {
            try RequestMetadata.idempotencyKey.check(String(repeating: "k", count: 1 << 20))
        }
        #expect(longKey?.code == .invalidArgument)
        #expect(longKey?.message == "idempotency-key is 1048576 bytes long; " + Self.keyRule)
        // Lengths count UTF-8 bytes: 65 × "é" is 65 characters but 130 bytes.
        #expect(RequestMetadata.idempotencyKey.accepts(String(repeating: "é", count: 65)) == false)
    }

    @Test func theFirstCharacterOutsideTheAlphabetIsNamedWithItsPosition() {
        let slash = #expect(throws: PlatformError.self) { try RequestMetadata.requestID.check("abc/def") }
        #expect(slash?.message == #"request-id contains "/" at byte 4; "# + Self.requestIDRule)
        let newline = #expect(throws: PlatformError.self) { try RequestMetadata.requestID.check("id\nX-Injected: 1") }
        #expect(newline?.message == "request-id contains byte 0x0A at byte 3; " + Self.requestIDRule)
        let space = #expect(throws: PlatformError.self) { try RequestMetadata.idempotencyKey.check("two words") }
        #expect(space?.message == "idempotency-key contains byte 0x20 at byte 4; " + Self.keyRule)
        let accent = #expect(throws: PlatformError.self) { try RequestMetadata.idempotencyKey.check("clé") }
        #expect(accent?.message == "idempotency-key contains byte 0xC3 at byte 3; " + Self.keyRule)
    }

    @Test func theAlphabets() {
        #expect(RequestMetadata.requestID.accepts("req-0123456789abcdef"))
        #expect(RequestMetadata.requestID.accepts("Az09-_.:"))
        for refused in ["a b", "a/b", "a+b", "a=b", "a\"b", "a\u{7F}b"] {
            #expect(!RequestMetadata.requestID.accepts(refused), "\(refused)")
        }
        // UUIDs, base64 (standard and URL-safe) and every other printable ASCII character.
        #expect(RequestMetadata.idempotencyKey.accepts("3f2b8c1e-7d4a-4c55-9e0f-0a1b2c3d4e5f"))
        #expect(RequestMetadata.idempotencyKey.accepts("q83vEjRWeJA+/w=="))
        #expect(RequestMetadata.idempotencyKey.accepts(##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##))
        for refused in ["a b", "a\tb", "a\u{7F}b", "a\u{0}b"] {
            #expect(!RequestMetadata.idempotencyKey.accepts(refused), "\(refused)")
        }
    }
}
