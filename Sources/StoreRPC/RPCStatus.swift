import StorePlatformEnvelope

public typealias RPCStatusCode = Storeplatform_V1_Code

/// The outcome of a call: a gRPC canonical code, the platform's string error
/// code, and a message for people.
public struct RPCStatus: Sendable, Hashable, CustomStringConvertible {
    public var code: RPCStatusCode
    public var errorCode: String
    public var message: String
    public var retryAfterMilliseconds: UInt64

    public init(code: RPCStatusCode, errorCode: String, message: String, retryAfterMilliseconds: UInt64 = 0) {
        self.code = code
        self.errorCode = errorCode
        self.message = message
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    public static let ok = RPCStatus(code: .ok, errorCode: "", message: "")

    public init(_ proto: Storeplatform_V1_Status) {
        self.init(
            code: proto.code,
            errorCode: proto.errorCode,
            message: proto.message,
            retryAfterMilliseconds: proto.retryAfterMs
        )
    }

    public var proto: Storeplatform_V1_Status {
        var status = Storeplatform_V1_Status()
        status.code = code
        status.errorCode = errorCode
        status.message = message
        status.retryAfterMs = retryAfterMilliseconds
        return status
    }

    public var description: String {
        code == .ok ? "OK" : "\(errorCode) (\(code)): \(message)"
    }
}

/// An error that knows the status it travels with. Handlers throw these; any
/// other error reaches the caller as INTERNAL_ERROR with the request id, and
/// its details stay in the log.
public protocol RPCStatusConvertible: Error {
    var rpcStatus: RPCStatus { get }
}

/// A failed call, as the client sees it, or as a handler reports it.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible, RPCStatusConvertible {
    public var status: RPCStatus
    /// Metadata of the failing response (it carries the request id).
    public var metadata: [String: String]

    public init(_ status: RPCStatus, metadata: [String: String] = [:]) {
        self.status = status
        self.metadata = metadata
    }

    public init(code: RPCStatusCode, errorCode: String, message: String) {
        self.init(RPCStatus(code: code, errorCode: errorCode, message: message))
    }

    public var rpcStatus: RPCStatus { status }
    public var code: RPCStatusCode { status.code }
    public var errorCode: String { status.errorCode }
    public var message: String { status.message }
    public var description: String { status.description }

    static func invalidArgument(_ message: String) -> RPCError {
        RPCError(code: .invalidArgument, errorCode: "INVALID_ARGUMENT", message: message)
    }
    static func unimplemented(_ message: String) -> RPCError {
        RPCError(code: .unimplemented, errorCode: "UNIMPLEMENTED", message: message)
    }
    static func resourceExhausted(_ message: String) -> RPCError {
        RPCError(code: .resourceExhausted, errorCode: "RESOURCE_EXHAUSTED", message: message)
    }
    static func unauthenticated(_ message: String) -> RPCError {
        RPCError(code: .unauthenticated, errorCode: "UNAUTHENTICATED", message: message)
    }
    static func permissionDenied(_ message: String) -> RPCError {
        RPCError(code: .permissionDenied, errorCode: "PERMISSION_DENIED", message: message)
    }
    static func unavailable(_ message: String) -> RPCError {
        RPCError(code: .unavailable, errorCode: "UNAVAILABLE", message: message)
    }
    static func deadlineExceeded(_ message: String) -> RPCError {
        RPCError(code: .deadlineExceeded, errorCode: "DEADLINE_EXCEEDED", message: message)
    }
    static func cancelled(_ message: String) -> RPCError {
        RPCError(code: .cancelled, errorCode: "CANCELLED", message: message)
    }
}
