import Testing

@testable import StoreRPC

/// The rules of one connection's calls, as a value: no sockets, no loop.
@Suite("Server connection state")
struct ServerConnectionStateTests {
    @Test func streamIDsMustBeOddAndStrictlyIncrease() {
        var state = ServerConnectionState(maxInFlight: 8)
        let refusal1 = state.admit(streamID: 2, holdsPlace: true)
        #expect(refusal1?.message == "stream id 2 is even; clients use odd stream ids")
        let refusal2 = state.admit(streamID: 5, holdsPlace: true)
        #expect(refusal2 == nil)
        let notGreater = state.admit(streamID: 3, holdsPlace: true)
        #expect(
            notGreater?.message
                == "stream id 3 is not greater than the last one on this connection (5); stream ids strictly increase"
        )
        let refusal3 = state.admit(streamID: 5, holdsPlace: false)
        #expect(refusal3?.code == .invalidArgument)
        let refusal4 = state.admit(streamID: 7, holdsPlace: false)
        #expect(refusal4 == nil)
    }

    @Test func theInFlightLimitCountsCallsThatHoldAPlaceUntilTheyAreForgotten() {
        var state = ServerConnectionState(maxInFlight: 2)
        for streamID: UInt32 in [1, 3] {
            let refusal5 = state.admit(streamID: streamID, holdsPlace: true)
            #expect(refusal5 == nil)
            state.register(streamID, isStream: false, timer: nil)
        }
        let refusal6 = state.admit(streamID: 5, holdsPlace: true)
        #expect(refusal6?.code == .resourceExhausted)
        // An inline call holds no place, so it still gets in.
        let refusal7 = state.admit(streamID: 7, holdsPlace: false)
        #expect(refusal7 == nil)
        // An ended call holds its place until its handler returned.
        let ended8 = state.end(1)
        #expect(ended8 != nil)
        let refusal9 = state.admit(streamID: 9, holdsPlace: true)
        #expect(refusal9?.code == .resourceExhausted)
        let closesNow10 = state.remove(1)
        #expect(closesNow10 == false)
        let refusal11 = state.admit(streamID: 11, holdsPlace: true)
        #expect(refusal11 == nil)
    }

    @Test func aCallEndsOnceWhoeverEndsItFirst() {
        var state = ServerConnectionState(maxInFlight: 4)
        _ = state.admit(streamID: 1, holdsPlace: true)
        state.register(1, isStream: true, timer: nil)
        #expect(state.isRunning(1))
        let ended = state.end(1)
        #expect(ended?.isStream == true)
        #expect(!state.isRunning(1))
        let ended12 = state.end(1)
        #expect(ended12 == nil, "a deadline after a CANCEL writes nothing more")
        let ended13 = state.end(99)
        #expect(ended13 == nil)
    }

    @Test func aTaskThatArrivesAfterItsCallEndedIsRefused() {
        var state = ServerConnectionState(maxInFlight: 4)
        _ = state.admit(streamID: 1, holdsPlace: true)
        state.register(1, isStream: false, timer: nil)
        _ = state.end(1)
        let task = Task<Void, Never> {}
        let attached14 = state.attach(task, to: 1)
        #expect(!attached14)
        let attached15 = state.attach(task, to: 3)
        #expect(!attached15)
        _ = state.admit(streamID: 5, holdsPlace: true)
        state.register(5, isStream: false, timer: nil)
        let attached16 = state.attach(task, to: 5)
        #expect(attached16)
        #expect(state.calls[5]?.task != nil)
    }

    @Test func drainingRefusesNewCallsAndClosesAfterTheLastOne() {
        var state = ServerConnectionState(maxInFlight: 4)
        _ = state.admit(streamID: 1, holdsPlace: true)
        state.register(1, isStream: false, timer: nil)
        let closesNow17 = state.drain()
        #expect(closesNow17 == false, "a call still runs")
        let refusal18 = state.admit(streamID: 3, holdsPlace: false)
        #expect(refusal18?.code == .unavailable)
        _ = state.end(1)
        let closesNow19 = state.remove(1)
        #expect(closesNow19 == true, "the last call is gone: close now")

        var idle = ServerConnectionState(maxInFlight: 4)
        let closesNow20 = idle.drain()
        #expect(closesNow20 == true)
    }

    @Test func closingEndsEveryCallEvenOnesThatAlreadyEnded() {
        var state = ServerConnectionState(maxInFlight: 4)
        for streamID: UInt32 in [1, 3, 5] {
            _ = state.admit(streamID: streamID, holdsPlace: true)
            state.register(streamID, isStream: false, timer: nil)
        }
        _ = state.end(3)
        let calls = state.endAll()
        #expect(calls.count == 3, "the ended call's handler may still be returning: it is waited for too")
        #expect(calls.allSatisfy { $0.ended })
        #expect(state.draining)
        let ended21 = state.end(1)
        #expect(ended21 == nil)
    }
}
