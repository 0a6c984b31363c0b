import Foundation
import Logging
import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    /// The columns of a lease row, in ``lease(_:)``'s order.
    private static let leaseColumns = "name, owner, kind, acquired_at, expires_at"
    /// Now, in milliseconds since 1970, by the server's clock: replicas' clocks need not agree.
    private static let serverNow = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    // Lease writes are single statements outside ``writeTransaction(_:)``: they change
    // no store or audit row, so they do not count in ``writeGeneration``.

    public func acquireLease(_ name: String, owner: String, kind: String, ttl: Duration) async throws -> LeaseOutcome {
        let logger = self.logger
        let ttl = ttl.wholeMilliseconds
        return try await withConnection { connection in
            // A holder that lets go between the refused insert and the read of its row
            // leaves nothing to read: then try again.
            while true {
                let taken = try await connection.run("""
                    INSERT INTO lease (\(unescaped: Self.leaseColumns))
                    SELECT \(name), \(owner), \(kind), now.ms, now.ms + \(ttl)
                    FROM (SELECT \(unescaped: Self.serverNow) AS ms) AS now
                    ON CONFLICT (name) DO UPDATE SET
                        owner = EXCLUDED.owner,
                        kind = EXCLUDED.kind,
                        acquired_at = CASE WHEN lease.owner = EXCLUDED.owner THEN lease.acquired_at ELSE EXCLUDED.acquired_at END,
                        expires_at = EXCLUDED.expires_at
                    WHERE lease.owner = EXCLUDED.owner OR lease.expires_at <= EXCLUDED.acquired_at
                    RETURNING \(unescaped: Self.leaseColumns)
                    """, logger: logger)
                if let row = taken.first { return .acquired(try Self.lease(row)) }
                let holder = try await connection.run(
                    "SELECT \(unescaped: Self.leaseColumns) FROM lease WHERE name = \(name)", logger: logger)
                if let row = holder.first { return .held(try Self.lease(row)) }
            }
        }
    }

    public func renewLeases(_ names: [String], owner: String, ttl: Duration) async throws -> Set<String> {
        guard !names.isEmpty else { return [] }
        let logger = self.logger
        let ttl = ttl.wholeMilliseconds
        let renewed = try await withConnection { connection in
            try await connection.run("""
                UPDATE lease SET expires_at = \(unescaped: Self.serverNow) + \(ttl)
                WHERE owner = \(owner) AND name = ANY(\(names))
                RETURNING name
                """, logger: logger)
                .map { try $0.decode(String.self) }
        }
        return Set(names).subtracting(renewed)
    }

    public func releaseLease(_ name: String, owner: String) async throws -> Bool {
        let logger = self.logger
        return try await withConnection { connection in
            // Replicas waiting for this lease hear of it at the commit (leaseReleases()).
            try await connection.run(
                "DELETE FROM lease WHERE name = \(name) AND owner = \(owner) RETURNING pg_notify(\(Self.leaseChannel), name)::text",
                logger: logger
            ).isEmpty == false
        }
    }

    /// The channel a lease's release notifies, with its name.
    static let leaseChannel = "storeplatform_lease"

    /// Heard on the database's listening connection (ChannelListener.swift) for as
    /// long as the stream is iterated.
    public func leaseReleases() -> AsyncStream<String> {
        listener.notifications(on: Self.leaseChannel) { $0 }
    }

    public func activeLeases() async throws -> [Lease] {
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: Self.leaseColumns) FROM lease
                WHERE expires_at > \(unescaped: Self.serverNow)
                ORDER BY name
                """, logger: logger)
                .map(Self.lease)
        }
    }

    private static func lease(_ row: PostgresRow) throws -> Lease {
        let (name, owner, kind, acquiredAt, expiresAt) = try row.decode((String, String, String, Int64, Int64).self)
        return Lease(
            name: name, owner: owner, kind: kind,
            acquiredAt: Date(millisecondsSince1970: acquiredAt), expiresAt: Date(millisecondsSince1970: expiresAt)
        )
    }
}

extension PostgresStoreDatabase {
    public func storedLimits() async throws -> [String: Int] {
        let logger = self.logger
        return try await withConnection { connection in
            var limits: [String: Int] = [:]
            for row in try await connection.run("SELECT name, value FROM limit_setting", logger: logger) {
                let (name, value) = try row.decode((String, Int64).self)
                limits[name] = Int(value)
            }
            return limits
        }
    }

    public func storeLimits(_ limits: [String: Int]) async throws {
        guard !limits.isEmpty else { return }
        let logger = self.logger
        let names = limits.keys.sorted()
        let values = names.map { Int64(limits[$0]!) }
        try await withConnection { connection in
            try await connection.run("""
                INSERT INTO limit_setting (name, value, updated_at)
                SELECT name, value, (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                FROM unnest(\(names)::text[], \(values)::bigint[]) AS given(name, value)
                ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
                """, logger: logger)
        }
    }
}

extension PostgresStoreDatabase {
    public func requestReconcile(by replica: String) async throws -> Int64 {
        let logger = self.logger
        return try await withConnection { connection in
            // The leader hears of it at the commit (reconcileRequestEvents()).
            let rows = try await connection.run("""
                INSERT INTO reconcile_request (requested_by, requested_at)
                VALUES (\(replica), (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                RETURNING id, pg_notify(\(Self.reconcileChannel), \(ReconcileRequestEvent.requested.rawValue))::text
                """, logger: logger)
            guard let row = rows.first else { throw PlatformError(.internalError, "a reconcile request was not stored") }
            return try row.decode((Int64, String).self).0
        }
    }

    public func pendingReconcileRequests() async throws -> [Int64] {
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("SELECT id FROM reconcile_request WHERE answered_at IS NULL ORDER BY id", logger: logger)
                .map { try $0.decode(Int64.self) }
        }
    }

    public func answerReconcileRequests(_ ids: [Int64], report: String, by replica: String) async throws {
        guard !ids.isEmpty else { return }
        let logger = self.logger
        let kept = ReconcileAnswer.keptMilliseconds
        try await withConnection { connection in
            // The askers hear of it at the commit (reconcileRequestEvents()), once
            // whatever the number of requests answered, and not at all when none was.
            try await connection.run("""
                WITH answered AS (
                    UPDATE reconcile_request
                    SET answered_by = \(replica), answered_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint, report = \(report)
                    WHERE answered_at IS NULL AND id = ANY(\(ids))
                    RETURNING id
                )
                SELECT pg_notify(\(Self.reconcileChannel), \(ReconcileRequestEvent.answered.rawValue))::text
                FROM (SELECT 1 FROM answered LIMIT 1) AS any_answered
                """, logger: logger)
            try await connection.run("""
                DELETE FROM reconcile_request WHERE answered_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - \(kept)
                """, logger: logger)
        }
    }

    /// The channel a reconcile request's insert and its answer notify, with the
    /// event's name (``ReconcileRequestEvent``).
    static let reconcileChannel = "storeplatform_reconcile"

    /// Heard on the database's listening connection (ChannelListener.swift) for as
    /// long as the stream is iterated.
    public func reconcileRequestEvents() -> AsyncStream<ReconcileRequestEvent>? {
        listener.notifications(on: Self.reconcileChannel) { ReconcileRequestEvent(rawValue: $0) }
    }

    public func reconcileAnswer(_ id: Int64) async throws -> ReconcileAnswer? {
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run(
                "SELECT report, answered_by FROM reconcile_request WHERE id = \(id) AND answered_at IS NOT NULL", logger: logger
            ).first.map { row in
                let (report, replica) = try row.decode((String, String).self)
                return ReconcileAnswer(report: report, replica: replica)
            }
        }
    }
}
