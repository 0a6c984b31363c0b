/// The one error type of the platform: a code from the table in ``ErrorCode``, a
/// message for people (what happened and what to do), and an optional cause
/// for logs. Messages never contain secrets.
public struct PlatformError: Error, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// For ``ErrorCode/rateLimited``: how long the caller should wait.
    public var retryAfterMilliseconds: UInt64
    /// The underlying error, for logs only; never sent to a client.
    public var cause: (any Error)?

    public init(_ code: ErrorCode, _ message: String, retryAfterMilliseconds: UInt64 = 0, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.cause = cause
    }

    public var description: String {
        "\(code.rawValue): \(message)"
    }

    /// ``ErrorCode/notFound`` for a store id no store has.
    public static func storeNotFound(_ storeID: String) -> PlatformError {
        PlatformError(.notFound, "no store with id \(storeID.quotedForMessage)")
    }
}
