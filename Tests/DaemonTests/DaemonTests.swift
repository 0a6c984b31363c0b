import Foundation
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// End-to-end: the built storeplatformd and storectl as real processes.
@Suite("storeplatformd and storectl as processes")
struct DaemonTests {
    @Test(arguments: DaemonDatabase.all)
    func storectlHealthOverTheUnixSocket(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(extraArguments: try await database.arguments())
        try await daemon.start()
        // Readiness is live: on a loaded machine one check of the database may miss
        // its bound and answer NOT_SERVING for a moment, so each form is read until
        // it reports SERVING.
        let table = try await pollUntil("storectl health prints SERVING") { () -> CommandResult? in
            let table = try await runProduct("storectl", ["health", "--socket", daemon.socketPath])
            return table.stdout.contains("status    NOT_SERVING") ? nil : table
        }
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("status    SERVING"))
        #expect(table.stdout.contains("cluster   simulated (embedded simulator, no real Kubernetes)"))

        let health = try await pollUntil("storectl health --json answers SERVING") { () -> Storeplatform_V1_HealthResponse? in
            let json = try await runProduct("storectl", ["health", "--socket", daemon.socketPath, "--json"])
            #expect(json.status == 0)
            let health = try Storeplatform_V1_HealthResponse(jsonString: json.stdout)
            return health.status == "NOT_SERVING" ? nil : health
        }
        #expect(health.status == "SERVING")
        #expect(health.version == "0.1.0")
        #expect(health.clusterDriver == "simulated")
        #expect(health.clusterSimulated)
        #expect(health.uptimeSeconds > 0)
        #expect(health.database == database.testDescription)
        #expect(health.databaseProblem.isEmpty)
        #expect(daemon.log.contains("SimulatedCluster: embedded simulator, no real Kubernetes"))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func storectlHealthOverTCPNeedsTheToken() async throws {
        let directory = try makeTemporaryDirectory("spd")
        let tokenFile = directory + "/tokens"
        try "# internal services\nservice-token-1\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraArguments: ["--token-file", tokenFile], directory: directory)
        try await daemon.start()
        let address = "127.0.0.1:\(daemon.tcpPort)"

        let withToken = try await runProduct("storectl", ["health", "--tcp", address, "--token-file", tokenFile])
        #expect(withToken.status == 0, "\(withToken.stderr)")
        #expect(withToken.stdout.contains("endpoint  \(address)"))

