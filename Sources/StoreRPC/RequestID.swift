import Synchronization

/// Request ids the server makes when a caller sends none: "req-" and 11
/// characters of `A-Z a-z 0-9 - _`, the 64 bits of a random per-process prefix
/// then a counter, so ids are unique without asking the kernel for randomness on
/// every call. Fifteen bytes: Swift keeps a string that short inside the value,
/// so making, copying and dropping an id allocates nothing and counts no
/// references.
enum RequestID {
    /// A string literal's bytes: read in place, with no lazily made global to check on every call.
    private static let digits: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    private static let prefix = UInt64(UInt32.random(in: 0...UInt32.max)) << 32
    private static let counter = Atomic<UInt32>(0)
    /// "req-" and the 11 digits of 64 bits in base 64.
    static let length = 15

    static func make() -> String {
        var value = prefix | UInt64(counter.add(1, ordering: .relaxed).newValue)
        let digits = Self.digits.utf8Start
        return String(unsafeUninitializedCapacity: length) { buffer in
            buffer[0] = UInt8(ascii: "r")
            buffer[1] = UInt8(ascii: "e")
            buffer[2] = UInt8(ascii: "q")
            buffer[3] = UInt8(ascii: "-")
            for index in stride(from: length - 1, through: 4, by: -1) {
                buffer[index] = digits[Int(value & 0x3F)]
                value >>= 6
            }
            return length
        }
    }
}
