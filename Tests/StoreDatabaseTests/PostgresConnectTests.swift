import Foundation
import Logging
import PostgresNIO
@testable import PostgresStoreDatabase
import PostgresTestSupport
import ProcessTestSupport
import StoreCore
@testable import StoreDatabase
import Testing

@Suite("PostgreSQL: connecting, migrating, replicas, outages", .enabled(if: ThrowawayPostgres.enabled))
struct PostgresConnectTests {
    @Test func backendAndLocationNameTheDatabaseWithoutItsPassword() async throws {
        let url = try await Backend.newPostgresURL()
        let database = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let parsed = try PostgresDatabaseURL(url)
        #expect(database.backend == "postgresql")
        let server = try await ThrowawayPostgres.shared()
        #expect(database.location == "postgresql:///\(parsed.database)?host=\(server.socketDirectory)")
        try await database.checkAvailable()
    }

    @Test func theStoreTableHasExactlyTheColumnsARowReads() async throws {
        let url = try await Backend.newPostgresURL()
        _ = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let server = try await ThrowawayPostgres.shared()
        let columns = try await server.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'store' ORDER BY column_name",
            database: try PostgresDatabaseURL(url).database
        )
        let read = PostgresStoreRow.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(columns.split(separator: "\n").map(String.init) == read.sorted())
    }

    @Test func aMissingDatabaseIsOneLine() async throws {
        let server = try await ThrowawayPostgres.shared()
        let error = await #expect(throws: PlatformError.self) {
            // A generous connect_timeout: the answer is what is tested, and a loaded
            // machine may take seconds to log in.
            try await PostgresStoreDatabase.connect(
                url: server.url(database: "no_such_database", parameters: ["connect_timeout": "30"]), logger: quietLogger
            )
        }
        #expect(error?.code == .internalError)
        #expect(error?.message == "the database \"no_such_database\" does not exist on the PostgreSQL server at "
            + "\(server.socketDirectory)/.s.PGSQL.5432; create it (CREATE DATABASE) or correct the URL")
    }

    @Test func aServerThatIsNotThereIsUnavailable() async throws {
        let directory = try makeTemporaryDirectory("sppg-none")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let socket = await #expect(throws: PlatformError.self) {
            try await PostgresStoreDatabase.connect(url: "postgresql://postgres@/storeplatform?host=\(directory)", logger: quietLogger)
        }
        #expect(socket?.code == .unavailable)
        #expect(socket?.message == "the store database postgresql:///storeplatform?host=\(directory) cannot be reached: "
            + "there is no server socket \(directory)/.s.PGSQL.5432; is PostgreSQL running?")

        let port = try freeLoopbackPort()
        let tcp = await #expect(throws: PlatformError.self) {
            try await PostgresStoreDatabase.connect(url: "postgresql://postgres@127.0.0.1:\(port)/storeplatform", logger: quietLogger)
        }
        #expect(tcp?.code == .unavailable)
        #expect(tcp?.message == "the store database postgresql://127.0.0.1:\(port)/storeplatform cannot be reached: "
            + "127.0.0.1:\(port): Connection refused; is PostgreSQL running?")
    }

    @Test func aWrongOrMissingPasswordIsOneLine() async throws {
        try await ThrowawayPostgres.withServer(tcp: true) { server in
            // A generous connect_timeout: the answers are what is tested, and a loaded
            // machine may take seconds to log in.
            let url = try await server.createDatabase(tcp: true, parameters: ["connect_timeout": "30"])

            let wrong = await #expect(throws: PlatformError.self) {
                try await PostgresStoreDatabase.connect(url: url, password: "not-the-password", logger: quietLogger)
            }
            #expect(wrong?.code == .internalError)
            #expect(wrong?.message == "PostgreSQL at 127.0.0.1:\(server.port) refused user \"postgres\": "
                + "password authentication failed for user \"postgres\"; check the user name and the password")

            let missing = await #expect(throws: PlatformError.self) {
                try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
            }
            #expect(missing?.code == .internalError)
            #expect(missing?.message == "PostgreSQL at 127.0.0.1:\(server.port) asks user \"postgres\" for a password "
                + "and none was given; give the password (a password file, or the URL)")

            // The throwaway server has no TLS: what sslmode=require asks for is refused.
            let tls = await #expect(throws: PlatformError.self) {
                try await PostgresStoreDatabase.connect(url: url + "&sslmode=require", password: server.password, logger: quietLogger)
            }
            #expect(tls?.code == .internalError)
            #expect(tls?.message == "the PostgreSQL server at 127.0.0.1:\(server.port) does not offer TLS, which "
                + "sslmode=require asks for; enable ssl on the server, or use sslmode=prefer or disable")

            let database = try await PostgresStoreDatabase.connect(url: url, password: server.password, logger: quietLogger)
            try await database.checkAvailable()
            #expect(!database.location.contains(server.password))
            await database.close()
        }
    }

    @Test func aSchemaNewerThanThisBuildIsRefused() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await Backend.newPostgresURL()
        let name = try PostgresDatabaseURL(url).database
        _ = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        try await server.sql("INSERT INTO schema_migrations (version, id, applied_at) VALUES (10, 'v10-future', 0)", database: name)

        let error = await #expect(throws: PlatformError.self) {
            try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        }
        #expect(error?.code == .internalError)
        #expect(error?.message == "the store database \(try PostgresDatabaseURL(url).location) has schema version 10 "
            + "(migration \"v10-future\"), newer than this storeplatformd's version 9 (\"v9-fleet-audit\"); "
            + "upgrade storeplatformd to the release that migrated it")
    }

    @Test func replicasStartingTogetherMigrateOnce() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await Backend.newPostgresURL()
        let name = try PostgresDatabaseURL(url).database

        let replicas = await concurrently(5) { _ in try await PostgresStoreDatabase.connect(url: url, logger: quietLogger) }

        let opened = try replicas.map { try $0.get() }
        #expect(opened.count == 5)
        #expect(try await server.sql("SELECT version, id FROM schema_migrations ORDER BY version", database: name)
            == "1|v1\n2|v2-store-owner\n3|v3-leases\n4|v4-limits\n5|v5-rate-buckets\n6|v6-reconcile-requests\n7|v7-store-versions\n8|v8-fleet-upgrades\n9|v9-fleet-audit\n")
        for replica in opened {
            #expect(try await replica.appliedMigrations() == MigrationTests.current)
        }
    }

    @Test func theQuotaHoldsAcrossReplicas() async throws {
        // Creates wait for one another's advisory lock within the statement timeout
        // (Backend's is generous): a loaded machine tests the quota, not the timeout.
        let url = try await Backend.newPostgresURL()
        let first = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let second = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)

        let outcomes = await concurrently(20) { index in
            try await (index % 2 == 0 ? first : second).createStore(
                queuedStore("shop-\(index)"), maxLiveStores: 10, requestedBy: "uid:\(index)", idempotencyKey: nil, requestID: nil
            )
        }
        let replays = await concurrently(6) { index in
            try await (index % 2 == 0 ? first : second).createStore(
                queuedStore("replayed"), maxLiveStores: 20, requestedBy: "uid:7", idempotencyKey: "same-key", requestID: nil
            )
        }

        var created = 0
        for outcome in outcomes {
            switch outcome {
            case .success(.created): created += 1
            case .failure(let error as PlatformError) where error.code == .quotaExceeded: break
            default: Issue.record("unexpected outcome \(outcome)")
            }
        }
        #expect(created == 10)
        let replayed = try replays.map { try $0.get() }
        #expect(replayed.filter { if case .created = $0 { return true } else { return false } }.count == 1)
        #expect(try await first.liveStoreCount() == 11)
        #expect(try await second.auditCount() == 11)
    }

    @Test func aCreateWaitsForTheCreateLockOnlyUpToTheStatementTimeoutAndTransitionsDoNotWait() async throws {
        let text = try await Backend.newPostgresURL()
        let database = try await PostgresStoreDatabase.connect(url: text, logger: quietLogger)
        let impatientURL = try PostgresDatabaseURL(text.replacingOccurrences(of: "statement_timeout=30000", with: "statement_timeout=300"))
        let impatient = try await PostgresStoreDatabase.connect(url: impatientURL, logger: quietLogger)
        let store = queuedStore("shop")
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        // Another replica in the middle of a create: it holds the create lock.
        let other = try await PostgresStoreDatabase.openConnection(url: try PostgresDatabaseURL(text), logger: quietLogger)
        try await other.query("BEGIN", logger: quietLogger)
        try await other.query("SELECT pg_advisory_xact_lock(\(PostgresStoreDatabase.createLockKey))", logger: quietLogger)

        let error = await #expect(throws: PlatformError.self) {
            try await impatient.createStore(queuedStore("second"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "the store database \(impatientURL.location) did not finish a statement within the statement "
            + "timeout of 300 ms (it may be overloaded or locked); try again")
        let moved = try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "p", now: instant(1))
        #expect(moved.event.id == 2)

        try await other.query("COMMIT", logger: quietLogger)
        try await other.close()
        let outcome = try await database.createStore(queuedStore("second"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        guard case .created = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(try await database.liveStoreCount() == 2)
    }

    @Test func callsAfterCloseAreUnavailable() async throws {
        let database = try await PostgresStoreDatabase.connect(url: try await Backend.newPostgresURL(), logger: quietLogger)
        await database.close()
        let error = await #expect(throws: PlatformError.self) { try await database.store(id: "st_x") }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "the store database \(database.location) is closed (the daemon is shutting down)")
    }

    @Test func whileTheServerIsDownCallsAreUnavailableAndAfterItIsBackTheyWork() async throws {
        try await ThrowawayPostgres.withServer { server in
            let database = try await PostgresStoreDatabase.connect(url: try await server.createDatabase(), logger: quietLogger)
            let store = queuedStore("shop")
            _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

            try await server.stopServer()

            let expected = "the store database \(database.location) cannot be reached: there is no server socket "
                + "\(server.socketDirectory)/.s.PGSQL.5432; is PostgreSQL running?"
            for _ in 0..<3 {
                let read = await #expect(throws: PlatformError.self) { try await database.store(id: store.id) }
                #expect(read?.code == .unavailable)
                // On a loaded machine a pooled connection may outlive the server's
                // stop long enough for its statement's deadline to name the outage.
                let statementDeadline = "the store database \(database.location) cannot be reached: a statement got no answer within"
                #expect(read?.message == expected || read?.message.hasPrefix(statementDeadline) == true, "\(read?.message ?? "")")
            }
            let write = await #expect(throws: PlatformError.self) {
                try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "p", now: instant(1))
            }
            #expect(write?.code == .unavailable)
            #expect(write?.message == expected)
            let check = await #expect(throws: PlatformError.self) { try await database.checkAvailable() }
            #expect(check?.code == .unavailable)

            try await server.startServer()
            try await database.checkAvailable()
            #expect(try await database.store(id: store.id) == store)
            let moved = try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "p", now: instant(1))
            #expect(moved.store.status == .provisioning)
            #expect(try await database.auditCount() == 2)
            await database.close()
        }
    }
}

