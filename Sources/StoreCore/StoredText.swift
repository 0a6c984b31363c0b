/// The bounds on free text the platform stores and serves again: a store's error
/// message and an audit row's message (driver output can be megabytes), and an audit
/// row's actor (an HTTP caller's forwarded address comes from a header). The one
/// place these limits live.
///
/// Long text keeps its head and its tail — where tools print what they were doing and
/// how it ended — with a marker in between that says how much was cut:
/// `head… [N bytes cut] …tail`. Secrets must be redacted before the text gets here:
/// cutting first could leave part of one.
public enum StoredText {
    /// A head and a tail, in UTF-8 bytes.
    public struct Limit: Sendable, Equatable {
        public var headBytes: Int
        public var tailBytes: Int

        public init(headBytes: Int, tailBytes: Int) {
            self.headBytes = headBytes
            self.tailBytes = tailBytes
        }

        /// The longest text kept whole: head, tail and the room of the longest
        /// marker, so a cut always shortens the text and cutting again changes nothing.
        public var wholeBytes: Int { headBytes + tailBytes + StoredText.maxMarkerBytes }
    }

    /// Error messages and audit messages: 2 KiB of head and 2 KiB of tail.
    public static let messageLimit = Limit(headBytes: 2048, tailBytes: 2048)
    /// Audit actors and a store's `requested_by`: 128 bytes of head and 64 of tail.
    public static let actorLimit = Limit(headBytes: 128, tailBytes: 64)

    /// What replaces the middle of a cut text.
    public static func marker(cutBytes: Int) -> String {
        "… [\(cutBytes) bytes cut] …"
    }

    /// The longest marker, in bytes (a cut of `Int.max` bytes).
    public static let maxMarkerBytes = marker(cutBytes: .max).utf8.count

    /// `text` unchanged when it has at most `limit.wholeBytes` UTF-8 bytes; otherwise
    /// its first `headBytes` and last `tailBytes` bytes around ``marker(cutBytes:)``,
    /// each end moved inwards to a character boundary (never more than 3 bytes). The
    /// result is valid UTF-8 of at most `headBytes + tailBytes` plus the marker's
    /// bytes, exactly that for ASCII text; bounding it again returns it unchanged.
    public static func bounded(_ text: String, to limit: Limit) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > limit.wholeBytes else { return text }
        var headEnd = limit.headBytes
        while headEnd > 0, isContinuation(bytes[headEnd]) { headEnd -= 1 }
        var tailStart = bytes.count - limit.tailBytes
        while tailStart < bytes.count, isContinuation(bytes[tailStart]) { tailStart += 1 }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        let tail = String(decoding: bytes[tailStart...], as: UTF8.self)
        return head + marker(cutBytes: tailStart - headEnd) + tail
    }

    /// ``bounded(_:to:)`` with ``messageLimit``.
    public static func message(_ text: String) -> String {
        bounded(text, to: messageLimit)
    }

    /// ``bounded(_:to:)`` with ``actorLimit``.
    public static func actor(_ text: String) -> String {
        bounded(text, to: actorLimit)
    }

    private static func isContinuation(_ byte: UInt8) -> Bool {
        byte & 0xC0 == 0x80
    }
}
