import Foundation
import PostgresTestSupport
import ProcessTestSupport
import StoreRPC
import Testing

/// A daemon that cannot open its state says which file and why, on its own:
/// nothing else is logged, so it must not send the operator to a log.
@Suite struct StartupErrorTests {
    private static func arguments(_ directory: String) -> [String] {
        ["--socket", directory + "/run/d.sock", "--tcp", "off", "--http", "off", "--data-dir", directory + "/data"]
    }

    /// The lines the daemon printed on stderr, without empty ones and without the
    /// PostgreSQL backend's "a store database call was slow" warnings: a loaded
    /// machine may log those at any step, and they say nothing about why it stopped.
    private static func lines(_ result: CommandResult) -> [Substring] {
        result.stderr.split(separator: "\n").filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.contains("a store database call was slow")
        }
    }

    /// Runs the daemon with `options` in a new directory (removed afterwards) and
    /// expects it to stop at start with a non-zero status and one line on stderr
    /// holding `message`; returns the result.
    @discardableResult
    private static func expectOneLineFailure(
        _ options: [String], _ message: String, status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CommandResult {
        let directory = temporaryPath("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runProduct("storeplatformd", arguments(directory) + options)
        #expect(result.status == status, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines(result).count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("log has the details"), sourceLocation: sourceLocation)
        return result
    }

    /// A directory where the database file belongs fails for root too.
    @Test func aDirectoryWhereTheDatabaseBelongsIsNamed() async throws {
        let directory = temporaryPath("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/data/storeplatform.sqlite"
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        let result = try await runProduct("storeplatformd", Self.arguments(directory))
        #expect(result.status == 1)
        #expect(Self.lines(result).count == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "cannot open the store database \(database): Is a directory (SQLite: unable to open database file); make its directory writable by this user, or choose another with --data-dir or --database"
            ),
            "\(result.stderr)"
        )
        #expect(!result.stderr.contains("log has the details"))
    }

    /// A read-only data directory: run as an unprivileged uid when the tests run
    /// as root, who may write anywhere.
    @Test(.enabled(if: getuid() != 0 || FileManager.default.fileExists(atPath: "/usr/bin/setpriv")))
    func aReadOnlyDataDirectoryIsNamed() async throws {
        let directory = temporaryPath("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/run", withIntermediateDirectories: true)
        chmod(directory, 0o755)
        chmod(directory + "/run", 0o777)
        chmod(directory + "/data", 0o555)
        let result = try await runProduct("storeplatformd", Self.arguments(directory), user: getuid() == 0 ? 65534 : nil)
        #expect(result.status == 1)
        #expect(Self.lines(result).count == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("cannot open the store database \(directory)/data/storeplatform.sqlite: Permission denied"),
            "\(result.stderr)"
        )
        #expect(!result.stderr.contains("log has the details"))
    }

    /// `--database` that names neither backend, an SQLite URL without a file, and a
    /// password file for SQLite: one line each, exit 64 (usage), nothing started.
    @Test(arguments: [
        (["--database", "mysql://root@db/shop"], "--database \"mysql://root@db/shop\" is neither sqlite:PATH nor postgres://USER@HOST:PORT/DATABASE"),
        (["--database", "redis://user:hunter2@db/0"], "--database \"redis://user:***@db/0\" is neither sqlite:PATH nor postgres://"),
        (["--database", "sqlite:"], "--database sqlite: names no file; give sqlite:PATH"),
        (["--database-password-file", "/etc/hostname"], "--database-password-file is for a PostgreSQL --database; an SQLite file has no password"),
    ])
    func badDatabaseOptionsAreNamed(options: [String], message: String) async throws {
        try await Self.expectUsageError(options, message)
    }

    /// A `postgres://` URL that cannot be right, a password given twice, a password
    /// file that cannot be read: one line naming the flag and what is wrong (never the
    /// password, and no usage text after it), exit 64, nothing started.
    @Test(arguments: [
        (["--database", "postgres://db.example:99999/shop"], "--database \"postgres://db.example:99999/shop\": the database URL's port must be a number from 1 to 65535, not \"99999\""),
        (["--database", "postgresql://user:hunter2@db.example:5432"], "--database \"postgresql://user:***@db.example:5432\": the database URL names no database: add it as the path (postgresql://HOST:PORT/DATABASE)"),
        (["--database", "postgres:///shop"], "the database URL names no host: add one (postgresql://HOST:PORT/DATABASE) or a socket directory"),
        (["--database", "postgres://db.example/shop?sslmod=require"], "the database URL has an unknown parameter \"sslmod\"; known ones are host, port, sslmode"),
        (["--database", "postgres://db.example/shop?sslmode=always"], "the database URL's sslmode must be disable, prefer, require or verify-full, not \"always\""),
        (["--database", "postgres://db.example/shop?connect_timeout=0"], "the database URL's connect_timeout must be a whole number of seconds from 1 to 3600, not \"0\""),
        (["--database", "postgres://db.example/shop?sslrootcert=/etc/ca.pem"], "the database URL's sslrootcert is only used with sslmode=verify-full"),
        (["--database", "postgres://db.example/shop%zz"], "the database URL's database name has a malformed percent-escape (%XX)"),
        (
            ["--database", "postgres://app:hunter2@db.example/shop", "--database-password-file", "/etc/hostname"],
            "--database carries a password and --database-password-file gives one too; keep one (the file keeps it out of the process list)"
        ),
        (
            ["--database", "postgres://app@db.example/shop", "--database-password-file", "/nonexistent/password"],
            "cannot read --database-password-file /nonexistent/password: "
        ),
    ])
    func malformedPostgresURLsAreNamed(options: [String], message: String) async throws {
        try await Self.expectUsageError(options, message)
    }

    /// The daemon with `options` stops before anything starts: exit 64, one line
    /// saying `message`, never the password "hunter2", no data directory made.
    static func expectUsageError(_ options: [String], _ message: String) async throws {
        let directory = temporaryPath("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runProduct("storeplatformd", Self.arguments(directory) + options)
        #expect(result.status == 64)
        #expect(Self.lines(result).count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/data"))
    }

    /// A port nobody listens on: the daemon says it cannot reach the server, naming
    /// it, and asks whether PostgreSQL runs.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func aServerThatIsNotRunningIsNamed() async throws {
        let port = try freeLoopbackPort()
        try await Self.expectOneLineFailure(
            ["--database", "postgres://storeplatform@127.0.0.1:\(port)/shop?connect_timeout=2"],
            "the store database postgresql://127.0.0.1:\(port)/shop cannot be reached: 127.0.0.1:\(port): Connection refused; is PostgreSQL running"
        )
    }

    /// An empty password file is named before anything starts.
    @Test func anEmptyPasswordFileIsNamed() async throws {
        let directory = try makeTemporaryDirectory("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/password", contents: Data("\n".utf8))
        try await Self.expectOneLineFailure(
            ["--database", "postgres://app@db.example/shop", "--database-password-file", directory + "/password"],
            "--database-password-file \(directory)/password is empty; put the PostgreSQL password in it", status: 64
        )
    }

    /// A host name that does not resolve (`.invalid` never does) is a mistake in the
    /// URL, not a server that is down.
    @Test func aHostNameThatDoesNotResolveIsNamed() async throws {
        try await Self.expectOneLineFailure(
            ["--database", "postgres://storeplatform@no-such-host.invalid/shop?connect_timeout=5"],
            "the store database postgresql://no-such-host.invalid:5432/shop cannot be reached: the host name "
                + "\"no-such-host.invalid\" does not resolve; check the host name in the database URL and the DNS"
        )
    }

    /// A wrong password in `--database-password-file`, or none, on a server that asks
    /// for one over TCP: the user is named, the password never is.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func aWrongPasswordIsNamed() async throws {
        try await ThrowawayPostgres.withServer(tcp: true) { server in
            let directory = try makeTemporaryDirectory("spd-start")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try "not-\(server.password)\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
            let url = server.url(database: "postgres", tcp: true, parameters: ["connect_timeout": "20"])
            let result = try await Self.expectOneLineFailure(
                ["--database", url, "--database-password-file", directory + "/password"],
                "PostgreSQL at 127.0.0.1:\(server.port) refused user \"postgres\": password authentication failed for user \"postgres\"; "
                    + "check the user name and the password"
            )
            #expect(!result.stderr.contains(server.password))

            // No password at all.
            try await Self.expectOneLineFailure(
                ["--database", url],
                "PostgreSQL at 127.0.0.1:\(server.port) asks user \"postgres\" for a password and none was given; "
                    + "give the password (a password file, or the URL)"
            )

            // The right password starts it.
            try "\(server.password)\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(extraArguments: ["--database", url, "--database-password-file", directory + "/password"])
            try await daemon.start()
            let status = try await daemon.terminate()
            #expect(status == 0, "\(daemon.log.suffix(3000))")
        }
    }

    /// A database that does not exist on a server that runs.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func aMissingDatabaseIsNamed() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = server.url(database: "no_such_database", parameters: ["connect_timeout": "20"])
        try await Self.expectOneLineFailure(
            ["--database", url],
            "the database \"no_such_database\" does not exist on the PostgreSQL server at \(server.socketDirectory)/.s.PGSQL.\(server.port); "
                + "create it (CREATE DATABASE) or correct the URL"
        )
    }

    /// A database a newer daemon migrated: this one refuses it, naming both schema
    /// versions, and changes nothing.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func aSchemaNewerThanTheBinaryIsRefused() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await server.createDatabase(prefix: "newer", parameters: ["connect_timeout": "20"])
        // postgresql://postgres@/NAME?host=…
        let name = String(try #require(url.components(separatedBy: "@/").last).prefix { $0 != "?" })
        let first = try DaemonProcess(extraArguments: ["--database", url])
        try await first.start()
        let status = try await first.terminate()
        #expect(status == 0, "\(first.log.suffix(3000))")
        try await server.sql(
            "INSERT INTO schema_migrations (version, id, applied_at) VALUES (10, 'v10-from-a-newer-release', 0)", database: name
        )
        try await Self.expectOneLineFailure(
            ["--database", url],
            "has schema version 10 (migration \"v10-from-a-newer-release\"), newer than this storeplatformd's version 9 "
                + "(\"v9-fleet-audit\"); upgrade storeplatformd to the release that migrated it"
        )
        let applied = try await server.sql("SELECT id FROM schema_migrations ORDER BY version", database: name)
        #expect(applied.split(separator: "\n") == ["v1", "v2-store-owner", "v3-leases", "v4-limits", "v5-rate-buckets", "v6-reconcile-requests", "v7-store-versions", "v8-fleet-upgrades", "v9-fleet-audit", "v10-from-a-newer-release"])
    }

    /// A user who may make the store database's tables but not a schema: the daemon
    /// stops, saying that the simulated cluster's schema could not be made, and why.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func aUserWhoCannotMakeTheSimulatedClustersSchemaIsTold() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await server.createDatabase(prefix: "noschema", parameters: ["connect_timeout": "20"])
        let name = String(try #require(url.components(separatedBy: "@/").last).prefix { $0 != "?" })
        let role = "tables_only_\(UUID().uuidString.prefix(8).lowercased())"
        try await server.sql("CREATE ROLE \(role) LOGIN")
        try await server.sql("GRANT CREATE ON SCHEMA public TO \(role)", database: name)
        let directory = temporaryPath("spd-start")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runProduct(
            "storeplatformd",
            Self.arguments(directory) + ["--database", url.replacingOccurrences(of: "postgresql://postgres@", with: "postgresql://\(role)@")]
        )
        // The store database's migrations ran (and were logged); then the one line.
        #expect(result.status == 1, "\(result.stderr)")
        let last = try #require(Self.lines(result).last)
        #expect(last.contains("cannot make the simulated cluster's schema in the store database: "), "\(result.stderr)")
        #expect(last.hasSuffix("permission denied for database \(name)"), "\(result.stderr)")
        #expect(Self.lines(result).dropLast().allSatisfy { $0.contains("store database migrated") }, "\(result.stderr)")
    }

    /// `--database sqlite:PATH` puts the store database at PATH, not under --data-dir.
    @Test func anSQLiteFileElsewhereIsUsed() async throws {
        let elsewhere = try makeTemporaryDirectory("spd-sqlite")
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let path = elsewhere + "/stores.sqlite"
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--database", "sqlite:" + path])
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let store = try await client.create("elsewhere")
        try await client.waitFor(store.id, [.ready])
        await client.close()
        #expect(try await daemon.terminate() == 0)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: daemon.directory + "/data/storeplatform.sqlite"))

        // A second daemon on the same file (and the same simulated cluster) finds the store.
        let second = try DaemonProcess(extraArguments: ["--database", "sqlite:" + path], directory: daemon.directory)
        try await second.start()
        let again = try await RPCClient.connect(to: .unix(path: second.socketPath))
        #expect(try await again.store(store.id).status == .ready)
        await again.close()
        #expect(try await second.terminate() == 0)
    }
}
