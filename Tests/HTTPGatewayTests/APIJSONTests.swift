import Foundation
import StorePlatformProto
import SwiftProtobuf
import Testing

@testable import HTTPGateway

@Suite("The HTTP API's JSON: every field, lower-case statuses")
struct APIJSONTests {
    @Test func aNewStoreHasEveryFieldAndItsStatusAsTheFilterSpellsIt() throws {
        var store = Storeplatform_V1_Store()
        store.id = "st_abc"
        store.name = "shop"
        store.status = .queued
        store.createdAtMs = 1_795_971_876_895
        let json = String(decoding: try APIJSON.encode(store), as: UTF8.self)
        #expect(json == #"{"id":"st_abc","name":"shop","engine":"","status":"queued","url":"","namespace":"","errorMessage":"","#
            + #""attempts":0,"createdAtMs":"1795971876895","updatedAtMs":"0","readyAtMs":"0","deletedAtMs":"0","#
            + #""provisioningDurationMs":"0","release":"","owner":"","errorSummary":"","provisioningStartedAtMs":"0","version":"","revision":0}"#)
        #expect(try Storeplatform_V1_Store(apiJSON: json) == store)
    }

    @Test func emptyListsZeroCountsAndUnsetMessagesAreWritten() throws {
        var metrics = Storeplatform_V1_GetMetricsResponse()
        var count = Storeplatform_V1_StatusCount()
        count.status = .ready
        metrics.storesByStatus = [count]
        let json = String(decoding: try APIJSON.encode(metrics), as: UTF8.self)
        #expect(json == #"{"storesByStatus":[{"status":"ready","count":"0"}],"#
            + #""provisioning":{"count":"0","avgMs":0,"minMs":0,"maxMs":0,"p50Ms":0,"p95Ms":0},"recentFailures":[],"#
            + #""rateLimitedTotal":"0","quotaRefusalsTotal":"0","activeOperations":"0","reconcilePasses":"0","reconcileCorrections":"0","maxLiveStores":0,"lastHour":[],"provisioningBuckets":[]}"#)
        let list = String(decoding: try APIJSON.encode(Storeplatform_V1_ListStoresResponse()), as: UTF8.self)
        #expect(list == #"{"stores":[],"nextPageToken":""}"#)
    }

    @Test func valuesKeepTheirTextAndNestedMessagesTheirShape() throws {
        var event = Storeplatform_V1_StoreEvent()
        event.store.name = #"a "quoted" \ name, with {braces} and [brackets]"#
        event.store.status = .failed
        event.store.errorMessage = "line one\nSTORE_STATUS_READY\","
        event.fromStatus = .provisioning
        event.toStatus = .failed
        event.action = "fail"
        var failure = Storeplatform_V1_FailureRecord()
        failure.resolution = .retried
        failure.storeStatus = .ready
        var metrics = Storeplatform_V1_GetMetricsResponse()
        metrics.recentFailures = [failure, failure]
        metrics.provisioning.avgMs = 1234.5

        let eventJSON = String(decoding: try APIJSON.encode(event), as: UTF8.self)
        let object = try #require(JSONSerialization.jsonObject(with: Data(eventJSON.utf8)) as? [String: Any])
        let store = try #require(object["store"] as? [String: Any])
        #expect(store["name"] as? String == event.store.name)
        #expect(store["errorMessage"] as? String == event.store.errorMessage)
        #expect(store["status"] as? String == "failed")
        #expect(object["fromStatus"] as? String == "provisioning")
        #expect(try Storeplatform_V1_StoreEvent(apiJSON: eventJSON) == event)

        let metricsJSON = String(decoding: try APIJSON.encode(metrics), as: UTF8.self)
        #expect(metricsJSON.contains(#""avgMs":1234.5,"#))
        #expect(metricsJSON.contains(#"{"storeId":"","storeName":"","reason":"","timeMs":"0","summary":"","resolution":"retried","storeStatus":"ready"}"#))
        #expect(try Storeplatform_V1_GetMetricsResponse(apiJSON: metricsJSON) == metrics)
    }

