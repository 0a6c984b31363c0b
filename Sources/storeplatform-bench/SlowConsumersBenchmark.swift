import ArgumentParser
import Foundation
import RPCTestSupport
import StorePlatformEnvelope
import StorePlatformProto
import StoreRPC
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Hundreds of watchers on one daemon, half of them never reading, while stores
/// come and go. The daemon's memory must stay within what its per-stream buffers
/// allow; every reading watcher must get every transition; every stalled one,
/// once it reads, must be told it fell behind and, resumed from the id it was
/// given, must end up with every transition exactly once.
struct SlowConsumersBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slow-consumers",
        abstract: "SSE and WatchStores watchers, half stalled, during store churn: daemon RSS, completeness, fell-behind and resume."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Event streams (GET /api/events); every second one never reads.")
    var sseStreams = 300

    @Option(help: "WatchStores streams over the Unix socket; every second one never reads.")
    var rpcStreams = 200

    @Option(help: "Stores created (each queued → provisioning → ready) and then deleted (deleting → deleted).")
    var stores = 500

    @Option(help: "Create and delete calls in flight.")
    var inFlight = 16

    @Option(help: "Receive buffer of a stalled watcher's socket, bytes (SO_RCVBUF, set before connecting).")
    var stalledReceiveBuffer = 4096

    /// The daemon's defaults, which this run keeps: see `--event-buffer` and the
    /// gateway's per-stream chunk queue (EventStreams.chunkLimit).
    static let eventBuffer = 1000
    /// Transitions a resuming watch holds at once: its replay is read a page at a
    /// time (StoreWatch.replayPageSize in Sources/ControlPlane/StoreWatch.swift).
    static let replayPage = 200
    static let sseChunkLimit = 64
    /// NIO's default high write-buffer watermark: bytes a channel accepts for a
    /// socket that does not drain before its writer waits.
    static let outboundWatermark = 64 * 1024

    func run() async throws {
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-slow-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try ConnectionsBenchmark.raiseOwnOpenFileLimit(to: 2 * (sseStreams + rpcStreams) + 256)

        let socket = scratch + "/d.sock"
        let server = try ChildProcess(
            executable: daemonPath,
            arguments: [
                "--socket", socket, "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", scratch + "/data",
                "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "5",
                "--max-live-stores", "1000000", "--requests-per-minute", "100000000", "--creates-per-minute", "100000000",
                "--max-concurrent-provisions", "64", "--reconcile-interval", "3600",
                "--http-max-connections", "\(2 * sseStreams + 64)", "--http-max-event-streams", "\(sseStreams + 64)",
                "--max-unix-connections", "\(2 * rpcStreams + 64)", "--http-idle-timeout", "0", "--idle-timeout", "0",
            ],
            readsStandardError: true
        )
        defer { server.stop() }
        guard let serving = server.readLine(until: { $0.contains(" serving") }),
            ConnectionsBenchmark.port(after: "tcp:127.0.0.1:", in: serving) != nil,
            let httpLine = server.readLine(until: { $0.contains("http gateway listening") }),
            let httpPort = ConnectionsBenchmark.port(after: "http=127.0.0.1:", in: httpLine)
        else { throw ValidationError("the daemon did not start") }
        server.discardOutput()

        // One store first, so that every watcher can start after a known audit id:
        // it then misses nothing however late its subscription is registered.
        let client = try await RPCClient.connect(to: .unix(path: socket))
        // The same churn once without watchers first: the baseline then already holds
        // what the load itself costs (database pages, allocator), not the watchers.
        try await Self.churn(client, names: (0..<stores).map { "warm-up-\($0)" }, inFlight: inFlight, delete: true)
        try await Self.churn(client, names: ["warm-up"], inFlight: 1, delete: false)
        let start = try await Self.auditIDs(client).last ?? 0
        try await Task.sleep(for: .seconds(1))
        let baselineKiB = server.residentKiB
        let clientCPUBefore = Self.ownCPUMicroseconds()
        let daemonCPUBefore = server.cpuMicroseconds

        var watchers: [Watcher] = []
        for index in 0..<sseStreams {
            watchers.append(Watcher(kind: .sse, port: httpPort, stalled: index % 2 == 1, after: start))
        }
        for index in 0..<rpcStreams {
            watchers.append(Watcher(kind: .rpc, socketPath: socket, stalled: index % 2 == 1, after: start))
        }
        for watcher in watchers { try watcher.open(receiveBuffer: watcher.stalled ? stalledReceiveBuffer : nil) }
        // Readers resume too when told they fell behind (the daemon may be too busy
        // to feed even a reading watcher); how many were is reported.
        for watcher in watchers where !watcher.stalled { watcher.startReading(resuming: true) }
        try await Task.sleep(for: .seconds(1))

        let sampler = RSSSampler(pid: server.pid)
        let churnStarted = ContinuousClock.now
        try await Self.churn(client, names: (0..<stores).map { "churn-\($0)" }, inFlight: inFlight, delete: true)
        let churnTime = ContinuousClock.now - churnStarted
        let expected = try await Self.auditIDs(client).filter { $0 > start }

        // Readers catch up; then the stalled ones start reading.
        let readersDone = await Self.wait(for: watchers.filter { !$0.stalled }, toHold: expected, within: .seconds(120))
        let stalledPeakKiB = sampler.peakKiB
        let readersPeakKiB = ChildProcess.peakResidentKiB(pid: server.pid)
        for watcher in watchers where watcher.stalled { watcher.startReading(resuming: true) }
        let stalledDone = await Self.wait(for: watchers.filter(\.stalled), toHold: expected, within: .seconds(180))
        for watcher in watchers { watcher.close() }
        sampler.stop()
        let peakKiB = max(sampler.peakKiB, ChildProcess.peakResidentKiB(pid: server.pid))
        let daemonCPU = server.cpuMicroseconds - daemonCPUBefore
        let clientCPU = Self.ownCPUMicroseconds() - clientCPUBefore
        try await Task.sleep(for: .seconds(2))
        let afterKiB = server.residentKiB
        await client.close()

        // The bound: what every stream may hold at once, from the buffer limits. Any
        // watcher may be behind (a reader the daemon cannot feed fast enough fills its
        // buffers like a stalled one), and any may be resuming, holding one replay page.
        let largestFrame = watchers.map(\.largestMessage).max() ?? 0
        let sseCount = watchers.filter { $0.kind == .sse }.count
        let rpcCount = watchers.filter { $0.kind == .rpc }.count
        let perSSEKiB = (Self.outboundWatermark + Self.sseChunkLimit * largestFrame) / 1024
        let perRPCKiB = (Self.outboundWatermark + Self.eventBuffer * Self.bufferedEventAllowance) / 1024
        let perConnectionKiB = 64
        let perReplayKiB = Self.replayPage * Self.bufferedEventAllowance / 1024
        let boundKiB = baselineKiB + sseCount * perSSEKiB + rpcCount * perRPCKiB
            + watchers.count * (perConnectionKiB + perReplayKiB)

        let readers = watchers.filter { !$0.stalled }
        let stalled = watchers.filter(\.stalled)
        let readersComplete = readers.filter { $0.holdsExactly(expected) }.count
        let toldBehind = stalled.filter { $0.toldBehindAt != nil }.count
        let givenIDMatches = stalled.filter { $0.toldBehindAt != nil && $0.toldBehindAt == $0.lastBeforeBehind }.count
        let resumedComplete = stalled.filter { $0.holdsExactly(expected) }.count
        let anyRefused = watchers.compactMap(\.failure).first

        print("# storeplatform-bench slow-consumers")
        print("")
        print("\(sseStreams) event streams (GET /api/events, TCP) and \(rpcStreams) WatchStores streams (Unix socket), every second one stalled")
        print("(never read until the churn is over; SSE ones with SO_RCVBUF \(stalledReceiveBuffer)); \(stores) stores created and deleted,")
        print("\(inFlight) calls in flight: \(expected.count) transitions in \(LifecycleBenchmark.format(churnTime)).")
        print("")
        print("| daemon RSS | MiB |")
        print("|---|---:|")
        print("| baseline (the same churn done once without watchers) | \(Self.mib(baselineKiB)) |")
        print("| peak until the readers caught up (stalled watchers holding their buffers; resumed readers' replays) | \(Self.mib(stalledPeakKiB)) |")
        print("| peak over the whole run (VmHWM), including \(stalled.count) watchers catching up at once | \(Self.mib(max(peakKiB, readersPeakKiB))) |")
        print("| after every watcher closed | \(Self.mib(afterKiB)) |")
        print("| bound: baseline + \(sseCount) × \(perSSEKiB) KiB (SSE queue and outbound bytes) + \(rpcCount) × \(perRPCKiB) KiB (RPC bus buffer and outbound bytes) + \(watchers.count) × (\(perConnectionKiB) KiB connection + \(perReplayKiB) KiB replay page) | \(Self.mib(boundKiB)) |")
        print("")
        print("CPU during the run: daemon \(Self.seconds(daemonCPU)), this client (every watcher's reads and parsing) \(Self.seconds(clientCPU)).")
        print("Largest event frame sent: \(largestFrame) bytes.")
        if let anyRefused { print("First watcher failure: \(anyRefused)") }
        for (label, group) in [("reading", readers), ("stalled", stalled)] {
            for kind in [Watcher.Kind.sse, .rpc] {
                if let odd = group.first(where: { $0.kind == kind && !$0.holdsExactly(expected) }) { print("A \(label) \(kind) watcher: \(odd.summary(expected))") }
            }
        }
        let readersBehind = readers.filter { $0.toldBehindAt != nil }
        print("Reading watchers told they fell behind (the daemon could not feed them fast enough) and resumed: \(readersBehind.filter { $0.kind == .sse }.count) SSE, \(readersBehind.filter { $0.kind == .rpc }.count) RPC.")
        print("")
        print("| property | result |")
        print("|---|---|")
        print("| peak RSS until the readers caught up within the bound | \(Self.verdict(stalledPeakKiB <= boundKiB)) (\(Self.mib(stalledPeakKiB)) ≤ \(Self.mib(boundKiB)) MiB) |")
        print("| peak RSS over the run (stalled watchers catching up) within the bound | \(Self.verdict(max(peakKiB, readersPeakKiB) <= boundKiB)) (\(Self.mib(max(peakKiB, readersPeakKiB))) ≤ \(Self.mib(boundKiB)) MiB) |")
        print("| every reading watcher got every transition exactly once (resuming when told) | \(Self.verdict(readersDone && readersComplete == readers.count)) (\(readersComplete) of \(readers.count)) |")
        print("| every stalled watcher, reading, is told it fell behind | \(Self.verdict(toldBehind == stalled.count)) (\(toldBehind) of \(stalled.count)) |")
        print("| the id it is told is the last one it received | \(Self.verdict(givenIDMatches == stalled.count)) (\(givenIDMatches) of \(stalled.count)) |")
        print("| resumed from that id, it has every transition exactly once | \(Self.verdict(stalledDone && resumedComplete == stalled.count)) (\(resumedComplete) of \(stalled.count)) |")
    }

    /// Memory one event waiting in a bus buffer may take: the StoreEvent value and
    /// its share of the store's strings (which every buffer holding it shares).
    static let bufferedEventAllowance = 512

    // MARK: Load

    /// Creates the stores `inFlight` at a time, waits until all are ready, then
    /// (with `delete`) deletes them and waits until all are deleted.
    static func churn(_ client: RPCClient, names: [String], inFlight: Int, delete: Bool) async throws {
        let ids = try await concurrently(names, inFlight: inFlight) { name in
            var request = Storeplatform_V1_CreateStoreRequest()
            request.name = name
            return try await client.unary(StorePlatformMethod.StoreService.createStore, request).store.id
        }
        try await waitUntil(client, ids, are: .ready)
        guard delete else { return }
        _ = try await concurrently(ids, inFlight: inFlight) { id in
            var request = Storeplatform_V1_DeleteStoreRequest()
            request.id = id
            return try await client.unary(StorePlatformMethod.StoreService.deleteStore, request).store.id
        }
        try await waitUntil(client, ids, are: .deleted)
    }

    static func concurrently(_ items: [String], inFlight: Int, _ body: @escaping @Sendable (String) async throws -> String) async throws -> [String] {
        try await withThrowingTaskGroup(of: String.self) { group in
            var results: [String] = []
            var next = 0
            for _ in 0..<min(inFlight, items.count) {
                let item = items[next]
                next += 1
                group.addTask { try await body(item) }
            }
            while let result = try await group.next() {
                results.append(result)
                if next < items.count {
                    let item = items[next]
                    next += 1
                    group.addTask { try await body(item) }
                }
            }
            return results
        }
    }

    static func waitUntil(_ client: RPCClient, _ ids: [String], are status: Storeplatform_V1_StoreStatus) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        var pending = Set(ids)
        while !pending.isEmpty {
            guard ContinuousClock.now < deadline else { throw ValidationError("\(pending.count) stores did not become \(status)") }
            for id in pending {
                var request = Storeplatform_V1_GetStoreRequest()
                request.id = id
                let store = try await client.unary(StorePlatformMethod.StoreService.getStore, request).store
                if store.status == status { pending.remove(id) }
                if store.status == .failed { throw ValidationError("store \(store.name) failed: \(store.errorMessage)") }
            }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
    }

    /// Every audit id, oldest first.
    static func auditIDs(_ client: RPCClient) async throws -> [Int64] {
        var ids: [Int64] = []
        var request = Storeplatform_V1_ListAuditRequest()
        request.limit = 1000
        while true {
            let page = try await client.unary(StorePlatformMethod.PlatformService.listAudit, request)
            ids += page.events.map(\.id)
            if page.nextPageToken.isEmpty { return ids.sorted() }
            request.pageToken = page.nextPageToken
        }
    }

    static func wait(for watchers: [Watcher], toHold expected: [Int64], within: Duration) async -> Bool {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if watchers.allSatisfy({ $0.finished || $0.holdsAll(expected) }) { return watchers.allSatisfy { $0.holdsAll(expected) } }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    // MARK: Formatting

    static func ownCPUMicroseconds() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (Int(usage.ru_utime.tv_sec) + Int(usage.ru_stime.tv_sec)) * 1_000_000 + Int(usage.ru_utime.tv_usec) + Int(usage.ru_stime.tv_usec)
    }

    static func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }
    static func seconds(_ micro: Int) -> String { String(format: "%.2f s", Double(micro) / 1e6) }
    static func verdict(_ ok: Bool) -> String { ok ? "PASS" : "FAIL" }
}