/// TLS to PostgreSQL as the URL asks (`sslmode`): against a server with a
/// certificate from a CA of its own.
@Suite("PostgreSQL over TLS", .enabled(if: ThrowawayPostgres.enabled && FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct PostgresTLSTests {
    @Test func verifyFullChecksTheServerAgainstTheGivenCAAndRefusesAnother() async throws {
        try await ThrowawayPostgres.withServer(tls: true) { server in
            let url = try await server.createDatabase(tcp: true, parameters: [
                "sslmode": "verify-full", "sslrootcert": server.certificateAuthorityFile, "connect_timeout": "20",
            ])
            let database = try await PostgresStoreDatabase.connect(url: url, password: server.password, logger: quietLogger)
            try await database.checkAvailable()
            // The pool's connections are encrypted (the server's own view).
            let encrypted = try await server.sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
            #expect((Int(encrypted.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1)
            await database.close()

            // Another CA: the server's certificate is not trusted, and the error says so.
            let other = server.directory + "/other-ca.crt"
            let openssl = try await runCommand("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA",
                "-keyout", server.directory + "/other-ca.key", "-out", other,
            ])
            try #require(openssl.status == 0, "\(openssl.stderr)")
            let untrusted = url.replacingOccurrences(of: server.certificateAuthorityFile, with: other)
            let error = await #expect(throws: PlatformError.self) {
                try await PostgresStoreDatabase.connect(url: untrusted, password: server.password, logger: quietLogger)
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.hasPrefix("TLS with the PostgreSQL server at 127.0.0.1:\(server.port) failed: ") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("sslrootcert") == true)
        }
    }

    @Test func requireEncryptsWithoutCheckingTheCertificate() async throws {
        try await ThrowawayPostgres.withServer(tls: true) { server in
            let url = try await server.createDatabase(tcp: true, parameters: ["sslmode": "require", "connect_timeout": "20"])
            let database = try await PostgresStoreDatabase.connect(url: url, password: server.password, logger: quietLogger)
            try await database.checkAvailable()
            let encrypted = try await server.sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
            #expect((Int(encrypted.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1)
            await database.close()
        }
    }
}
