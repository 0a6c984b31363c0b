/// The platform's error codes: the one table that maps each to its gRPC code and
/// HTTP status (docs/ARCHITECTURE.md, "Errors"). Raw values are the strings on the wire.
public enum ErrorCode: String, Sendable, CaseIterable, Hashable {
    case missingStoreName = "MISSING_STORE_NAME"
    case invalidStoreName = "INVALID_STORE_NAME"
    case invalidEngine = "INVALID_ENGINE"
    case engineUnavailable = "ENGINE_UNAVAILABLE"
    case storeNameTaken = "STORE_NAME_TAKEN"
    case quotaExceeded = "QUOTA_EXCEEDED"
    case rateLimited = "RATE_LIMITED"
    case notFound = "NOT_FOUND"
    case invalidStateTransition = "INVALID_STATE_TRANSITION"
    case operationInProgress = "OPERATION_IN_PROGRESS"
    case invalidJSON = "INVALID_JSON"
    case invalidArgument = "INVALID_ARGUMENT"
    case unauthenticated = "UNAUTHENTICATED"
    case permissionDenied = "PERMISSION_DENIED"
    case unimplemented = "UNIMPLEMENTED"
    case unavailable = "UNAVAILABLE"
    case internalError = "INTERNAL_ERROR"
    /// An HTTP request body in a media type the route does not take (it takes JSON).
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    /// An HTTP request whose header section is over the gateway's limits.
    case headersTooLarge = "HEADERS_TOO_LARGE"
    /// A WatchStores stream whose client fell a whole buffer behind; it ended after
    /// the events it was sent.
    case watchFellBehind = "WATCH_FELL_BEHIND"
    /// An HTTP request head or body that did not arrive whole within the
    /// gateway's header or body timeout.
    case requestTimeout = "REQUEST_TIMEOUT"
    /// An upgrade to a version the store's engine does not have.
    case unknownVersion = "UNKNOWN_VERSION"
    /// An upgrade to the version the store already runs.
    case alreadyOnVersion = "ALREADY_ON_VERSION"
    /// A rollback to a revision the store does not have, or to the one it runs.
    case unknownRevision = "UNKNOWN_REVISION"
    /// A fleet upgrade asked for while another is active (one at a time).
    case fleetUpgradeInProgress = "FLEET_UPGRADE_IN_PROGRESS"

    /// The gRPC canonical code this error travels with on the RPC wire.
    public var grpcCode: GRPCCode {
        Self.table[self]!.grpc
    }

    /// The HTTP status the gateway answers with.
    public var httpStatus: Int {
        Self.table[self]!.http
    }

    private static let table: [ErrorCode: (grpc: GRPCCode, http: Int)] = [
        .missingStoreName: (.invalidArgument, 400),
        .invalidStoreName: (.invalidArgument, 400),
        .invalidEngine: (.invalidArgument, 400),
        .engineUnavailable: (.failedPrecondition, 400),
        .storeNameTaken: (.alreadyExists, 409),
        .quotaExceeded: (.resourceExhausted, 429),
        .rateLimited: (.resourceExhausted, 429),
        .notFound: (.notFound, 404),
        .invalidStateTransition: (.failedPrecondition, 409),
        .operationInProgress: (.aborted, 409),
        .invalidJSON: (.invalidArgument, 400),
        .invalidArgument: (.invalidArgument, 400),
        .unauthenticated: (.unauthenticated, 401),
        .permissionDenied: (.permissionDenied, 403),
        .unimplemented: (.unimplemented, 501),
        .unavailable: (.unavailable, 503),
        .internalError: (.internal, 500),
        .unsupportedMediaType: (.invalidArgument, 415),
        .headersTooLarge: (.resourceExhausted, 431),
        .watchFellBehind: (.aborted, 409),
        .requestTimeout: (.deadlineExceeded, 408),
        .unknownVersion: (.invalidArgument, 400),
        .alreadyOnVersion: (.failedPrecondition, 409),
        .unknownRevision: (.invalidArgument, 400),
        .fleetUpgradeInProgress: (.failedPrecondition, 409),
    ]
}

/// The gRPC canonical status codes (`google.rpc.Code`), by their numbers: the RPC
/// envelope's `Code` (proto/storeplatform/v1/envelope.proto) has the same ones, and
/// the RPC transport carries them.
public enum GRPCCode: Int, Sendable, CaseIterable {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16
}
