import Foundation
import StoreCore
import Testing

@Suite("Store status and its transition table")
struct StoreStatusTests {
    /// docs/ARCHITECTURE.md's table ("Store lifecycle") written out independently of the code, plus provisioning → deleting
    /// and provisioning → queued (recovery of an interrupted attempt), and the
    /// reconciler's ready → failed (drift).
    static let allowed: Set<String> = [
        "queued>provisioning",
        "provisioning>ready",
        "provisioning>failed",
        "failed>queued",
        "ready>deleting",
        "ready>failed",
        "failed>deleting",
        "queued>deleting",
        "provisioning>deleting",
        "provisioning>queued",
        "deleting>deleted",
        "deleting>failed",
        "ready>upgrading",
        "upgrading>ready",
        "upgrading>failed",
    ]

    @Test func rawValuesAreTheLowerCaseNames() {
        #expect(StoreStatus.allCases.map(\.rawValue) == ["queued", "provisioning", "ready", "failed", "deleting", "deleted", "upgrading"])
    }

    @Test func onlyDeletedIsNotLive() {
        #expect(StoreStatus.allCases.filter { !$0.isLive } == [.deleted])
    }

    @Test func tableHasExactlyTheDesignedMoves() {
        var pairs: Set<String> = []
        for (from, targets) in StoreStatus.transitions {
            for to in targets { pairs.insert("\(from.rawValue)>\(to.rawValue)") }
        }
        #expect(pairs == Self.allowed)
        #expect(StoreStatus.transitions.count == StoreStatus.allCases.count)
    }

    @Test(arguments: StoreStatus.allCases, StoreStatus.allCases)
    func everyPairIsAllowedExactlyPerTheTable(from: StoreStatus, to: StoreStatus) {
        let expected = Self.allowed.contains("\(from.rawValue)>\(to.rawValue)")
        #expect(from.canTransition(to: to) == expected)
        if expected {
            #expect(throws: Never.self) { try from.checkTransition(to: to, storeName: "shop") }
        } else {
            let error = #expect(throws: PlatformError.self) { try from.checkTransition(to: to, storeName: "shop") }
            #expect(error?.code == .invalidStateTransition)
            #expect(error?.message.contains("store \"shop\"") == true)
            #expect(error?.message.contains("it is \(from == to ? "already " : "")\(from.rawValue);") == true)
        }
    }

    @Test func deletedIsTerminal() {
        #expect(StoreStatus.allCases.filter { StoreStatus.deleted.canTransition(to: $0) }.isEmpty)
    }

    @Test func upgradingAFailedStoreSaysUpgradesApplyToReadyStores() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.failed.checkTransition(to: .upgrading, storeName: "shop") }
        #expect(error?.message == "cannot upgrade store \"shop\": it is failed; upgrade applies to ready stores")
    }

    @Test func retryOnReadySaysWhatAppliesWhere() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.ready.checkTransition(to: .queued, storeName: "shop") }
        #expect(error?.message == "cannot retry store \"shop\": it is ready; retry applies to failed stores")
    }

    @Test func deleteOnDeletedListsTheDeletableStatuses() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.deleted.checkTransition(to: .deleting, storeName: "shop") }
        #expect(error?.message == "cannot delete store \"shop\": it is deleted; delete applies to queued, provisioning, ready or failed stores")
    }

    @Test func deleteWhileDeletingSaysAlready() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.deleting.checkTransition(to: .deleting, storeName: "my-shop") }
        #expect(error?.message == "cannot delete store \"my-shop\": it is already deleting; delete applies to queued, provisioning, ready or failed stores")
    }

    @Test func markingReadyFromQueuedNamesTheSourceStatus() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.queued.checkTransition(to: .ready, storeName: "shop") }
        #expect(error?.message == "cannot mark ready store \"shop\": it is queued; marking ready applies to provisioning or upgrading stores")
    }

    @Test func storeNameIsEscapedInTheMessage() {
        let error = #expect(throws: PlatformError.self) { try StoreStatus.ready.checkTransition(to: .queued, storeName: "a\"b\nc") }
        #expect(error?.message == "cannot retry store \"a\\\"b\\nc\": it is ready; retry applies to failed stores")
    }

    @Test func codableUsesTheRawValue() throws {
        let data = try JSONEncoder().encode([StoreStatus.provisioning])
        #expect(String(decoding: data, as: UTF8.self) == "[\"provisioning\"]")
        #expect(try JSONDecoder().decode([StoreStatus].self, from: Data("[\"failed\"]".utf8)) == [.failed])
    }
}
