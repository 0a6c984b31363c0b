import Foundation
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// The repository root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Whether every program in `names` is on PATH.
func onPath(_ names: [String]) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return names.allSatisfy { name in
        path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }
}

/// The interop suites need protobuf-c and Python's protobuf and pytest, which
/// `.ci/run` installs. Without them these tests are skipped on a developer's
/// machine; CI sets STOREPLATFORM_REQUIRE_INTEROP=1 so that there a missing
/// tool fails instead.
let interopRequired = ProcessInfo.processInfo.environment["STOREPLATFORM_REQUIRE_INTEROP"] == "1"

/// Whether python3 can import every one of these modules.
func pythonImports(_ modules: [String]) -> Bool {
    succeeds("/usr/bin/env", ["python3", "-c", "import " + modules.joined(separator: ", ")])
}

/// Whether a program runs to a zero exit (its output discarded). For the
/// conditions of `.enabled(if:)`, which cannot await.
func succeeds(_ executable: String, _ arguments: [String]) -> Bool {
    guard let child = try? ChildProcess(executable, arguments) else { return false }
    return child.waitBlocking() == .exited(0)
}

/// Runs a command in the repository with extra environment variables; returns its status and output.
func runInRepository(_ arguments: [String], environment extra: [String: String]) async throws -> CommandResult {
    try await runCommand("/usr/bin/env", arguments, environment: extra, directory: repositoryRoot, mergingErrors: true)
}

/// Builds targets of the C client's Makefile, one build at a time (under flock):
/// tests running in parallel share clients/c/build, and two makes writing the same
/// objects would break each other's links.
func buildCClient(_ targets: [String]) async throws -> CommandResult {
    try await runInRepository(
        ["bash", "-c", "mkdir -p clients/c/build && exec flock clients/c/build/.lock make -C clients/c \"$@\"", "build-c"] + targets,
        environment: [:]
    )
}

/// A daemon for a client suite: at most 3 live stores, a named bearer token on
/// TCP (`interop TOKEN`), and a simulated cluster that answers in well under a second
/// and fails the first upgrade of every store with `upgradeFault` (`--sim-fault`; the
/// daemon rolls that upgrade back by itself, and the store's next upgrade succeeds),
/// on `database`. The environment tells the suites where it is and which fault it
/// injects (`STOREPLATFORM_TEST_UPGRADE_FAULT`).
func interopDaemon(
    _ extraArguments: [String] = [], upgradeFault: String = "upgrade-error", database: DaemonDatabase = .sqlite
) async throws -> (DaemonProcess, [String: String]) {
    let directory = try makeTemporaryDirectory("spd")
    let token = "interop-\(UUID().uuidString)"
    try "interop \(token)\n".write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
        extraArguments: quickCluster + ["--max-live-stores", "3", "--token-file", directory + "/tokens", "--sim-fault", upgradeFault]
            + extraArguments + (try await database.arguments()),
        directory: directory
    )
    try await daemon.start()
    return (daemon, [
        "STOREPLATFORM_TEST_SOCKET": daemon.socketPath,
        "STOREPLATFORM_TEST_TCP": "127.0.0.1:\(daemon.tcpPort)",
        "STOREPLATFORM_TEST_TOKEN": token,
        "STOREPLATFORM_TEST_UPGRADE_FAULT": upgradeFault,
    ])
}

/// Each client runs against a daemon on SQLite and one on PostgreSQL (``DaemonDatabase/all``).
@Suite("Clients in other languages against a real daemon")
struct ClientInteropTests {
    @Test(.enabled(if: interopRequired || (onPath(["make", "cc", "protoc-c", "pkg-config", "flock"]))), arguments: DaemonDatabase.all)
    func cClientPassesItsSuiteUnderSanitizers(database: DaemonDatabase) async throws {
        // A replay of 2 transitions at most: the watch tests resume through WATCH_FELL_BEHIND.
        let (daemon, environment) = try await interopDaemon(["--watch-replay-limit", "2"], database: database)
        let build = try await buildCClient(["build/sanitize/test_client"])
        #expect(build.status == 0, "\(build.stdout)")
        let result = try await runInRepository(["make", "-C", "clients/c", "test"], environment: environment)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
        try await daemon.terminate()
    }

