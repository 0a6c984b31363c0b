import Foundation
import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    /// The columns of a ``Lease`` row, in ``lease(_:)``'s order.
    private static let leaseColumns = "name, owner, kind, acquiredAt, expiresAt"

    // Lease writes go to the pool directly, not through ``write(_:)``: they change no
    // store or audit row, so they do not count in ``writeGeneration``.

    public func acquireLease(_ name: String, owner: String, kind: String, ttl: Duration) async throws -> LeaseOutcome {
        let now = Date().millisecondsSince1970
        let expires = now + ttl.wholeMilliseconds
        return try await Self.performing {
            try await pool.write { db in
                let taken = try Row.fetchOne(
                    db.cachedStatement(sql: """
                        INSERT INTO lease (\(Self.leaseColumns)) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (name) DO UPDATE SET
                            owner = excluded.owner,
                            kind = excluded.kind,
                            acquiredAt = CASE WHEN lease.owner = excluded.owner THEN lease.acquiredAt ELSE excluded.acquiredAt END,
                            expiresAt = excluded.expiresAt
                        WHERE lease.owner = excluded.owner OR lease.expiresAt <= excluded.acquiredAt
                        RETURNING \(Self.leaseColumns)
                        """),
                    arguments: [name, owner, kind, now, expires]
                )
                if let taken { return .acquired(Self.lease(taken)) }
                // One writer at a time: the row that refused is still there.
                let holder = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.leaseColumns) FROM lease WHERE name = ?"), arguments: [name])
                return .held(Self.lease(holder!))
            }
        }
    }

    public func renewLeases(_ names: [String], owner: String, ttl: Duration) async throws -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = Date().millisecondsSince1970 + ttl.wholeMilliseconds
        let list = try Self.jsonArray(names)
        let renewed = try await Self.performing {
            try await pool.write { db in
                try String.fetchAll(
                    db.cachedStatement(sql: """
                        UPDATE lease SET expiresAt = ?
                        WHERE owner = ? AND name IN (SELECT value FROM json_each(?))
                        RETURNING name
                        """),
                    arguments: [expires, owner, list]
                )
            }
        }
        return Set(names).subtracting(renewed)
    }

    public func releaseLease(_ name: String, owner: String) async throws -> Bool {
        try await Self.performing {
            try await pool.write { db in
                try db.cachedStatement(sql: "DELETE FROM lease WHERE name = ? AND owner = ?").execute(arguments: [name, owner])
                return db.changesCount > 0
            }
        }
    }

    public func activeLeases() async throws -> [Lease] {
        let now = Date().millisecondsSince1970
        return try await readStatement { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(Self.leaseColumns) FROM lease WHERE expiresAt > ? ORDER BY name"),
                arguments: [now]
            ).map(Self.lease)
        }
    }

    private static func lease(_ row: Row) -> Lease {
        Lease(
            name: row[0], owner: row[1], kind: row[2],
            acquiredAt: Date(millisecondsSince1970: row[3]), expiresAt: Date(millisecondsSince1970: row[4])
        )
    }
}

extension SQLiteStoreDatabase {
    public func storedLimits() async throws -> [String: Int] {
        try await readStatement { db in
            var limits: [String: Int] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT name, value FROM limit_setting")) {
                limits[row[0]] = row[1]
            }
            return limits
        }
    }

    public func storeLimits(_ limits: [String: Int]) async throws {
        let now = Date().millisecondsSince1970
        try await Self.performing {
            try await pool.write { db in
                for (name, value) in limits {
                    try db.cachedStatement(sql: """
                        INSERT INTO limit_setting (name, value, updatedAt) VALUES (?, ?, ?)
                        ON CONFLICT (name) DO UPDATE SET value = excluded.value, updatedAt = excluded.updatedAt
                        """).execute(arguments: [name, value, now])
                }
            }
        }
    }
}

extension SQLiteStoreDatabase {
    public func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
        try await Self.performing {
            try await pool.write { db in
                let now = Date().timeIntervalSince1970
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT requestTokens, createTokens, refilledAt FROM rate_bucket WHERE identity = ?"),
                    arguments: [identity]
                )
                let take = SharedRateTake.taking(
                    from: row.map { ($0[0], $0[1]) } ?? (.infinity, .infinity),
                    after: row.map { now - ($0[2] as Double) } ?? 0, limits: limits, isCreate: isCreate
                )
                try db.cachedStatement(sql: """
                    INSERT INTO rate_bucket (identity, requestTokens, createTokens, refilledAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT (identity) DO UPDATE SET
                        requestTokens = excluded.requestTokens, createTokens = excluded.createTokens, refilledAt = excluded.refilledAt
                    """).execute(arguments: [identity, take.requestTokens, take.createTokens, now])
                return take
            }
        }
    }

    public func forgetFullRateBuckets() async throws {
        let before = Date().timeIntervalSince1970 - SharedRateTake.fullAfterSeconds
        try await Self.performing {
            try await pool.write { db in
                try db.cachedStatement(sql: "DELETE FROM rate_bucket WHERE refilledAt < ?").execute(arguments: [before])
            }
        }
    }
}

extension SQLiteStoreDatabase {
    public func requestReconcile(by replica: String) async throws -> Int64 {
        let now = Date().millisecondsSince1970
        return try await Self.performing {
            try await pool.write { db in
                try db.cachedStatement(sql: "INSERT INTO reconcile_request (requestedBy, requestedAt) VALUES (?, ?)")
                    .execute(arguments: [replica, now])
                return db.lastInsertedRowID
            }
        }
    }

    public func pendingReconcileRequests() async throws -> [Int64] {
        try await readStatement { db in
            try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM reconcile_request WHERE answeredAt IS NULL ORDER BY id"))
        }
    }

    public func answerReconcileRequests(_ ids: [Int64], report: String, by replica: String) async throws {
        let now = Date().millisecondsSince1970
        let list = String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)
        try await Self.performing {
            try await pool.write { db in
                try db.cachedStatement(sql: """
                    UPDATE reconcile_request SET answeredBy = ?, answeredAt = ?, report = ?
                    WHERE answeredAt IS NULL AND id IN (SELECT value FROM json_each(?))
                    """).execute(arguments: [replica, now, report, list])
                try db.cachedStatement(sql: "DELETE FROM reconcile_request WHERE answeredAt < ?")
                    .execute(arguments: [now - ReconcileAnswer.keptMilliseconds])
            }
        }
    }

    public func reconcileAnswer(_ id: Int64) async throws -> ReconcileAnswer? {
        try await readStatement { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT report, answeredBy FROM reconcile_request WHERE id = ? AND answeredAt IS NOT NULL"),
                arguments: [id]
            ).map { ReconcileAnswer(report: $0[0], replica: $0[1]) }
        }
    }
}

extension SQLiteStoreDatabase {
    /// One process per SQLite database: no other replica releases a lease, so
    /// nothing comes (the stream ends when its consumer stops).
    public func leaseReleases() -> AsyncStream<String> {
        AsyncStream { _ in }
    }

    /// None: the one process's leader looks for requests every `Reconciler.requestPoll`.
    public func reconcileRequestEvents() -> AsyncStream<ReconcileRequestEvent>? {
        nil
    }
}
