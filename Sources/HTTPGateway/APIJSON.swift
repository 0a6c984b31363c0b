import Foundation
import StorePlatformProto
import SwiftProtobuf

/// The JSON of the HTTP API's bodies: the proto3 JSON mapping of the same
/// messages (SwiftProtobuf writes it), made easy to script in two ways:
/// - every field is present: a zero count, an empty string or an empty list is
///   written rather than left out, so a client can tell "none" from "not there";
/// - enum values are the lower-case names the `status` filter takes: `"ready"`
///   rather than `"STORE_STATUS_READY"`, `"open"` rather than `"FAILURE_RESOLUTION_OPEN"`,
///   and words joined by `-` as everywhere else users read them: `"rolled-back"`
///   rather than `"REVISION_STATUS_ROLLED_BACK"`.
///
/// Each message's fields are listed once in its ``APIShape``; a test compares the
/// shapes with the .proto files, so a field added there is not forgotten here.
enum APIJSON {
    /// The body for `message`: SwiftProtobuf's JSON, fields in field-number order,
    /// with the missing ones added and enum values renamed (its values' text is
    /// kept byte for byte).
    static func encode<M: SwiftProtobuf.Message>(_ message: M) throws -> [UInt8] {
        let bytes: [UInt8] = try message.jsonUTF8Bytes()
        guard let shape = APIShape.of(M.self) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 256)
        try shape.write(object: bytes[...], to: &output)
        return output
    }
}

extension SwiftProtobuf.Message {
    /// Reads a body the HTTP API wrote (``APIJSON``): its lower-case enum names are
    /// taken back to the proto's names before the proto3 JSON mapping decodes it.
    /// For Swift clients of the HTTP API, and its tests.
    public init(apiJSON text: String) throws {
        guard let shape = APIShape.of(Self.self) else {
            try self.init(jsonString: text)
            return
        }
        guard var object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw APIJSONError(description: "a \(Self.protoMessageName) body must be a JSON object")
        }
        shape.restoreEnumNames(&object)
        let proto = try JSONSerialization.data(withJSONObject: object)
        try self.init(jsonUTF8Data: proto)
    }
}

struct APIJSONError: Error, CustomStringConvertible {
    var description: String
}

/// The fields of one message as the HTTP API writes them, by their proto3 JSON names.
struct APIShape: Sendable {
    /// A field's kind, which says its value when it holds the default.
    enum Kind: Sendable {
        /// string: "".
        case string
        /// int32, uint32, double: 0.
        case number
        /// int64, uint64 (strings in proto3 JSON): "0".
        case int64
        case bool
        /// An enum whose values all start with `prefix`: written without it, in lower
        /// case, `_` written `-`.
        case enumeration(prefix: String)
        /// A message: written with its own defaults; an unset one as all defaults.
        case message(APIShape)
        /// A repeated message: [] when empty.
        case messages(APIShape)
        /// A repeated string: [] when empty.
        case strings
        /// A repeated enum, each value written as ``enumeration(prefix:)`` writes one: [] when empty.
        case enumerations(prefix: String)
    }

    /// The fields in field-number order, the order SwiftProtobuf writes them in.
    let fields: KeyValuePairs<String, Kind>

