import NIOCore
import StorePlatformProto
import SwiftProtobuf
import Testing

@testable import ControlPlane

/// The RPC server's pre-encoded Health answer is swift-protobuf's serialization of
/// the same message, byte for byte, whatever the uptime; while the database does
/// not answer it is the whole message, saying why.
@Suite struct HealthAnswerTests {
    @Test func theSplicedAnswerIsSwiftProtobufsBytes() throws {
        var template = Storeplatform_V1_HealthResponse()
        template.status = "SERVING"
        template.version = "1.2.3"
        template.clusterDriver = "simulated"
        template.clusterSimulated = true
        template.startedAtMs = 1_764_000_000_000
        template.database = "sqlite"
        let answer = try HealthAnswer(template)
        for uptime in [0.000_001, 1, 59.25, 86_400.5, 1e12, Double.ulpOfOne] {
            var expected = template
            expected.uptimeSeconds = uptime
            let bytes: [UInt8] = try expected.serializedBytes()
            #expect(Array(buffer: answer.encoded(uptime: uptime)) == bytes, "uptime \(uptime)")
        }
        // Exactly 0 is written, not left out, and reads back the same.
        let zero = try Storeplatform_V1_HealthResponse(serializedBytes: Array(buffer: answer.encoded(uptime: 0)))
        #expect(zero == template)
    }

    @Test func callsOfOneMillisecondShareTheFirstCallsAnswer() throws {
        var template = Storeplatform_V1_HealthResponse()
        template.status = "SERVING"
        template.version = "1.2.3"
        let answer = try HealthAnswer(template)
        func uptime(_ buffer: ByteBuffer) throws -> Double {
            try Storeplatform_V1_HealthResponse(serializedBytes: Array(buffer: buffer)).uptimeSeconds
        }
        // 5.0004 s and 5.0009 s are the same millisecond: the first call's uptime.
        #expect(try uptime(answer.encoded(uptimeNanoseconds: 5_000_400_000)) == 5.0004)
        #expect(try uptime(answer.encoded(uptimeNanoseconds: 5_000_900_000)) == 5.0004)
        // The next millisecond is answered anew, and so is a return to an earlier one.
        #expect(try uptime(answer.encoded(uptimeNanoseconds: 5_001_000_000)) == 5.001)
        #expect(try uptime(answer.encoded(uptimeNanoseconds: 5_000_950_000)) == 5.00095)
        let bytes: [UInt8] = try {
            var expected = template
            expected.uptimeSeconds = 7.25
            return try expected.serializedBytes()
        }()
        #expect(Array(buffer: answer.encoded(uptimeNanoseconds: 7_250_000_000)) == bytes)
    }

    @Test func theDaemonsAnswerMatchesItsHealthMessage() async throws {
        let harness = try GatewayHarness()
        let controlPlane = harness.controlPlane
        let decoded = try Storeplatform_V1_HealthResponse(serializedBytes: Array(buffer: controlPlane.encodedHealth()))
        var expected = controlPlane.health()
        #expect(decoded.uptimeSeconds <= expected.uptimeSeconds)
        expected.uptimeSeconds = decoded.uptimeSeconds
        #expect(decoded == expected)
        #expect(decoded.status == "SERVING")
    }
}