    /// Revisions and versions follow the same rules; a status of two words is
    /// written with `-`, as storectl and the audit log spell it.
    @Test func revisionsAndVersionsHaveEveryFieldAndStatusesAsUsersReadThem() throws {
        var revision = Storeplatform_V1_StoreRevision()
        revision.revision = 2
        revision.status = .rolledBack
        var revisions = Storeplatform_V1_ListStoreRevisionsResponse()
        revisions.revisions = [revision, Storeplatform_V1_StoreRevision()]
        let json = String(decoding: try APIJSON.encode(revisions), as: UTF8.self)
        #expect(json == #"{"revisions":[{"revision":2,"version":"","status":"rolled-back","actor":"","timeMs":"0","message":""},"#
            + #"{"revision":0,"version":"","status":"unspecified","actor":"","timeMs":"0","message":""}]}"#)
        #expect(try Storeplatform_V1_ListStoreRevisionsResponse(apiJSON: json) == revisions)

        var version = Storeplatform_V1_EngineVersion()
        version.name = "6.9-wc10.3"
        var versions = Storeplatform_V1_ListEngineVersionsResponse()
        versions.versions = [version]
        let versionsJSON = String(decoding: try APIJSON.encode(versions), as: UTF8.self)
        #expect(versionsJSON == #"{"versions":[{"engine":"","name":"6.9-wc10.3","wordpressImage":"","woocommerceVersion":"","chartVersion":"","isDefault":false}]}"#)
        #expect(try Storeplatform_V1_ListEngineVersionsResponse(apiJSON: versionsJSON) == versions)
        #expect(String(decoding: try APIJSON.encode(Storeplatform_V1_ListEngineVersionsResponse()), as: UTF8.self) == #"{"versions":[]}"#)
    }

    /// A fleet upgrade: its state and each store's outcome as users read them, the
    /// selector's statuses as the filter spells them, every count and list written;
    /// a request body may spell its statuses either way.
    @Test func fleetUpgradesHaveEveryFieldAndTheirStatesAsUsersReadThem() throws {
        var store = Storeplatform_V1_FleetUpgradeStore()
        store.name = "shop"
        store.outcome = .rolledBack
        var fleet = Storeplatform_V1_FleetUpgrade()
        fleet.id = "fu_1"
        fleet.state = .running
        fleet.selector.statuses = [.ready, .failed]
        fleet.stores = [store]
        let json = String(decoding: try APIJSON.encode(fleet), as: UTF8.self)
        #expect(json == #"{"id":"fu_1","version":"","selector":{"names":[],"statuses":["ready","failed"]},"waveSize":0,"maxUnavailable":0,"#
            + #""failureBudget":0,"state":"running","actor":"","createdMs":"0","updatedMs":"0","endedMs":"0","currentWave":0,"waveCount":0,"#
            + #""stores":[{"storeId":"","name":"shop","wave":0,"fromVersion":"","outcome":"rolled-back","message":"","revision":0,"updatedMs":"0"}],"#
            + #""steps":[],"waiting":0,"upgrading":0,"upgraded":0,"rolledBack":0,"failed":0,"skipped":0}"#)
        #expect(try Storeplatform_V1_FleetUpgrade(apiJSON: json) == fleet)
        #expect(String(decoding: try APIJSON.encode(Storeplatform_V1_ListFleetUpgradesResponse()), as: UTF8.self) == #"{"fleetUpgrades":[]}"#)

        var request = Storeplatform_V1_UpgradeFleetRequest()
        request.version = "6.8-wc9.8"
        request.selector.statuses = [.ready, .upgrading]
        for body in [
            #"{"version":"6.8-wc9.8","selector":{"statuses":["ready","upgrading"]}}"#,
            #"{"version":"6.8-wc9.8","selector":{"statuses":["STORE_STATUS_READY","upgrading"]}}"#,
        ] {
            let bytes = APIShape.restoringEnumNames(Array(body.utf8), of: Storeplatform_V1_UpgradeFleetRequest.self)
            #expect(try Storeplatform_V1_UpgradeFleetRequest(jsonUTF8Bytes: bytes) == request, "\(body)")
        }
        // Bodies that are no object are left to the decoder, which says what is wrong.
        for body in ["[1]", #"{"version":"#, ""] {
            #expect(APIShape.restoringEnumNames(Array(body.utf8), of: Storeplatform_V1_UpgradeFleetRequest.self) == Array(body.utf8))
        }
    }

    /// Every message the API writes lists exactly the fields of its .proto message,
    /// in field-number order (the nested ones are shapes of their own, checked too).
    @Test func everyShapeListsItsProtoMessagesFields() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var protoFields: [String: [String]] = [:]
        for file in ["store", "platform", "fleet"] {
            let text = try String(contentsOf: root.appendingPathComponent("proto/storeplatform/v1/\(file).proto"), encoding: .utf8)
            for match in text.matches(of: /\nmessage (\w+) \{\n((?:.*\n)*?)\}/) {
                let fields = match.2.split(separator: "\n").compactMap { line -> String? in
                    guard !line.trimmingCharacters(in: .whitespaces).hasPrefix("//"),
                        let field = line.firstMatch(of: /^\s+(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*\d+;/)
                    else { return nil }
                    return Self.lowerCamel(String(field.1))
                }
                protoFields["storeplatform.v1." + match.1] = fields
            }
        }
        #expect(APIShape.byName.count == 22)
        for (name, shape) in APIShape.byName {
            #expect(shape.fields.map(\.key) == protoFields[name], "\(name)")
        }
    }

    private static func lowerCamel(_ snake: String) -> String {
        let parts = snake.split(separator: "_")
        return String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