    /// The C example CLI reads a token file as the daemon does: of a NAME TOKEN
    /// line it sends the TOKEN, and the store it creates is owned by token:NAME.
    @Test(.enabled(if: interopRequired || (onPath(["make", "cc", "pkg-config", "flock"]))), arguments: DaemonDatabase.all)
    func cCLISendsTheTokenOfANamedLine(database: DaemonDatabase) async throws {
        let (daemon, environment) = try await interopDaemon(database: database)
        let build = try await buildCClient(["build/storeplatform-c"])
        #expect(build.status == 0, "\(build.stdout)")
        let created = try await runInRepository(
            [
                "clients/c/build/storeplatform-c", "--tcp", environment["STOREPLATFORM_TEST_TCP"]!,
                "--token-file", daemon.directory + "/tokens", "create", "named-token",
            ],
            environment: [:]
        )
        #expect(created.status == 0, "\(created.stdout)")
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var request = Storeplatform_V1_ListStoresRequest()
        request.pageSize = 10
        let stores = try await client.unary(M.StoreService.listStores, request).stores
        #expect(stores.map(\.owner) == ["token:interop"])
        await client.close()
        try await daemon.terminate()
    }

    /// The C CLI's `watch`: with a replay limit of 2 the daemon ends the resumed
    /// watch with WATCH_FELL_BEHIND after every 2 transitions; the CLI resumes from
    /// the last one printed each time, prints every later transition once and stops
    /// after --count of them.
    @Test(.enabled(if: interopRequired || (onPath(["make", "cc", "protoc-c", "pkg-config", "flock"]))), arguments: DaemonDatabase.all)
    func cCLIWatchResumesAfterFallingBehindAndPrintsEveryTransitionOnce(database: DaemonDatabase) async throws {
        let (daemon, _) = try await interopDaemon(["--watch-replay-limit", "2"], database: database)
        let build = try await buildCClient(["build/storeplatform-c"])
        #expect(build.status == 0, "\(build.stdout)")
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let store = try await client.create("c-cli-watch")
        try await client.waitFor(store.id, [.ready])
        _ = try await client.delete(store.id)
        try await client.waitFor(store.id, [.deleted])
        let ids = try await client.everyAuditID()
        await client.close()

        let result = try await runInRepository(
            ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath, "watch", "--after", "\(ids[0])", "--count", "\(ids.count - 1)"],
            environment: [:]
        )
        #expect(result.status == 0, "\(result.stdout)")
        let lines = result.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(lines.compactMap { Int64($0.prefix { $0.isNumber }) } == Array(ids.dropFirst()), "\(result.stdout)")
        #expect(lines.last?.contains("c-cli-watch (\(store.id))  deleting -> deleted") == true, "\(result.stdout)")
        #expect(result.stdout.contains("the watch fell behind after audit id \(ids[2]); resuming from there"), "\(result.stdout)")
        try await daemon.terminate()
    }

    /// The C CLI's versions, upgrade, revisions and rollback, naming the store by
    /// name: a first upgrade that the seeded fault fails and the daemon rolls back, a
    /// second that works, a rollback to revision 1, and a refusal's exit code. The
    /// commands are thin over the library, whose suite runs on both backends: SQLite
    /// alone here.
    @Test(.enabled(if: interopRequired || (onPath(["make", "cc", "pkg-config", "flock"]))))
    func cCLIUpgradesRollsBackAndListsRevisionsAndVersions() async throws {
        let (daemon, _) = try await interopDaemon()
        let build = try await buildCClient(["build/storeplatform-c"])
        #expect(build.status == 0, "\(build.stdout)")
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let store = try await client.create("c-cli-upgrade")
        try await client.waitFor(store.id, [.ready])
        func cli(_ arguments: String...) async throws -> CommandResult {
            try await runInRepository(["clients/c/build/storeplatform-c", "--socket", daemon.socketPath] + arguments, environment: [:])
        }
        /// The store once it is no longer upgrading.
        func settled() async throws -> Storeplatform_V1_Store {
            try await pollUntil("c-cli-upgrade no longer upgrading", within: .seconds(120)) {
                let now = try await client.store(store.id)
                return now.status == .upgrading ? nil : now
            }
        }
        /// A change's operation lets the store go just after its last transition
        /// commits: a command run right then may be refused with OPERATION_IN_PROGRESS.
        func cliWhenFree(_ arguments: String...) async throws -> CommandResult {
            try await pollUntil("storeplatform-c \(arguments.joined(separator: " ")) without OPERATION_IN_PROGRESS") {
                let result = try await runInRepository(
                    ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath] + arguments, environment: [:]
                )
                return result.stdout.contains("OPERATION_IN_PROGRESS") ? nil : result
            }
        }

        let versions = try await cli("versions")
        #expect(versions.status == 0, "\(versions.stdout)")
        let rows = versions.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(3).joined(separator: " ") }
        #expect(rows == ["ENGINE VERSION WORDPRESS", "woocommerce 6.8-wc9.8 wordpress:6.8-php8.3-apache", "woocommerce 6.9-wc10.3 *"], "\(versions.stdout)")

        let failing = try await cliWhenFree("upgrade", "c-cli-upgrade", "6.8-wc9.8")
        #expect(failing.status == 0, "\(failing.stdout)")
        #expect(failing.stdout.contains("status:    upgrading"), "\(failing.stdout)")
        #expect(failing.stdout.contains("version:   6.8-wc9.8"), "\(failing.stdout)")
        var now = try await settled()
        #expect((now.status, now.version, now.revision) == (.ready, "6.9-wc10.3", 3))
        _ = try await cliWhenFree("upgrade", "c-cli-upgrade", "6.8-wc9.8")
        now = try await settled()
        #expect((now.status, now.version, now.revision) == (.ready, "6.8-wc9.8", 4))
        let rolledBack = try await cliWhenFree("rollback", "c-cli-upgrade", "1")
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)")
        #expect(rolledBack.stdout.contains("revision:  5"), "\(rolledBack.stdout)")
        now = try await settled()
        #expect((now.status, now.version, now.revision) == (.ready, "6.9-wc10.3", 5))

        let revisions = try await cli("revisions", store.id)
        #expect(revisions.status == 0, "\(revisions.stdout)")
        let history = revisions.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(4).joined(separator: " ") }
        #expect(
            history == [
                "REVISION VERSION STATUS BY", "5 6.9-wc10.3 deployed uid:\(getuid())", "4 6.8-wc9.8 superseded uid:\(getuid())",
                "3 6.9-wc10.3 superseded system", "2 6.8-wc9.8 rolled-back uid:\(getuid())", "1 6.9-wc10.3 superseded uid:\(getuid())",
            ],
            "\(revisions.stdout)"
        )
        #expect(revisions.stdout.contains("(simulated fault upgrade-error)"), "\(revisions.stdout)")

        let unknown = try await cliWhenFree("rollback", "c-cli-upgrade", "9")
        #expect(unknown.status == 1)
        #expect(unknown.stdout.contains("error: UNKNOWN_REVISION: store \"c-cli-upgrade\" has no revision 9"), "\(unknown.stdout)")
        let usage = try await cli("rollback", "c-cli-upgrade", "one")
        #expect(usage.status == 2)
        #expect(usage.stdout.contains("rollback wants a REVISION number"), "\(usage.stdout)")
        await client.close()
        try await daemon.terminate()
    }

    /// The C CLI's fleet commands on two stores by name, under the seeded fault of each
    /// store's first upgrade: a fleet upgrade in waves of one, followed with --wait,
    /// stops after the first store's rollback and says which store moved, failed or
    /// waited (exit 1); status and list show it; pause with none active is NOT_FOUND;
    /// a second fleet upgrade is paused, resumed and cancelled, and its watch ends
    /// cancelled (exit 1); bad usage exits 2. The library's suite covers the rest.
    @Test(.enabled(if: interopRequired || (onPath(["make", "cc", "pkg-config", "flock"]))))
    func cCLIFleetUpgradesStopsPausesResumesAndCancels() async throws {
        // Each upgrade's pods take 2 s to be ready: a paused fleet upgrade's second
        // wave has not started when the next command comes, however slowly it starts.
        let (daemon, _) = try await interopDaemon(["--sim-ready-delay", "2"])
        let build = try await buildCClient(["build/storeplatform-c"])
        #expect(build.status == 0, "\(build.stdout)")
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var ids: [String] = []
        for name in ["c-cli-fleet-1", "c-cli-fleet-2"] { ids.append(try await client.create(name).id) }
        for id in ids { try await client.waitFor(id, [.ready]) }
        await client.close()
        func cli(_ arguments: String...) async throws -> CommandResult {
            try await runInRepository(["clients/c/build/storeplatform-c", "--socket", daemon.socketPath] + arguments, environment: [:])
        }
        let stores = ["--store", "c-cli-fleet-1", "--store", "c-cli-fleet-2"]

        let none = try await cli("fleet-status")
        #expect(none.status == 1)
        #expect(none.stdout.contains("error: NOT_FOUND: there has been no fleet upgrade"), "\(none.stdout)")

        let stopped = try await runInRepository(
            ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath, "fleet-upgrade", "6.8-wc9.8"] + stores
                + ["--wave-size", "1", "--wait"],
            environment: [:]
        )
        #expect(stopped.status == 1, "\(stopped.stdout)")
        #expect(stopped.stdout.contains("to 6.8-wc9.8: running, 2 stores in 2 waves"), "\(stopped.stdout)")
        #expect(stopped.stdout.contains("wave 1  c-cli-fleet-1  rolled-back: "), "\(stopped.stdout)")
        #expect(!stopped.stdout.contains("c-cli-fleet-2  "), "\(stopped.stdout)")
        #expect(stopped.stdout.contains("fleet upgrade stopped: 0 upgraded, 1 rolled back, 0 failed, 0 skipped, 1 not started"), "\(stopped.stdout)")
        #expect(stopped.stdout.contains(" stopped: 0 upgraded, 1 rolled back"), "\(stopped.stdout)")

        let status = try await cli("fleet-status")
        #expect(status.status == 0, "\(status.stdout)")
        #expect(status.stdout.contains("state:     stopped"), "\(status.stdout)")
        let rows = status.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(5).joined(separator: " ") }
        #expect(rows.contains("1 c-cli-fleet-1 6.9-wc10.3 rolled-back 2"), "\(status.stdout)")
        #expect(rows.contains("2 c-cli-fleet-2 6.9-wc10.3 waiting -"), "\(status.stdout)")
        let id = try #require(status.stdout.split(separator: "\n").first { $0.hasPrefix("id:") }?.split(separator: " ").last.map(String.init))
        let listed = try await cli("fleet-list")
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("\(id)  6.8-wc9.8       stopped     1/2"), "\(listed.stdout)")
        let pauseNone = try await cli("fleet-pause")
        #expect(pauseNone.status == 1)
        #expect(pauseNone.stdout.contains("error: NOT_FOUND: no fleet upgrade is active"), "\(pauseNone.stdout)")

        // A failure is tolerated, so that it stays paused whatever its first wave does.
        let started = try await runInRepository(
            ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath, "fleet-upgrade", "6.8-wc9.8"] + stores
                + ["--wave-size", "1", "--failure-budget", "2"],
            environment: [:]
        )
        #expect(started.status == 0, "\(started.stdout)")
        #expect(started.stdout.contains("state:     running"), "\(started.stdout)")
        let paused = try await cli("fleet-pause")
        #expect(paused.status == 0, "\(paused.stdout)")
        #expect(paused.stdout.contains("state:     paused"), "\(paused.stdout)")
        let again = try await cli("fleet-pause")
        #expect(again.status == 1)
        #expect(again.stdout.contains("error: INVALID_STATE_TRANSITION: "), "\(again.stdout)")
        let second = try await runInRepository(
            ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath, "fleet-upgrade", "6.8-wc9.8", "--store", "c-cli-fleet-2"],
            environment: [:]
        )
        #expect(second.status == 1)
        #expect(second.stdout.contains("error: FLEET_UPGRADE_IN_PROGRESS: "), "\(second.stdout)")
        let resumed = try await cli("fleet-resume")
        #expect(resumed.stdout.contains("state:     running"), "\(resumed.stdout)")
        let cancelled = try await cli("fleet-cancel")
        #expect(cancelled.status == 0, "\(cancelled.stdout)")
        let watched = try await cli("fleet-status", "--watch")
        #expect(watched.status == 1, "\(watched.stdout)")
        #expect(watched.stdout.contains(" cancelled: "), "\(watched.stdout)")

        for arguments in [
            ["fleet-upgrade"], ["fleet-upgrade", "6.8-wc9.8", "--store", "a", "--status", "ready"],
            ["fleet-upgrade", "6.8-wc9.8", "--status", "sleeping"], ["fleet-upgrade", "6.8-wc9.8", "--wave-size", "0"],
            ["fleet-list", "extra"], ["fleet-pause", "--wait"],
        ] {
            let usage = try await runInRepository(
                ["clients/c/build/storeplatform-c", "--socket", daemon.socketPath] + arguments, environment: [:]
            )
            #expect(usage.status == 2, "\(arguments): \(usage.stdout)")
        }
        try await daemon.terminate()
    }

    @Test(.enabled(if: interopRequired || pythonImports(["pytest", "google.protobuf"])), arguments: DaemonDatabase.all)
    func pythonClientPassesItsSuite(database: DaemonDatabase) async throws {
        // Another fault than the C suite's: the upgrade's migration hook fails.
        let (daemon, environment) = try await interopDaemon(upgradeFault: "migration-error", database: database)
        let result = try await runInRepository(
            ["python3", "-m", "pytest", "clients/python/tests", "-q", "-p", "no:cacheprovider"],
            environment: environment.merging(["PYTHONPATH": repositoryRoot + "/clients/python"]) { _, new in new }
        )
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains(" passed"), "\(result.stdout)")
        try await daemon.terminate()
    }
}

