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
                "cannot open the state in \(directory)/data: cannot open the store database \(database): Is a directory (SQLite: unable to open database file); make the directory writable by this user, or choose another with --data-dir"
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
}
