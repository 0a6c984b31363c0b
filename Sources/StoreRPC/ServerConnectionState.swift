import NIOCore

/// The calls of one server connection, as a value: the stream-id rules, the
/// in-flight limit, draining, and which calls have ended. It does no I/O; its
/// owner, ``ServerConnectionHandler``, keeps it on the connection's event loop
/// and acts on what each change returns (write a final frame, cancel a task,
/// close). A call ends exactly once — by its handler, its deadline, a CANCEL or
/// the connection closing — and only that first ending may write a final frame.
struct ServerConnectionState {
    struct Call {
        /// The call's task, once the async side started it.
        var task: Task<Void, Never>?
        /// Its deadline.
        var timer: Scheduled<Void>?
        let isStream: Bool
        /// Ended (answered, cancelled, past its deadline); its handler may still
        /// be returning.
        var ended = false
    }

    private(set) var calls: [UInt32: Call] = [:]
    private var lastStreamID: UInt32 = 0
    private(set) var draining = false
    let maxInFlight: Int

    init(maxInFlight: Int) {
        self.maxInFlight = maxInFlight
    }

    /// Applies the connection's rules to a REQUEST on `streamID`: odd and strictly
    /// increasing stream ids, nothing new while draining, at most ``maxInFlight``
    /// calls that hold a place (inline calls hold none). Nil when it may run.
    mutating func admit(streamID: UInt32, holdsPlace: Bool) -> RPCError? {
        if streamID % 2 == 0 {
            return .invalidArgument("stream id \(streamID) is even; clients use odd stream ids")
        }
        if streamID <= lastStreamID {
            return .invalidArgument(
                "stream id \(streamID) is not greater than the last one on this connection (\(lastStreamID)); stream ids strictly increase"
            )
        }
        lastStreamID = streamID
        if draining {
            return .unavailable("the daemon is shutting down; reconnect and retry")
        }
        if holdsPlace && calls.count >= maxInFlight {
            return .resourceExhausted("too many calls in flight on this connection (limit \(maxInFlight)); wait for some to finish")
        }
        return nil
    }

    /// Records an admitted call, before its task exists.
    mutating func register(_ streamID: UInt32, isStream: Bool, timer: Scheduled<Void>?) {
        calls[streamID] = Call(timer: timer, isStream: isStream)
    }

    /// Gives a call its task. False when the call already ended or is gone: the
    /// caller cancels the task, whose handler then finds the call over.
    mutating func attach(_ task: Task<Void, Never>, to streamID: UInt32) -> Bool {
        guard let call = calls[streamID], !call.ended else { return false }
        calls[streamID]?.task = task
        return true
    }

    /// Ends a call; returns it when this is its first ending (the caller cancels
    /// its timer and task and writes its final frame), nil otherwise.
    mutating func end(_ streamID: UInt32) -> Call? {
        guard var call = calls[streamID], !call.ended else { return nil }
        call.ended = true
        calls[streamID] = call
        return call
    }

    func isRunning(_ streamID: UInt32) -> Bool {
        calls[streamID].map { !$0.ended } ?? false
    }

    /// Forgets a call whose handler returned. True when the connection should
    /// now close: it is draining and this was its last call.
    mutating func remove(_ streamID: UInt32) -> Bool {
        calls[streamID] = nil
        return draining && calls.isEmpty
    }

    /// Stops admitting calls. True when the connection may close at once (no call runs).
    mutating func drain() -> Bool {
        draining = true
        return calls.isEmpty
    }

    /// Ends every call and drains, as the connection closes: every call still
    /// here, ended before or now, for the caller to cancel its timer and task and
    /// wait for its handler to return. No final frame is written.
    mutating func endAll() -> [Call] {
        draining = true
        for streamID in calls.keys {
            calls[streamID]?.ended = true
        }
        return Array(calls.values)
    }

    var hasCalls: Bool { !calls.isEmpty }
}
