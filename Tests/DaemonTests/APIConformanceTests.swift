import Foundation
import Testing

func schemathesisInstalled() -> Bool {
    onPath(["schemathesis"])
}

@Suite("HTTP API against openapi.yaml")
struct APIConformanceTests {
    /// schemathesis (deterministic generation) against a real daemon: no 5xx, and
    /// every status, content type, header and body matches openapi.yaml.
    @Test(.enabled(if: interopRequired || schemathesisInstalled()))
    func gatewayConformsToItsOpenAPIDescription() async throws {
        let daemon = productsDirectory.appendingPathComponent("storeplatformd").path
        let result = try await runInRepository(["bash", "scripts/api-conformance", daemon], environment: [:])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("api conformance: passed"), "\(result.stdout)")
    }
}
