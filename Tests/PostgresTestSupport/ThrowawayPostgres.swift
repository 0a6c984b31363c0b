import Foundation
import ProcessTestSupport
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A PostgreSQL server of its own for tests: a copy of a cluster `initdb` made once
/// per test process (``template``) in a new temporary directory, `pg_ctl start` listening on a Unix socket in that directory only (or also on
/// 127.0.0.1 at a free port, with `tcp: true`), with durability switched off for
/// speed. ``stop()`` stops it and removes the directory.
///
/// ```swift
/// try await ThrowawayPostgres.withServer { server in
///     let url = try await server.createDatabase()      // a fresh, empty database
///     let database = try await PostgresStoreDatabase.connect(url: url, logger: logger)
///     …
///     try await server.stopServer()                     // PostgreSQL down, data kept
///     try await server.startServer()                    // and up again
/// }
/// ```
///
/// The binaries come from Debian's `/usr/lib/postgresql/VERSION/bin` (the highest
/// version) or from PATH. As root, the server runs as the `postgres` user
/// (`runuser -u postgres --`), which owns the directory; otherwise as the current
/// user. The superuser is `postgres`: trusted on the socket, password
/// (``password``, scram-sha-256) on TCP.
///
/// Tests that need PostgreSQL check ``enabled``: without the binaries they are skipped,
/// unless `STOREPLATFORM_REQUIRE_POSTGRES=1` (CI sets it), where they run and fail
/// with ``start(tcp:)``'s error saying what is missing.
public final class ThrowawayPostgres: Sendable {
    /// The temporary directory: the data directory `data/` and the socket live in it.
    public let directory: String
    /// The directory of the server's Unix socket (`.s.PGSQL.<port>`).
    public var socketDirectory: String { directory }
    /// The port: of the TCP listener with `tcp: true`, else only the socket's name.
    public let port: Int
    /// Whether the server also listens on 127.0.0.1:``port``.
    public let tcp: Bool
    /// Whether it offers TLS (`ssl = on`), with a certificate for `localhost` and
    /// 127.0.0.1 signed by a CA of its own: ``certificateAuthorityFile``.
    public let tls: Bool
    /// The PEM file of the CA that signed the server's certificate (with `tls: true`).
    public var certificateAuthorityFile: String { directory + "/tls/ca.crt" }
    /// The superuser.
    public let user = "postgres"
    /// The superuser's password, which TCP connections must give.
    public let password: String
    private let binaries: String
    private let running = Mutex(false)

    /// Whether PostgreSQL tests run here: the binaries are installed, or
    /// `STOREPLATFORM_REQUIRE_POSTGRES=1` demands them.
    public static var enabled: Bool { required || binaryDirectory() != nil }

    /// Whether `STOREPLATFORM_REQUIRE_POSTGRES=1` is set: missing PostgreSQL fails tests.
    public static var required: Bool {
        ProcessInfo.processInfo.environment["STOREPLATFORM_REQUIRE_POSTGRES"] == "1"
    }

    private init(directory: String, port: Int, tcp: Bool, tls: Bool = false, password: String, binaries: String) {
        self.directory = directory
        self.port = port
        self.tcp = tcp
        self.tls = tls
        self.password = password
        self.binaries = binaries
    }

