import Foundation
import Testing

/// The dashboard's files are read once, when the gateway starts (off the event
/// loops), and served from memory: a file changed or removed afterwards is
/// served as it was; symlinks are followed only inside the dashboard directory.
@Suite struct StaticFilesTests {
    @Test func filesAreServedFromMemoryAsReadAtStart() async throws {
        let harness = try GatewayHarness()
        let dashboard = harness.directory + "/dashboard"
        let files = FileManager.default
        try files.createDirectory(atPath: dashboard + "/v2", withIntermediateDirectories: true)
        try "<h1>stores</h1>".write(toFile: dashboard + "/index.html", atomically: true, encoding: .utf8)
        try "body{}".write(toFile: dashboard + "/v2/style.css", atomically: true, encoding: .utf8)
        try "<p>v2</p>".write(toFile: dashboard + "/v2/index.html", atomically: true, encoding: .utf8)
        try "secret".write(toFile: harness.directory + "/outside.txt", atomically: true, encoding: .utf8)
        // A symlinked directory inside the root is served; a link leaving the root is not.
        try files.createSymbolicLink(atPath: dashboard + "/latest", withDestinationPath: dashboard + "/v2")
        try files.createSymbolicLink(atPath: dashboard + "/leak.txt", withDestinationPath: harness.directory + "/outside.txt")
        try await harness.withGateway({ $0.dashboardDirectory = dashboard }) { port in
            // Changed and removed after start: still answered as read at start.
            try "<h1>changed</h1>".write(toFile: dashboard + "/index.html", atomically: true, encoding: .utf8)
            try files.removeItem(atPath: dashboard + "/v2/style.css")
            try "late".write(toFile: dashboard + "/late.txt", atomically: true, encoding: .utf8)

            let index = try await RawHTTPClient.send(port: port, "GET", "/index.html")
            #expect(index.status == 200)
            #expect(index.body == "<h1>stores</h1>")
            #expect(index.header("Cache-Control") == "no-cache")
            #expect(index.header("X-Content-Type-Options") == "nosniff")
            let style = try await RawHTTPClient.send(port: port, "GET", "/v2/style.css")
            #expect(style.status == 200)
            #expect(style.header("Content-Type") == "text/css; charset=utf-8")
            #expect(style.body == "body{}")
            let linked = try await RawHTTPClient.send(port: port, "GET", "/latest/style.css")
            #expect(linked.status == 200)
            #expect(linked.body == "body{}")
            let directory = try await RawHTTPClient.send(port: port, "GET", "/v2/")
            #expect(directory.status == 200)
            #expect(directory.body == "<p>v2</p>")
            for path in ["/leak.txt", "/late.txt", "/v2/missing.js"] {
                let refused = try await RawHTTPClient.send(port: port, "GET", path)
                #expect(refused.status == 404, "\(path)")
                #expect(!refused.body.contains("secret"))
            }
        }
    }
}
