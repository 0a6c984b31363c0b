import Foundation
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// A built product running in the background whose standard output and error are
/// collected as they come, so a test can look at what it printed so far, stop it
/// (SIGSTOP) and let it go on.
final class BackgroundProduct: Sendable {
    let process: ChildProcess

    init(_ name: String, _ arguments: [String]) throws {
        process = try ChildProcess(
            productsDirectory.appendingPathComponent(name).path, arguments, stdout: .capture, stderr: .capture)
    }

    var stdout: String { process.standardOutput }
    var stderr: String { process.standardError }

    func signal(_ number: Int32) { process.signal(number) }

    /// Polls until `condition` holds of what was printed (a generous bound, never a speed check).
    @discardableResult
    func wait(within: Duration = .seconds(120), until condition: (BackgroundProduct) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition(self)
    }

    /// Waits for the process to exit (SIGKILL after `within`); its exit status.
    func exitStatus(within: Duration = .seconds(30)) async throws -> Int32 {
        try await process.waitForExit(within: within) {
            Issue.record("\(process.executable) did not exit")
        }.status
    }
}

extension RPCClient {
    /// Every audit row id, oldest first (all pages).
    func everyAuditID() async throws -> [Int64] {
        var ids: [Int64] = []
        var request = Storeplatform_V1_ListAuditRequest()
        request.limit = 1000
        while true {
            let page = try await unary(M.PlatformService.listAudit, request)
            ids += page.events.map(\.id)
            if page.nextPageToken.isEmpty { return ids.sorted() }
            request.pageToken = page.nextPageToken
        }
    }
}

/// The audit ids of the StoreEvent objects `storectl watch --json` printed, one per line, in order.
func printedAuditIDs(_ stdout: String) -> [Int64] {
    stdout.split(separator: "\n").compactMap { line in
        guard let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (object["auditId"] as? String).flatMap { Int64($0) }
    }
}

@Suite("storectl watch resumes by itself")
struct WatchResumeTests {
    /// `storectl watch` is stopped (SIGSTOP) while hundreds of stores are created:
    /// its socket buffers fill, the daemon cannot send, the watch's event buffer
    /// (4 with --event-buffer) overflows and the daemon ends the stream with
    /// WATCH_FELL_BEHIND. Let go on, storectl must say so, resume after the last
    /// event it printed and print every transition exactly once. Without the
    /// resume it would exit with the error and miss most of them.
    @Test func aStalledWatchFallsBehindResumesAndPrintsEveryTransitionExactlyOnce() async throws {
        let daemon = try DaemonProcess(extraArguments: [
            "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "10",
            "--requests-per-minute", "1000000", "--creates-per-minute", "1000000", "--max-live-stores", "100000",
            "--max-concurrent-provisions", "64", "--reconcile-interval", "3600", "--event-buffer", "4",
        ])
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        // A store made before the watch starts; the watch begins after its last row
        // (--after), so what it must print is exactly the rows after that one.
        let warmUp = try await client.create("warm-up")
        try await client.waitFor(warmUp.id, [.ready])
        let start = try await client.everyAuditID().last ?? 0

        let watcher = try BackgroundProduct("storectl", ["watch", "--json", "--socket", daemon.socketPath, "--after", "\(start)"])
        let first = try await client.create("first")
        try await client.waitFor(first.id, [.ready])
        let connected = try await watcher.wait { printedAuditIDs($0.stdout).count >= 2 }
        #expect(connected, "storectl watch printed nothing: \(watcher.stderr)")

        watcher.signal(SIGSTOP)
        let count = 400
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for index in stride(from: lane, to: count, by: 8) {
                        _ = try await client.create("burst-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let expected = try await waitForEveryStoreReady(client, stores: count + 2).filter { $0 > start }
        watcher.signal(SIGCONT)

        try await watcher.wait { Set(printedAuditIDs($0.stdout)).isSuperset(of: expected) }
        watcher.signal(SIGINT)
        #expect(try await watcher.exitStatus() == 130)

        let printed = printedAuditIDs(watcher.stdout)
        #expect(watcher.stderr.contains("the watch fell behind after audit id"), "storectl was never told it fell behind: \(watcher.stderr)")
        #expect(printed.count == expected.count, "printed \(printed.count) events for \(expected.count) transitions")
        #expect(printed.sorted() == expected, "missing: \(Set(expected).subtracting(printed).sorted().prefix(20))")
        #expect(printed == printed.sorted(), "events out of order")
        await client.close()
        try await daemon.terminate()
    }

    /// Waits until `stores` stores are ready; every audit id then.
    func waitForEveryStoreReady(_ client: RPCClient, stores: Int) async throws -> [Int64] {
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline {
            let metrics = try await client.unary(
                M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest()
            )
            if metrics.storesByStatus.first(where: { $0.status == .ready })?.count == UInt64(stores) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await client.everyAuditID()
    }
}
