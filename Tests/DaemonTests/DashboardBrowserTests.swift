import Foundation
import Testing

/// Headless Chromium and chromium-driver (Debian) and selenium (PyPI), which
/// `.ci/run` installs.
func browserToolsInstalled() -> Bool {
    FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && pythonImports(["pytest", "selenium"])
}

@Suite("Dashboard in a browser")
struct DashboardBrowserTests {
    /// clients/dashboard/tests: selenium drives headless Chromium through the
    /// dashboard served by real daemons (simulated cluster) that the suite starts.
    /// On failure, screenshots of each tab land in clients/dashboard/tests/artifacts.
    @Test(.enabled(if: interopRequired || browserToolsInstalled()))
    func dashboardPassesItsBrowserSuite() async throws {
        let daemon = productsDirectory.appendingPathComponent("storeplatformd").path
        let result = try await runInRepository(
            ["bash", "clients/dashboard/tests/run.sh", "-p", "no:cacheprovider"],
            environment: ["STOREPLATFORM_DAEMON": daemon]
        )
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains(" passed"), "\(result.stdout)")
    }
}
