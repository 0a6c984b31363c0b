import Synchronization

/// Request ids the server makes when a caller sends none: "req-" and 16 hex
/// digits, a random per-process prefix then a counter, so ids are unique
/// without asking the kernel for randomness on every call.
enum RequestID {
    private static let digits = Array("0123456789abcdef".utf8)
    private static let prefix = UInt64(UInt32.random(in: 0...UInt32.max)) << 32
    private static let counter = Atomic<UInt32>(0)

    static func make() -> String {
        var value = prefix | UInt64(counter.add(1, ordering: .relaxed).newValue)
        return String(unsafeUninitializedCapacity: 20) { buffer in
            buffer[0] = UInt8(ascii: "r")
            buffer[1] = UInt8(ascii: "e")
            buffer[2] = UInt8(ascii: "q")
            buffer[3] = UInt8(ascii: "-")
            for index in stride(from: 19, through: 4, by: -1) {
                buffer[index] = digits[Int(value & 0xF)]
                value >>= 4
            }
            return 20
        }
    }
}
