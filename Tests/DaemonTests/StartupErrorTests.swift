import Foundation
import Testing

/// A daemon that cannot open its state says which file and why, on its own:
/// nothing else is logged, so it must not send the operator to a log.
@Suite struct StartupErrorTests {
    private static func arguments(_ directory: String) -> [String] {
        ["--socket", directory + "/run/d.sock", "--tcp", "off", "--http", "off", "--data-dir", directory + "/data"]
    }

    /// A directory where the database file belongs fails for root too.
    @Test func aDirectoryWhereTheDatabaseBelongsIsNamed() async throws {
        let directory = "/tmp/spd-start-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/data/storeplatform.sqlite"
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        let result = try await runProduct("storeplatformd", Self.arguments(directory))
        #expect(result.status == 1)
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
        let directory = "/tmp/spd-start-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/run", withIntermediateDirectories: true)
        chmod(directory, 0o755)
        chmod(directory + "/run", 0o777)
        chmod(directory + "/data", 0o555)
        let result = try await runProduct("storeplatformd", Self.arguments(directory), user: getuid() == 0 ? 65534 : nil)
        #expect(result.status == 1)
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
        let directory = "/tmp/spd-start-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runProduct("storeplatformd", Self.arguments(directory) + options)
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/data"))
    }
}
