import Foundation
import GRDB
import Logging
import PostgresNIO
@testable import PostgresStoreDatabase
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Migrations: from an empty database and from the previous version")
struct MigrationTests {
    static let current = ["v1", "v2-store-owner", "v3-leases", "v4-limits", "v5-rate-buckets", "v6-reconcile-requests", "v7-store-versions", "v8-fleet-upgrades", "v9-fleet-audit"]

    @Test(arguments: Backend.all)
    func anEmptyDatabaseGetsEveryMigrationOnceAndReopensAsIs(_ backend: Backend) async throws {
        let store = queuedStore("shop")
        let reopened: any StoreDatabase
        var cleanup: URL?
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            cleanup = directory
            let path = directory.appendingPathComponent("platform.sqlite").path
            do {
                let first = try SQLiteStoreDatabase.open(path: path)
                #expect(try await first.appliedMigrations() == Self.current)
                _ = try await first.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
            }
            let database = try SQLiteStoreDatabase.open(path: path)
            #expect(try await database.appliedMigrations() == Self.current)
            reopened = database
        case .postgresql:
            let url = try await Backend.newPostgresURL()
            do {
                let first = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
                #expect(try await first.appliedMigrations() == Self.current)
                _ = try await first.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
                await first.close()
            }
            let database = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
            #expect(try await database.appliedMigrations() == Self.current)
            reopened = database
        }

        #expect(try await reopened.store(id: store.id) == store)
        #expect(try await reopened.auditCount() == 1)
        // The idempotency index came through too.
        let again = try await reopened.createStore(queuedStore("other"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
        #expect(again == .existing(store))
    }

    /// A database of the previous schema (v1, no owners) keeps its stores and
    /// audit rows; the stores get an empty owner, new stores their creator's.
    @Test(arguments: Backend.all)
    func migratingFromV1KeepsStoresWithAnUnknownOwner(_ backend: Backend) async throws {
        let database: any StoreDatabase
        var cleanup: URL?
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            cleanup = directory
            let path = directory.appendingPathComponent("platform.sqlite").path
            do {
                let pool = try DatabasePool(path: path)
                try SQLiteStoreDatabase.migrator.migrate(pool, upTo: "v1")
                try await pool.write { db in
                    try db.execute(sql: """
                        INSERT INTO store (id, name, engine, status, url, namespace, release, errorMessage, attempts,
                            createdAt, updatedAt, requestedBy)
                        VALUES ('st_old000000001', 'old-shop', 'woocommerce', 'ready', 'http://old-shop.stores.localhost',
                            'store-old-shop-000001', 'old-shop', '', 1, 1700000000000, 1700000001000, 'uid:0')
                        """)
                    try db.execute(sql: """
                        INSERT INTO audit (time, actor, action, storeId, storeName, toStatus, message)
                        VALUES (1700000000000, 'uid:0', 'create', 'st_old000000001', 'old-shop', 'queued', '')
                        """)
                }
                try pool.close()
            }
            let opened = try SQLiteStoreDatabase.open(path: path)
            #expect(try await opened.appliedMigrations() == Self.current)
            database = opened
        case .postgresql:
            let text = try await Backend.newPostgresURL()
            let url = try PostgresDatabaseURL(text)
            let connection = try await PostgresStoreDatabase.openConnection(url: url, logger: quietLogger)
            try await PostgresStoreDatabase.migrate(connection, url: url, upTo: "v1", logger: quietLogger)
            try await connection.query("""
                INSERT INTO store (id, name, engine, status, url, namespace, release, error_message, attempts,
                    created_at, updated_at, requested_by)
                VALUES ('st_old000000001', 'old-shop', 'woocommerce', 'ready', 'http://old-shop.stores.localhost',
                    'store-old-shop-000001', 'old-shop', '', 1, 1700000000000, 1700000001000, 'uid:0')
                """, logger: quietLogger)
            try await connection.query("""
                INSERT INTO audit (time, actor, action, store_id, store_name, to_status, message)
                VALUES (1700000000000, 'uid:0', 'create', 'st_old000000001', 'old-shop', 'queued', '')
                """, logger: quietLogger)
            try await connection.close()
            let opened = try await PostgresStoreDatabase.connect(url: text, logger: quietLogger)
            #expect(try await opened.appliedMigrations() == Self.current)
            database = opened
        }

        let old = try #require(try await database.store(id: "st_old000000001"))
        #expect(old.name == "old-shop")
        #expect(old.status == .ready)
        #expect(old.url == "http://old-shop.stores.localhost")
        #expect(old.createdAt == Date(millisecondsSince1970: 1_700_000_000_000))
        #expect(old.owner == "")
        // Versions came with v7: a store from before ran the version of the time, and
        // a ready one is on its first revision.
        #expect(old.version == "6.9-wc10.3")
        #expect(old.revision == 1)
        #expect(try await database.storeRevisions(storeID: old.id).isEmpty)
        #expect(try await database.auditCount() == 1)
        var store = queuedStore("new-shop")
        store.owner = "token:ci"
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "token:ci", idempotencyKey: nil, requestID: nil)
        #expect(try await database.store(id: store.id)?.owner == "token:ci")
        // The old row keeps its name: a new store cannot take it while it is live.
        let taken = await #expect(throws: PlatformError.self) {
            try await database.createStore(queuedStore("old-shop"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        #expect(taken?.code == .storeNameTaken)
        #expect(try await database.listAudit(limit: 0, pageToken: "", storeID: nil).events.map(\.id) == [2, 1])
    }
}
