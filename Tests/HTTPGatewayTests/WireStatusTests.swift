import ControlPlane
import StoreCore
import StorePlatformEnvelope
import StoreRPC
import Testing

/// How a PlatformError travels on the RPC wire (Sources/ControlPlane/PlatformError+RPC.swift).
@Suite("PlatformError on the RPC wire")
struct WireStatusTests {
    /// StoreCore's gRPC codes and the envelope's are the same codes, number for number.
    @Test(arguments: GRPCCode.allCases)
    func eachCodeIsTheEnvelopesCodeOfTheSameName(_ code: GRPCCode) {
        #expect(code.wire.rawValue == code.rawValue)
        #expect("\(code.wire)" == "\(code)")
    }

    @Test func theStatusCarriesTheCodesTheMessageAndTheRetryAfter() {
        let status = PlatformError(.rateLimited, "slow down", retryAfterMilliseconds: 1500).rpcStatus
        #expect(status.code == .resourceExhausted)
        #expect(status.errorCode == "RATE_LIMITED")
        #expect(status.message == "slow down")
        #expect(status.retryAfterMilliseconds == 1500)
    }
}