    /// Creates and starts a server in a new temporary directory.
    ///
    /// - Parameter tcp: also listen on 127.0.0.1 at a free port (password login).
    /// - Parameter tls: offer TLS on it (``certificateAuthorityFile``); needs openssl.
    /// - Throws: ``Failure`` when PostgreSQL is not installed, or a step fails
    ///   (with that step's output); the directory is removed then.
    public static func start(tcp: Bool = false, tls: Bool = false) async throws -> ThrowawayPostgres {
        guard let binaries = binaryDirectory() else {
            throw Failure(
                "PostgreSQL is not installed: no initdb and pg_ctl in /usr/lib/postgresql/*/bin or on PATH "
                    + "(apt-get install postgresql)"
            )
        }
        await reapOrphans(binaries: binaries)
        var attempt = 1
        while true {
            // Short: a socket path must fit in 107 bytes.
            let directory = "/tmp/sppg-\(UUID().uuidString.prefix(8).lowercased())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            try "\(getpid())".write(toFile: directory + "/owner.pid", atomically: true, encoding: .utf8)
            _ = Self.cleanup.withLock { $0.insert(directory) }
            let template: Template
            do {
                template = try await Self.template(binaries: binaries)
            } catch {
                _ = Self.cleanup.withLock { $0.remove(directory) }
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
            let server = ThrowawayPostgres(
                directory: directory, port: tcp || tls ? try freeLoopbackPort() : 5432, tcp: tcp || tls, tls: tls,
                password: template.password, binaries: binaries
            )
            do {
                try await server.initialize(from: template)
                try await server.startServer()
                return server
            } catch {
                // A free port can be taken by another test's server between our
                // check and the server's bind: then another port.
                let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
                await server.stop()
                guard server.tcp, attempt < 3, log.contains("already in use") else { throw error }
                attempt += 1
            }
        }
    }

    /// Runs `body` with a new server, stopped and removed afterwards whatever `body`
    /// did.
    public static func withServer<T>(tcp: Bool = false, tls: Bool = false, _ body: (ThrowawayPostgres) async throws -> T) async throws -> T {
        let server = try await start(tcp: tcp, tls: tls)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// One server for the whole test process, started on first use and stopped when
    /// the process exits: for suites that only need fresh databases
    /// (``createDatabase(prefix:)``). Never stop it.
    public static func shared() async throws -> ThrowawayPostgres {
        try await sharedServer.value
    }

    private static let sharedServer = Task<ThrowawayPostgres, any Error> {
        let server = try await ThrowawayPostgres.start()
        return server
    }

    // MARK: Databases

    /// The URL of database `name` on this server: the socket by default (trusted,
    /// no password), or TCP with `tcp: true` (give ``password``). `parameters` are
    /// appended (`pool_max=4`, …).
    public func url(database name: String, tcp viaTCP: Bool = false, parameters: [String: String] = [:]) -> String {
        var query = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let base: String
        if viaTCP {
            precondition(tcp, "this server was started without tcp: true")
            base = "postgresql://\(user)@127.0.0.1:\(port)/\(name)"
        } else {
            base = "postgresql://\(user)@/\(name)"
            query.insert("host=\(socketDirectory)", at: 0)
            if port != 5432 { query.insert("port=\(port)", at: 1) }
        }
        return query.isEmpty ? base : base + "?" + query.joined(separator: "&")
    }

    /// Creates a new empty database `PREFIX_<random>` and returns its URL (the socket,
    /// or TCP with `tcp: true`), with `parameters` appended.
    public func createDatabase(prefix: String = "t", tcp viaTCP: Bool = false, parameters: [String: String] = [:]) async throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try await sql("CREATE DATABASE \(name)")
        return url(database: name, tcp: viaTCP, parameters: parameters)
    }

    /// Runs `statement` with psql as the superuser on database `database`, over the
    /// socket; returns what psql printed (unaligned, tuples only).
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") async throws -> String {
        try await run(
            binaries + "/psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socketDirectory, "-p", "\(port)", "-U", user, "-d", database,
             "-c", statement],
            asServerUser: false
        )
    }

    // MARK: Running

    /// Starts the server (again), and waits until it accepts connections.
    public func startServer() async throws {
        try await pgctl(["start", "-w", "-t", "60", "-l", directory + "/server.log"])
        running.withLock { $0 = true }
    }

    /// Stops the server (fast shutdown: open sessions are ended) and waits until it
    /// is down; the data stays, for ``startServer()``.
    public func stopServer() async throws {
        try await pgctl(["stop", "-w", "-t", "60", "-m", "fast"])
        running.withLock { $0 = false }
    }

    /// Stops the server if it runs and removes its directory. Never throws: a test's
    /// cleanup must not hide its own failure.
    public func stop() async {
        if running.withLock({ $0 }) {
            _ = try? await pgctl(["stop", "-w", "-t", "60", "-m", "immediate"])
            running.withLock { $0 = false }
        }
        try? FileManager.default.removeItem(atPath: directory)
        _ = Self.cleanup.withLock { $0.remove(directory) }
    }

    /// What went wrong, with the output of the step that failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Setting up

    /// The cluster every server of this process starts as: `initdb` runs once (its
    /// bootstrap costs seconds of CPU, which many servers made at once would spend
    /// together), and each server copies its data directory.
    struct Template: Sendable {
        /// The data directory to copy; never started.
        var data: String
        /// The superuser's password in it.
        var password: String
    }

    private static let templateTask = Mutex<Task<Template, any Error>?>(nil)

    private static func template(binaries: String) async throws -> Template {
        let task = templateTask.withLock { task in
            if let task { return task }
            let made = Task { try await makeTemplate(binaries: binaries) }
            task = made
            return made
        }
        return try await task.value
    }

    /// `initdb` into a new temporary directory (removed at exit).
    private static func makeTemplate(binaries: String) async throws -> Template {
        let directory = "/tmp/sppg-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try "\(getpid())".write(toFile: directory + "/owner.pid", atomically: true, encoding: .utf8)
        _ = cleanup.withLock { $0.insert(directory) }
        let maker = ThrowawayPostgres(directory: directory, port: 0, tcp: false, password: "pw-\(UUID().uuidString)", binaries: binaries)
        if getuid() == 0 {
            // The server refuses to run as root: it runs as postgres, which owns the directory.
            try await maker.run("/bin/chown", ["postgres:postgres", directory], asServerUser: false)
        }
        let passwordFile = directory + "/password"
        try maker.password.write(toFile: passwordFile, atomically: false, encoding: .utf8)
        if getuid() == 0 {
            try await maker.run("/bin/chown", ["postgres:postgres", passwordFile], asServerUser: false)
        }
        try await maker.run(
            binaries + "/initdb",
            ["-D", directory + "/data", "-U", maker.user, "--pwfile", passwordFile, "--auth-local", "trust",
             "--auth-host", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync"],
            asServerUser: true
        )
        return Template(data: directory + "/data", password: maker.password)
    }

    /// This server's data directory: a copy of `template`'s, with its own settings.
    private func initialize(from template: Template) async throws {
        if getuid() == 0 {
            try await run("/bin/chown", ["postgres:postgres", directory], asServerUser: false)
        }
        try await run("/bin/cp", ["-a", template.data, directory + "/data"], asServerUser: true)
        let settings = """

            # ThrowawayPostgres: for tests only.
            listen_addresses = '\(tcp ? "127.0.0.1" : "")'
            port = \(port)
            unix_socket_directories = '\(directory)'
            max_connections = 1000
            shared_buffers = 32MB
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            log_min_messages = warning

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/data/postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        if tls { try handle.write(contentsOf: Data(try await makeCertificates().utf8)) }
        try handle.close()
    }

    /// A CA and a server certificate it signs (for `localhost` and 127.0.0.1) in
    /// `tls/`, readable by the server only; the settings that turn TLS on.
    private func makeCertificates() async throws -> String {
        let tlsDirectory = directory + "/tls"
        try FileManager.default.createDirectory(atPath: tlsDirectory, withIntermediateDirectories: false)
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: tlsDirectory + "/san.ext", atomically: true, encoding: .utf8)
        let openssl = "/usr/bin/openssl"
        try await run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ThrowawayPostgres CA",
            "-keyout", tlsDirectory + "/ca.key", "-out", tlsDirectory + "/ca.crt"], asServerUser: false)
        try await run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", tlsDirectory + "/server.key", "-out", tlsDirectory + "/server.csr"], asServerUser: false)
        try await run(openssl, ["x509", "-req", "-days", "2", "-in", tlsDirectory + "/server.csr", "-CA", tlsDirectory + "/ca.crt",
            "-CAkey", tlsDirectory + "/ca.key", "-CAcreateserial", "-extfile", tlsDirectory + "/san.ext",
            "-out", tlsDirectory + "/server.crt"], asServerUser: false)
        // The server refuses a key that others may read.
        try await run("/bin/chmod", ["600", tlsDirectory + "/server.key"], asServerUser: false)
        if getuid() == 0 {
            try await run("/bin/chown", ["-R", "postgres:postgres", tlsDirectory], asServerUser: false)
        }
        return """
            ssl = on
            ssl_cert_file = '\(tlsDirectory)/server.crt'
            ssl_key_file = '\(tlsDirectory)/server.key'

            """
    }

    private func pgctl(_ arguments: [String]) async throws {
        try await run(binaries + "/pg_ctl", ["-D", directory + "/data"] + arguments, asServerUser: true)
    }

    /// Runs `executable` (as the server's user with `asServerUser`, when root) and
    /// returns its output; throws ``Failure`` with its output when it fails. The
    /// process is waited for without blocking a thread, and inherits no descriptor
    /// but its standard ones (the server `pg_ctl start` leaves running holds none of
    /// ours).
    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asServerUser: Bool) async throws -> String {
        var command = [executable] + arguments
        if asServerUser && getuid() == 0 {
            command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command
        }
        let result: ExecutionResult<Void, StringOutput<UTF8>, CombinedErrorOutput>
        do {
            result = try await Subprocess.run(
                .path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
                output: .string(limit: 1 << 20), error: .combinedWithOutput
            )
        } catch {
            throw Failure("cannot run \(executable): \(error)")
        }
        let text = result.standardOutput
        guard case .exited(0) = result.terminationStatus else {
            let name = URL(fileURLWithPath: executable).lastPathComponent
            throw Failure("\(name) \(arguments.joined(separator: " ")) ended with \(result.terminationStatus): \(text)")
        }
        return text
    }

    /// Stops and removes the servers that test processes no longer running left
    /// behind (killed before they could clean up): the directories whose
    /// `owner.pid` names a process that is gone. Servers of running processes are
    /// left alone.
    private static func reapOrphans(binaries: String) async {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
        for name in names where name.hasPrefix("sppg-") {
            let directory = "/tmp/" + name
            guard let text = try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8),
                let owner = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(owner, 0) != 0, errno == ESRCH
            else { continue }
            if FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid") {
                let orphan = ThrowawayPostgres(directory: directory, port: 0, tcp: false, password: "", binaries: binaries)
                _ = try? await orphan.pgctl(["stop", "-w", "-t", "30", "-m", "immediate"])
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Debian's newest `/usr/lib/postgresql/VERSION/bin`, else the directory of
    /// `initdb` on PATH, when `pg_ctl` and `psql` are beside it.
    private static func binaryDirectory() -> String? {
        var candidates: [String] = []
        let root = "/usr/lib/postgresql"
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: root) {
            candidates += versions.compactMap { Int($0) }.sorted(by: >).map { "\(root)/\($0)/bin" }
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        candidates += path.split(separator: ":").map(String.init)
        return candidates.first { directory in
            ["initdb", "pg_ctl", "psql"].allSatisfy { FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)") }
        }
    }

    // MARK: Cleanup at exit

    /// The directories of servers not stopped yet: the shared server's, and any a
    /// test left behind. The process's exit stops them (immediate shutdown) and
    /// removes them.
    private static let cleanup: Mutex<Set<String>> = {
        atexit {
            let directories = ThrowawayPostgres.cleanup.withLock { $0 }
            for directory in directories {
                ThrowawayPostgres.stopAtExit(directory)
            }
        }
        return Mutex([])
    }()

    private static func stopAtExit(_ directory: String) {
        if let binaries = binaryDirectory(), FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid") {
            var command = [binaries + "/pg_ctl", "-D", directory + "/data", "stop", "-w", "-t", "30", "-m", "immediate"]
            if getuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
            _ = try? ChildProcess(command[0], Array(command.dropFirst())).waitBlocking()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