/// Samples a process's resident set size (VmRSS) every 20 ms until stopped.
final class RSSSampler: Sendable {
    private let state = Mutex<(peak: Int, running: Bool)>((0, true))

    init(pid: Int32) {
        Thread.detachNewThread { [self] in
            while state.withLock({ $0.running }) {
                let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
                let value = Int(line.dropFirst(6).split(whereSeparator: \.isWhitespace).first ?? "") ?? 0
                state.withLock { $0.peak = max($0.peak, value) }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    var peakKiB: Int { state.withLock { $0.peak } }
    func stop() { state.withLock { $0.running = false } }
}

/// One watcher: an event stream or a WatchStores stream on its own TCP
/// connection, read (when it reads) on a thread of its own with blocking reads.
final class Watcher: @unchecked Sendable {
    // @unchecked: `state` is behind a Mutex; `descriptor` is written by open() and
    // the reading thread only, one after the other (the reading thread starts after open).
    enum Kind { case sse, rpc }

    struct State {
        var seen: [Int64] = []
        var toldBehindAt: Int64?
        var lastBeforeBehind: Int64?
        var largestMessage = 0
        var finished = false
        var failure: String?
    }

    let kind: Kind
    /// The TCP port of the gateway (SSE); the daemon's Unix socket (RPC).
    let port: Int
    let socketPath: String
    let stalled: Bool
    let after: Int64
    private var descriptor: Int32 = -1
    private let state = Mutex(State())

    init(kind: Kind, port: Int = 0, socketPath: String = "", stalled: Bool, after: Int64) {
        self.kind = kind
        self.port = port
        self.socketPath = socketPath
        self.stalled = stalled
        self.after = after
    }

    var toldBehindAt: Int64? { state.withLock { $0.toldBehindAt } }
    var lastBeforeBehind: Int64? { state.withLock { $0.lastBeforeBehind } }
    var largestMessage: Int { state.withLock { $0.largestMessage } }
    var finished: Bool { state.withLock { $0.finished } }
    var failure: String? { state.withLock { $0.failure } }

    /// What it received against what it should have, for a failed property.
    func summary(_ expected: [Int64]) -> String {
        state.withLock { state in
            let missing = Set(expected).subtracting(state.seen)
            let inversions = zip(state.seen, state.seen.dropFirst()).filter { $0 >= $1 }.map { "\($0)→\($1)" }
            return "out of order: \(inversions.prefix(5)); received \(state.seen.count) of \(expected.count) (\(Set(state.seen).count) distinct), first \(state.seen.first ?? -1), last \(state.seen.last ?? -1), \(missing.count) missing (first \(missing.min() ?? -1)); told behind at \(state.toldBehindAt.map(String.init) ?? "never"), failure: \(state.failure ?? "none")"
        }
    }

    func holdsAll(_ expected: [Int64]) -> Bool {
        state.withLock { Set($0.seen).isSuperset(of: expected) }
    }

    /// Every expected id, each once, in order.
    func holdsExactly(_ expected: [Int64]) -> Bool {
        state.withLock { $0.seen == expected }
    }

    func open(receiveBuffer: Int?) throws {
        descriptor = try connect(receiveBuffer: receiveBuffer)
        try send(request(after: after))
    }

    func close() {
        if descriptor >= 0 { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Reads on a thread of its own. `resuming`: when told it fell behind, it
    /// reconnects from the id it was told and reads until closed.
    func startReading(resuming: Bool) {
        let thread = Thread { [self] in
            do {
                var behind = try readStream()
                while resuming, let from = behind {
                    Glibc.close(descriptor)
                    descriptor = try connect(receiveBuffer: nil)
                    try send(request(after: from))
                    behind = try readStream()
                }
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = "\(error)" } }
            }
            state.withLock { $0.finished = true }
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    // MARK: Requests

    private func request(after: Int64) throws -> [UInt8] {
        switch kind {
        case .sse:
            return Array("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nLast-Event-ID: \(after)\r\n\r\n".utf8)
        case .rpc:
            var watch = Storeplatform_V1_WatchStoresRequest()
            watch.afterAuditID = after
            var envelope = Storeplatform_V1_Envelope()
            envelope.streamID = 1
            envelope.type = .request
            envelope.method = StorePlatformMethod.StoreService.watchStores.name
            envelope.payload = try watch.serializedData()
            let body: [UInt8] = try envelope.serializedBytes()
            let length = UInt32(body.count)
            return [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + body
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw BlockingSocketError("send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    // MARK: Reading

    /// Reads one stream to its end; the id it was told to resume after when it
    /// was told it fell behind, else nil.
    private func readStream() throws -> Int64? {
        var reader = ByteReader(descriptor: descriptor)
        switch kind {
        case .rpc: return try readRPC(&reader)
        case .sse: return try readSSE(&reader)
        }
    }

    private func readRPC(_ reader: inout ByteReader) throws -> Int64? {
        while let header = try reader.take(4) {
            let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
            guard let body = try reader.take(length) else { return nil }
            let envelope = try Storeplatform_V1_Envelope(serializedBytes: body)
            switch envelope.type {
            case .streamMessage:
                let event = try Storeplatform_V1_StoreEvent(serializedBytes: envelope.payload)
                record(event.auditID, size: body.count + 4)
            case .streamEnd, .error, .response:
                guard envelope.status.errorCode == "WATCH_FELL_BEHIND" else {
                    if envelope.status.code != .ok { throw BlockingSocketError("stream ended: \(envelope.status.errorCode): \(envelope.status.message)") }
                    return nil
                }
                // "… ended after audit id N; watch again with after_audit_id N …"
                guard let range = envelope.status.message.range(of: "after audit id "),
                    let id = Int64(envelope.status.message[range.upperBound...].prefix { $0.isNumber })
                else { throw BlockingSocketError("WATCH_FELL_BEHIND without an id: \(envelope.status.message)") }
                toldBehind(at: id)
                return id
            default:
                continue
            }
        }
        return nil
    }

    private func readSSE(_ reader: inout ByteReader) throws -> Int64? {
        guard let head = try reader.take(through: Array("\r\n\r\n".utf8)) else { return nil }
        let headText = String(decoding: head, as: UTF8.self)
        guard headText.hasPrefix("HTTP/1.1 200") else {
            throw BlockingSocketError("event stream refused: \(headText.split(separator: "\r\n").first ?? "")")
        }
        let chunked = headText.lowercased().contains("transfer-encoding: chunked")
        var body: [UInt8] = []
        while true {
            // The next piece of the body (a chunk, or what arrived).
            if chunked {
                guard let sizeLine = try reader.take(through: Array("\r\n".utf8)) else { return nil }
                let size = Int(String(decoding: sizeLine.dropLast(2), as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
                if size == 0 { return nil }
                guard let data = try reader.take(size), try reader.take(2) != nil else { return nil }
                body += data
            } else {
                guard let data = try reader.takeAvailable() else { return nil }
                body += data
            }
            // Complete events end with a blank line.
            while let end = Self.find(Array("\n\n".utf8), in: body) {
                let block = String(decoding: body[..<end], as: UTF8.self)
                body.removeSubrange(..<(end + 2))
                var id: Int64?
                var event = "message"
                var data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                if event == "store", let id { record(id, size: block.utf8.count + 2) }
                if event == "behind" {
                    // data: {"lastEventId":"N",…}
                    guard let range = data.range(of: "\"lastEventId\":\""),
                        let last = Int64(data[range.upperBound...].prefix { $0.isNumber })
                    else { throw BlockingSocketError("event: behind without an id: \(data)") }
                    toldBehind(at: last)
                    return last
                }
            }
        }
    }

    private func record(_ id: Int64, size: Int) {
        state.withLock {
            $0.seen.append(id)
            $0.largestMessage = max($0.largestMessage, size)
        }
    }

    private func toldBehind(at id: Int64) {
        state.withLock {
            if $0.toldBehindAt == nil {
                $0.toldBehindAt = id
                $0.lastBeforeBehind = $0.seen.last ?? self.after
            }
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }

    private func connect(receiveBuffer: Int?) throws -> Int32 {
        switch kind {
        case .sse: return try Self.connect(port: port, receiveBuffer: receiveBuffer)
        case .rpc: return try Self.connect(unixPath: socketPath)
        }
    }

    /// A connection to the daemon's Unix socket. (A Unix stream socket holds far
    /// less for a reader that does not read than loopback TCP, whose send buffer
    /// grows to megabytes, so a stalled watch's own buffer fills soon.)
    static func connect(unixPath: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BlockingSocketError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: unixPath.utf8.prefix($0.count - 1)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw BlockingSocketError("connect to \(unixPath): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// A TCP connection to 127.0.0.1:port; a receive buffer set before connecting
    /// (so the window it advertises is small from the start).
    static func connect(port: Int, receiveBuffer: Int?) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BlockingSocketError("socket: \(String(cString: strerror(errno)))") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw BlockingSocketError("connect: \(String(cString: strerror(errno)))")
        }
        return descriptor
    }
}

/// Blocking reads from a socket with a buffer.
struct ByteReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// Reads more; false at the end of the stream.
    private mutating func fill() throws -> Bool {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == EINTR { return true }
            throw BlockingSocketError("recv: \(String(cString: strerror(errno)))")
        }
        if count == 0 { return false }
        buffer += chunk[..<count]
        return true
    }

    mutating func take(_ count: Int) throws -> [UInt8]? {
        while buffer.count < count { if try !fill() { return nil } }
        let taken = Array(buffer[..<count])
        buffer.removeFirst(count)
        return taken
    }

    mutating func take(through delimiter: [UInt8]) throws -> [UInt8]? {
        while true {
            if let index = Watcher.find(delimiter, in: buffer) {
                let taken = Array(buffer[..<(index + delimiter.count)])
                buffer.removeFirst(index + delimiter.count)
                return taken
            }
            if try !fill() { return nil }
        }
    }

    mutating func takeAvailable() throws -> [UInt8]? {
        if buffer.isEmpty, try !fill() { return nil }
        defer { buffer.removeAll(keepingCapacity: true) }
        return buffer
    }
}