    /// Writes `object` (a JSON object as SwiftProtobuf writes one: no whitespace) with
    /// every field of this shape, in order: a present value as it is, a missing one
    /// as its default; enum values renamed, nested messages written the same way.
    func write(object: ArraySlice<UInt8>, to output: inout [UInt8]) throws {
        let members = try JSONMembers.split(object: object)
        output.append(UInt8(ascii: "{"))
        for (index, (name, kind)) in fields.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: "\"\(name)\":".utf8)
            let value = members[name]
            switch kind {
            case .string: output.append(contentsOf: value ?? ArraySlice(#""""#.utf8))
            case .number: output.append(contentsOf: value ?? ArraySlice("0".utf8))
            case .int64: output.append(contentsOf: value ?? ArraySlice(#""0""#.utf8))
            case .bool: output.append(contentsOf: value ?? ArraySlice("false".utf8))
            case .enumeration(let prefix):
                output.append(contentsOf: Self.renamed(value, prefix: prefix).utf8)
            case .message(let shape):
                try shape.write(object: value ?? ArraySlice("{}".utf8), to: &output)
            case .messages(let shape):
                output.append(UInt8(ascii: "["))
                for (position, element) in try JSONMembers.split(array: value ?? ArraySlice("[]".utf8)).enumerated() {
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    try shape.write(object: element, to: &output)
                }
                output.append(UInt8(ascii: "]"))
            case .strings:
                output.append(contentsOf: value ?? ArraySlice("[]".utf8))
            case .enumerations(let prefix):
                output.append(UInt8(ascii: "["))
                for (position, element) in try JSONMembers.split(array: value ?? ArraySlice("[]".utf8)).enumerated() {
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    output.append(contentsOf: Self.renamed(element, prefix: prefix).utf8)
                }
                output.append(UInt8(ascii: "]"))
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// An enum value as written (a JSON string, `"STORE_STATUS_READY"`; nil for the
    /// default) as the API writes it: `"ready"`.
    private static func renamed(_ value: ArraySlice<UInt8>?, prefix: String) -> String {
        let text = value.map { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) } ?? prefix + "UNSPECIFIED"
        let short = text.hasPrefix(prefix) ? text.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: "-") : text
        return "\"\(short)\""
    }

    /// `value` as the proto3 JSON mapping names it: "ready" becomes "STORE_STATUS_READY";
    /// a value already so named, or not a string, is kept.
    private static func restored(_ value: Any, prefix: String) -> Any {
        guard let text = value as? String, !text.hasPrefix(prefix) else { return value }
        return prefix + text.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Undoes ``write(object:to:)``'s renaming of enum values: "ready" becomes
    /// "STORE_STATUS_READY" again.
    func restoreEnumNames(_ object: inout [String: Any]) {
        for (name, kind) in fields {
            switch kind {
            case .enumeration(let prefix):
                if let value = object[name] { object[name] = Self.restored(value, prefix: prefix) }
            case .enumerations(let prefix):
                if let values = object[name] as? [Any] { object[name] = values.map { Self.restored($0, prefix: prefix) } }
            case .message(let shape):
                if var nested = object[name] as? [String: Any] {
                    shape.restoreEnumNames(&nested)
                    object[name] = nested
                }
            case .messages(let shape):
                if let elements = object[name] as? [[String: Any]] {
                    object[name] = elements.map { element in
                        var element = element
                        shape.restoreEnumNames(&element)
                        return element
                    }
                }
            default:
                continue
            }
        }
    }

    /// The shape of a message the API writes (or, for UpgradeFleetRequest, reads); nil for others.
    static func of(_ type: any SwiftProtobuf.Message.Type) -> APIShape? {
        byName[type.protoMessageName]
    }

    /// A request body as the proto3 JSON mapping reads it: the enum values of a message
    /// with a shape spelled as the API writes them (`"statuses": ["ready"]`) are taken
    /// back to the proto's names first, so a body may use either. Any other body (not
    /// an object, malformed: the decoder then says what is wrong) is returned as it is.
    static func restoringEnumNames(_ bytes: [UInt8], of type: any SwiftProtobuf.Message.Type) -> [UInt8] {
        guard let shape = of(type),
            var object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        else { return bytes }
        shape.restoreEnumNames(&object)
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return bytes }
        return Array(data)
    }

    static let status = Kind.enumeration(prefix: "STORE_STATUS_")

    static let store = APIShape(fields: [
        "id": .string, "name": .string, "engine": .string, "status": status, "url": .string, "namespace": .string,
        "errorMessage": .string, "attempts": .number, "createdAtMs": .int64, "updatedAtMs": .int64, "readyAtMs": .int64,
        "deletedAtMs": .int64, "provisioningDurationMs": .int64, "release": .string, "owner": .string, "errorSummary": .string,
        "provisioningStartedAtMs": .int64, "version": .string, "revision": .number,
    ])

    static let auditEvent = APIShape(fields: [
        "id": .int64, "timeMs": .int64, "actor": .string, "action": .string, "storeId": .string, "storeName": .string,
        "fromStatus": status, "toStatus": status, "message": .string, "requestId": .string, "summary": .string,
        "fleetUpgradeId": .string,
    ])

    static let durationStats = APIShape(fields: [
        "count": .int64, "avgMs": .number, "minMs": .number, "maxMs": .number, "p50Ms": .number, "p95Ms": .number,
    ])

    static let activityBucket = APIShape(fields: ["startMs": .int64, "creates": .number, "failures": .number])

    static let statusCount = APIShape(fields: ["status": status, "count": .int64])

    static let durationBucket = APIShape(fields: ["upperBoundMs": .int64, "count": .int64])

    static let failureRecord = APIShape(fields: [
        "storeId": .string, "storeName": .string, "reason": .string, "timeMs": .int64, "summary": .string,
        "resolution": .enumeration(prefix: "FAILURE_RESOLUTION_"), "storeStatus": status,
    ])

    static let engineVersion = APIShape(fields: [
        "engine": .string, "name": .string, "wordpressImage": .string, "woocommerceVersion": .string, "chartVersion": .string,
        "isDefault": .bool,
    ])

    static let storeRevision = APIShape(fields: [
        "revision": .number, "version": .string, "status": .enumeration(prefix: "REVISION_STATUS_"), "actor": .string,
        "timeMs": .int64, "message": .string,
    ])

    static let fleetSelector = APIShape(fields: ["names": .strings, "statuses": .enumerations(prefix: "STORE_STATUS_")])

    static let fleetUpgradeStore = APIShape(fields: [
        "storeId": .string, "name": .string, "wave": .number, "fromVersion": .string,
        "outcome": .enumeration(prefix: "FLEET_STORE_OUTCOME_"), "message": .string, "revision": .number, "updatedMs": .int64,
    ])

    static let fleetUpgradeStep = APIShape(fields: ["timeMs": .int64, "action": .string, "actor": .string, "message": .string])

    static let fleetUpgrade = APIShape(fields: [
        "id": .string, "version": .string, "selector": .message(fleetSelector), "waveSize": .number, "maxUnavailable": .number,
        "failureBudget": .number, "state": .enumeration(prefix: "FLEET_UPGRADE_STATE_"), "actor": .string, "createdMs": .int64,
        "updatedMs": .int64, "endedMs": .int64, "currentWave": .number, "waveCount": .number, "stores": .messages(fleetUpgradeStore),
        "steps": .messages(fleetUpgradeStep), "waiting": .number, "upgrading": .number, "upgraded": .number, "rolledBack": .number,
        "failed": .number, "skipped": .number,
    ])

    /// Every message the API writes, by its full proto name: the answers, and the
    /// messages they hold; and UpgradeFleetRequest, the one body it reads with enum
    /// values (``restoringEnumNames(_:of:)``).
    static let byName: [String: APIShape] = [
        Storeplatform_V1_Store.protoMessageName: store,
        Storeplatform_V1_AuditEvent.protoMessageName: auditEvent,
        Storeplatform_V1_DurationStats.protoMessageName: durationStats,
        Storeplatform_V1_StatusCount.protoMessageName: statusCount,
        Storeplatform_V1_DurationBucket.protoMessageName: durationBucket,
        Storeplatform_V1_ActivityBucket.protoMessageName: activityBucket,
        Storeplatform_V1_FailureRecord.protoMessageName: failureRecord,
        Storeplatform_V1_EngineVersion.protoMessageName: engineVersion,
        Storeplatform_V1_StoreRevision.protoMessageName: storeRevision,
        Storeplatform_V1_ListEngineVersionsResponse.protoMessageName: APIShape(fields: ["versions": .messages(engineVersion)]),
        Storeplatform_V1_ListStoreRevisionsResponse.protoMessageName: APIShape(fields: ["revisions": .messages(storeRevision)]),
        Storeplatform_V1_FleetSelector.protoMessageName: fleetSelector,
        Storeplatform_V1_FleetUpgradeStore.protoMessageName: fleetUpgradeStore,
        Storeplatform_V1_FleetUpgradeStep.protoMessageName: fleetUpgradeStep,
        Storeplatform_V1_FleetUpgrade.protoMessageName: fleetUpgrade,
        Storeplatform_V1_ListFleetUpgradesResponse.protoMessageName: APIShape(fields: ["fleetUpgrades": .messages(fleetUpgrade)]),
        Storeplatform_V1_UpgradeFleetRequest.protoMessageName: APIShape(fields: [
            "version": .string, "selector": .message(fleetSelector), "waveSize": .number, "maxUnavailable": .number,
            "failureBudget": .number,
        ]),
        Storeplatform_V1_ListStoresResponse.protoMessageName: APIShape(fields: [
            "stores": .messages(store), "nextPageToken": .string,
        ]),
        Storeplatform_V1_StoreEvent.protoMessageName: APIShape(fields: [
            "store": .message(store), "fromStatus": status, "toStatus": status, "action": .string, "auditId": .int64,
            "timeMs": .int64, "step": .enumeration(prefix: "PROVISIONING_STEP_"),
        ]),
        Storeplatform_V1_ListAuditResponse.protoMessageName: APIShape(fields: [
            "events": .messages(auditEvent), "nextPageToken": .string,
        ]),
        Storeplatform_V1_GetMetricsResponse.protoMessageName: APIShape(fields: [
            "storesByStatus": .messages(statusCount), "provisioning": .message(durationStats), "recentFailures": .messages(failureRecord),
            "rateLimitedTotal": .int64, "quotaRefusalsTotal": .int64, "activeOperations": .int64,
            "reconcilePasses": .int64, "reconcileCorrections": .int64, "maxLiveStores": .number, "lastHour": .messages(activityBucket),
            "provisioningBuckets": .messages(durationBucket),
        ]),
        Storeplatform_V1_HealthResponse.protoMessageName: APIShape(fields: [
            "status": .string, "version": .string, "uptimeSeconds": .number, "clusterDriver": .string,
            "clusterSimulated": .bool, "startedAtMs": .int64, "database": .string, "databaseProblem": .string,
            "provisionDeadlineMs": .int64,
        ]),
    ]
}

/// Splits compact JSON (SwiftProtobuf's: no whitespace) into its parts without
/// decoding the values, so each value is copied exactly as it was written.
enum JSONMembers {
    /// The members of an object, by key, each value's bytes as written.
    static func split(object bytes: ArraySlice<UInt8>) throws -> [String: ArraySlice<UInt8>] {
        var members: [String: ArraySlice<UInt8>] = [:]
        var index = try expect(UInt8(ascii: "{"), in: bytes, at: bytes.startIndex)
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "}") { return members }
        while true {
            let keyEnd = try endOfString(bytes, from: index)
            let key = String(decoding: bytes[(index + 1)..<(keyEnd - 1)], as: UTF8.self)
            let valueStart = try expect(UInt8(ascii: ":"), in: bytes, at: keyEnd)
            let valueEnd = try endOfValue(bytes, from: valueStart)
            members[key] = bytes[valueStart..<valueEnd]
            guard valueEnd < bytes.endIndex else { throw malformed }
            if bytes[valueEnd] == UInt8(ascii: "}") { return members }
            index = try expect(UInt8(ascii: ","), in: bytes, at: valueEnd)
        }
    }

    /// The elements of an array, each as written.
    static func split(array bytes: ArraySlice<UInt8>) throws -> [ArraySlice<UInt8>] {
        var elements: [ArraySlice<UInt8>] = []
        var index = try expect(UInt8(ascii: "["), in: bytes, at: bytes.startIndex)
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "]") { return elements }
        while true {
            let end = try endOfValue(bytes, from: index)
            elements.append(bytes[index..<end])
            guard end < bytes.endIndex else { throw malformed }
            if bytes[end] == UInt8(ascii: "]") { return elements }
            index = try expect(UInt8(ascii: ","), in: bytes, at: end)
        }
    }

    private static let malformed = APIJSONError(description: "the proto3 JSON of a response is not the compact JSON expected")

    /// The index after `byte`, which must be at `index`.
    private static func expect(_ byte: UInt8, in bytes: ArraySlice<UInt8>, at index: Int) throws -> Int {
        guard index < bytes.endIndex, bytes[index] == byte else { throw malformed }
        return index + 1
    }

    /// The index just past the string whose opening quote is at `start`.
    private static func endOfString(_ bytes: ArraySlice<UInt8>, from start: Int) throws -> Int {
        var index = try expect(UInt8(ascii: "\""), in: bytes, at: start)
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        throw malformed
    }

    /// The index just past the value that starts at `start`.
    private static func endOfValue(_ bytes: ArraySlice<UInt8>, from start: Int) throws -> Int {
        guard start < bytes.endIndex else { throw malformed }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return try endOfString(bytes, from: start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var index = start
            while index < bytes.endIndex {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index = try endOfString(bytes, from: index)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default:
                    break
                }
                index += 1
            }
            throw malformed
        default:
            var index = start
            while index < bytes.endIndex, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[index]) {
                index += 1
            }
            return index
        }
    }
}
