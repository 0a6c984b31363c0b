import StoreCore

/// One call as a transport hands it to ``ControlPlane``: every transport (the RPC
/// router, the HTTP gateway) builds one and calls the same operation with it.
public struct CallContext: Sendable {
    /// Who calls, as the transport authenticated them.
    public var caller: Principal
    /// The request's id, for the audit log (the transport checked it against
    /// ``RequestMetadata/requestID``, or made one); nil when there is none.
    public var requestID: String?
    /// The caller's idempotency key (nil or empty: none); a create checks it against
    /// ``RequestMetadata/idempotencyKey``.
    public var idempotencyKey: String?
    /// When the caller stops waiting for the answer; nil when it did not say.
    public var deadline: ContinuousClock.Instant?

    public init(caller: Principal, requestID: String? = nil, idempotencyKey: String? = nil, deadline: ContinuousClock.Instant? = nil) {
        self.caller = caller
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.deadline = deadline
    }
}
