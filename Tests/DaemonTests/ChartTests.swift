import Foundation
import Testing

func pythonHasHelmSDK() -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import helm_sdkpy, yaml"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

@Suite("Helm charts")
struct ChartTests {
    /// Helm's own linter (through helm-sdkpy) on both charts with every values
    /// file, rendered-manifest checks, and the values the driver sets.
    @Test(.enabled(if: interopRequired || pythonHasHelmSDK()))
    func chartsPassHelmLintAndTheirChecks() async throws {
        let result = try await runInRepository(["python3", "scripts/lint-charts"], environment: [:])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
    }
}