        let withoutToken = try await runProduct("storectl", ["health", "--tcp", address])
        #expect(withoutToken.status == 1)
        #expect(withoutToken.stderr.contains("error: UNAUTHENTICATED:"))
        #expect(withoutToken.stderr.contains("request id req-"))
        try await daemon.terminate()
    }

    /// The start-up line names the faults the simulator injects; every committed
    /// status change is one info line; a limits change is one line too.
    @Test func theLogNamesInjectedFaultsAndEveryTransitionOnOneLine() async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--sim-fault", "crashloop=0.5", "--sim-fault", "imagepull=0.25", "--sim-seed", "7"])
        try await daemon.start()
        let serving = try #require(daemon.log.split(separator: "\n").first { $0.contains(" serving") })
        #expect(serving.contains(
            "SimulatedCluster: embedded simulator, no real Kubernetes; injected faults: crashloop p=0.5, imagepull p=0.25 (seed 7, first attempt of each release)"
        ), "\(serving)")

        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let store = try await client.create("logged")
        let ended = try await client.waitFor(store.id, [.ready, .failed])
        let last = ended.status == .ready ? "store ready" : "store failed"
        let lines = try await pollUntil("the log has the store's last transition") { () -> [Substring]? in
            let lines = daemon.log.split(separator: "\n").filter { $0.contains("store=\(store.id)") }
            return lines.contains { $0.contains(last) } ? lines : nil
        }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.allSatisfy { $0.contains(" info ") }, "\(lines)")
        #expect(lines[0].contains("store queued") && lines[0].contains("action=create") && lines[0].contains("from=none"), "\(lines[0])")
        #expect(lines[1].contains("store provisioning") && lines[1].contains("from=queued"), "\(lines[1])")
        #expect(lines[2].contains(last) && lines[2].contains("from=provisioning"), "\(lines[2])")
        if ended.status == .failed {
            #expect(lines[2].contains("reason=\(ended.errorSummary)"), "\(lines[2])")
        }
        await client.close()

        let limits = try await runProduct("storectl", ["limits", "--max-live-stores", "7", "--socket", daemon.socketPath])
        #expect(limits.status == 0, "\(limits.stderr)")
        let log = daemon.log
        let updated = try #require(log.split(separator: "\n").first { $0.contains("limits updated") })
        #expect(updated.contains("max_live_stores=7 requests_per_minute=100000"), "\(updated)")
        // The next line, if any, is another entry (a timestamp), not the rest of a dump.
        let after = log[log.range(of: String(updated))!.upperBound...].dropFirst()
        #expect(after.isEmpty || after.first?.isNumber == true, "\(after.prefix(200))")
        try await daemon.terminate()
    }

    /// The hint every unreachable-socket message ends with.
    static let socketHint = "Is storeplatformd running? It listens on the socket its --socket (or STOREPLATFORM_SOCKET) names; "
        + "give storectl the same path with --socket PATH or STOREPLATFORM_SOCKET=PATH."

    @Test func storectlReportsAMissingSocketWithExitCode3AndAHint() async throws {
        let path = temporaryPath("no-daemon", suffix: ".sock")
        let result = try await runProduct("storectl", ["health", "--socket", path])
        #expect(result.status == 3)
        #expect(result.stderr == "error: UNAVAILABLE: cannot reach storeplatformd: there is no socket at \(path). \(Self.socketHint)\n")
    }

    @Test func storectlReportsASocketNobodyListensOn() async throws {
        // A socket file left behind: bound, never listening, so a connect is refused.
        let directory = try makeTemporaryDirectory("stale")
        let path = directory + "/storeplatformd.sock"
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)

        let result = try await runProduct("storectl", ["list", "--socket", path])
        #expect(result.status == 3)
        #expect(
            result.stderr == "error: UNAVAILABLE: cannot reach storeplatformd: nothing is listening on the socket \(path) "
                + "(a daemon that stopped may have left it behind). \(Self.socketHint)\n"
        )
    }

    @Test func storectlReportsATCPAddressNobodyListensOn() async throws {
        let port = try freeLoopbackPort()
        let result = try await runProduct("storectl", ["health", "--tcp", "127.0.0.1:\(port)"])
        #expect(result.status == 3)
        #expect(
            result.stderr == "error: UNAVAILABLE: cannot reach storeplatformd at 127.0.0.1:\(port) (connection refused). "
                + "Is storeplatformd running with --tcp 127.0.0.1:\(port)? Give storectl the daemon's address with --tcp HOST:PORT, "
                + "or leave --tcp out to use its Unix socket.\n"
        )
    }

    @Test func storectlRejectsBadUsageWithExitCode64() async throws {
        let result = try await runProduct("storectl", ["health", "--tcp", "no-port-here"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("is not host:port"))
    }

    @Test func secondDaemonOnTheSameSocketRefusesToStart() async throws {
        let daemon = try DaemonProcess()
        try await daemon.start()
        let second = try await runProduct("storeplatformd", daemon.arguments.map { $0 == "127.0.0.1:0" ? "off" : $0 })
        #expect(second.status != 0)
        #expect(second.stderr.contains("another daemon is already listening on \(daemon.socketPath)"))
        // The first daemon is untouched.
        let health = try await runProduct("storectl", ["health", "--socket", daemon.socketPath])
        #expect(health.status == 0)
        try await daemon.terminate()
    }

    /// Pinned to one CPU, the daemon runs one event loop, not one per machine core.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")))
    func eventLoopsFollowTheCPUAffinity() async throws {
        // The first CPU this test may run on (not necessarily CPU 0 in a cpuset).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let allowed = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let first = try #require(allowed.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
            .split(whereSeparator: { $0 == "," || $0 == "-" }).first)
        let pinned = try DaemonProcess(launcher: ["/usr/bin/taskset", "-c", String(first)])
        try await pinned.start()
        let count = pinned.log.components(separatedBy: "event-loops=").dropFirst().first?.prefix { $0.isNumber }
        #expect(count == "1", "\(pinned.log)")
        try await pinned.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func sigtermStopsCleanlyAndRemovesTheSocket(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(extraArguments: try await database.arguments())
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        // Readiness is live: one check of the database may miss its bound on a loaded machine.
        _ = try await pollUntil("Health answers SERVING") { () -> Bool? in
            let health = try await client.unary(
                StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest()
            )
            return health.status == "SERVING" ? true : nil
        }
        #expect(try await daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        #expect(daemon.log.contains("storeplatformd stopped"))
        await client.close()
    }

    @Test func adminMethodsCheckTheCallersUID() async throws {
        let daemon = try DaemonProcess(extraArguments: ["--admin-uid", "4242"])
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let reconcile = await #expect(throws: RPCError.self) {
            _ = try await client.unary(
                StorePlatformMethod.AdminService.reconcile, Storeplatform_V1_ReconcileRequest()
            )
        }
        #expect(reconcile?.code == .permissionDenied)
        let admin = try await runProduct("storectl", ["operations", "--socket", daemon.socketPath])
        #expect(admin.status == 1)
        #expect(admin.stderr.contains("error: PERMISSION_DENIED:"))
        await client.close()
        try await daemon.terminate()
    }

    @Test func clusterFlagSelectsTheHelmDriver() async throws {
        let daemon = try DaemonProcess(extraArguments: ["--cluster", "helm", "--helm", "/nonexistent/helm", "--kubectl", "/nonexistent/kubectl"])
        try await daemon.start()
        let json = try await runProduct("storectl", ["health", "--socket", daemon.socketPath, "--json"])
        let health = try Storeplatform_V1_HealthResponse(jsonString: json.stdout)
        #expect(health.clusterDriver == "helm")
        #expect(!health.clusterSimulated)
        // With no helm to run, a store fails with the driver's exact reason instead of hanging.
        let created = try await runProduct("storectl", ["create", "shop", "--wait", "--socket", daemon.socketPath])
        #expect(created.status == 1)
        #expect(created.stderr.contains("cannot run /nonexistent/kubectl"), "\(created.stderr)")
        try await daemon.terminate()

        let bogus = try await runProduct("storeplatformd", ["--cluster", "kubernetes-please"])
        #expect(bogus.status == 64)
        #expect(bogus.stderr.contains("--cluster kubernetes-please is not a cluster driver; use simulated or helm"))
    }

    /// The daemon raises its soft open-file limit to the hard one at start (running
    /// out of descriptors killed it), and refuses to start with caps that do not fit.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func theOpenFileLimitIsRaisedAndTheCapsMustFitUnderIt() async throws {
        let daemon = try DaemonProcess(launcher: ["/usr/bin/prlimit", "--nofile=1024:4096", "--"])
        try await daemon.start()
        let limits = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }.map(String.init) ?? ""
        #expect(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == ["4096", "4096"], "\(line)")
        #expect(daemon.log.contains("open-file limit"), "\(daemon.log)")
        try await daemon.terminate()

        let tight = try DaemonProcess(launcher: ["/usr/bin/prlimit", "--nofile=300:300", "--"])
        try tight.launch()
        let status = try await tight.waitForExit(within: .seconds(60)) { "the daemon started with caps that do not fit" }
        #expect(status == 1)
        #expect(
            tight.log.contains("the connection caps need 1024 open files (--max-unix-connections 128 + --max-tcp-connections 384 + --http-max-connections 256 + 256 for everything else), but the open-file limit is 300 (hard limit 300)"),
            "\(tight.log)"
        )
    }

    /// The read timeouts take seconds, 0 or more (0: no limit); anything else stops
    /// the daemon at start, naming the flag.
    @Test func theReadTimeoutsMustBeSecondsZeroOrMore() async throws {
        for (flag, value) in [("--frame-timeout", "-1"), ("--http-header-timeout", "-0.5"), ("--http-body-timeout", "inf")] {
            let result = try await runProduct("storeplatformd", ["\(flag)=\(value)"])
            #expect(result.status == 64, "\(flag)=\(value): \(result.stderr)")
            #expect(result.stderr.contains("\(flag) must be a number of seconds, 0 or more (0: no limit)"), "\(result.stderr)")
        }
    }

    /// helm's install timeout is part of the provisioning deadline, which also covers
    /// readiness: an install allowed the whole deadline would leave readiness nothing.
    @Test func theHelmInstallTimeoutMustLeaveTimeForReadiness() async throws {
        let equal = try await runProduct("storeplatformd", ["--cluster", "helm", "--install-timeout", "600", "--provision-deadline", "600"])
        #expect(equal.status == 64)
        #expect(
            equal.stderr.contains("--install-timeout (600 s) must be shorter than --provision-deadline (600 s), which also covers waiting for readiness"),
            "\(equal.stderr)"
        )
        let half = try await runProduct("storeplatformd", ["--cluster", "helm", "--platform-service-account", "storeplatform"])
        #expect(half.status == 64)
        #expect(half.stderr.contains("--store-cluster-role and --platform-service-account go together"), "\(half.stderr)")
        let account = try await runProduct("storeplatformd", ["--cluster", "helm", "--store-cluster-role", "r", "--platform-service-account", "storeplatform"])
        #expect(account.status == 64)
        #expect(account.stderr.contains("--platform-service-account storeplatform is not NAMESPACE/NAME"), "\(account.stderr)")
        let values = try await runProduct("storeplatformd", ["--cluster", "helm", "--store-values", "/nonexistent/values.yaml"])
        #expect(values.status == 64)
        #expect(values.stderr.contains("--store-values /nonexistent/values.yaml: no readable file there"), "\(values.stderr)")
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/setpriv")))
    func anotherUserCannotOpenThe0660Socket() async throws {
        let daemon = try DaemonProcess()
        try await daemon.start()
        // Let uid 65534 reach the socket file itself; its 0660 mode must still stop it.
        chmod(daemon.directory, 0o755)
        chmod(daemon.directory + "/run", 0o755)
        let result = try await runProduct("storectl", ["health", "--socket", daemon.socketPath], user: 65534)
        #expect(result.status == 3)
        #expect(result.stderr.contains("UNAVAILABLE"))
        try await daemon.terminate()
    }
}
