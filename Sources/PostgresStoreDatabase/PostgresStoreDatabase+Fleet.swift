import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func insertFleetUpgrade(_ fleet: FleetUpgrade) async throws {
        let logger = self.logger
        let document = try fleet.document()
        let active = fleet.activeColumn
        let created = fleet.createdAt.millisecondsSince1970
        let inserted = try await withConnection { connection in
            try await Self.inTransaction(connection, logger: logger) { connection in
                guard try await connection.run("""
                    INSERT INTO fleet_upgrade (id, active, generation, created_at, document)
                    VALUES (\(fleet.id), \(active), 1, \(created), \(document))
                    ON CONFLICT DO NOTHING
                    RETURNING id
                    """, logger: logger).count == 1
                else { return false }
                try await Self.auditSteps(of: fleet, connection, logger: logger)
                return true
            }
        }
        guard inserted else { throw StoredFleetUpgrade.inProgress(try await activeFleetUpgrade()?.fleet) }
    }

    public func fleetUpgrade(id: String) async throws -> StoredFleetUpgrade? {
        try await fleetUpgrades("SELECT document, generation FROM fleet_upgrade WHERE id = \(id)").first
    }

    public func activeFleetUpgrade() async throws -> StoredFleetUpgrade? {
        try await fleetUpgrades("SELECT document, generation FROM fleet_upgrade WHERE active = 1").first
    }

    public func latestFleetUpgrades(limit: Int) async throws -> [StoredFleetUpgrade] {
        try await fleetUpgrades("SELECT document, generation FROM fleet_upgrade ORDER BY created_at DESC, id DESC LIMIT \(limit)")
    }

    public func replaceFleetUpgrade(_ fleet: FleetUpgrade, generation: Int64) async throws -> Int64? {
        let logger = self.logger
        let document = try fleet.document()
        let active = fleet.activeColumn
        return try await withConnection { connection in
            try await Self.inTransaction(connection, logger: logger) { connection in
                guard let replaced = try await connection.run("""
                    UPDATE fleet_upgrade SET document = \(document), active = \(active), generation = generation + 1
                    WHERE id = \(fleet.id) AND generation = \(generation)
                    RETURNING generation
                    """, logger: logger).first.map({ try $0.decode(Int64.self) })
                else { return nil }
                try await Self.auditSteps(of: fleet, connection, logger: logger)
                return replaced
            }
        }
    }

    /// Writes the steps of `fleet` the audit log does not have yet: those after as
    /// many as it holds of this fleet upgrade (steps are only ever added). The caller
    /// holds the fleet upgrade's row lock (its insert or update), so no other writer
    /// counts the same steps, and the count, a statement after that lock was taken,
    /// sees every step an earlier writer committed.
    private static func auditSteps(of fleet: FleetUpgrade, _ connection: PostgresConnection, logger: Logger) async throws {
        let logged = try await connection.run(
            "SELECT count(*) FROM audit WHERE fleet_upgrade_id = \(fleet.id)", logger: logger
        ).first?.decode(Int.self) ?? 0
        let rows = fleet.steps.dropFirst(logged).map {
            AuditRow(fleetUpgradeID: fleet.id, step: $0, storable: PostgresText.storable)
        }
        _ = try await AuditRow.insertEvents(rows, on: connection, logger: logger)
    }

    /// The fleet upgrades `query` (selecting document and generation) reads.
    private func fleetUpgrades(_ query: PostgresQuery) async throws -> [StoredFleetUpgrade] {
        let logger = self.logger
        let rows = try await withConnection { connection in
            try await connection.run(query, logger: logger).map { try $0.decode((String, Int64).self) }
        }
        return try rows.map { try StoredFleetUpgrade(document: $0.0, generation: $0.1) }
    }
}
