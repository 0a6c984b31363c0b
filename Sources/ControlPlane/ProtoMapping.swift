import Foundation
import StoreCore
import StoreDatabase
import StorePlatformProto

extension StoreStatus {
    /// The wire enum of this status.
    public var proto: Storeplatform_V1_StoreStatus {
        switch self {
        case .queued: .queued
        case .provisioning: .provisioning
        case .ready: .ready
        case .failed: .failed
        case .deleting: .deleting
        case .deleted: .deleted
        case .upgrading: .upgrading
        }
    }

    /// The domain status of a wire status; UNSPECIFIED and unknown numbers are
    /// INVALID_ARGUMENT.
    init(proto: Storeplatform_V1_StoreStatus) throws {
        switch proto {
        case .queued: self = .queued
        case .provisioning: self = .provisioning
        case .ready: self = .ready
        case .failed: self = .failed
        case .deleting: self = .deleting
        case .deleted: self = .deleted
        case .upgrading: self = .upgrading
        case .unspecified, .UNRECOGNIZED:
            throw StoreStatus.notAStatus("\(proto)")
        }
    }
}

extension ProvisioningStep {
    /// The wire enum of this step: the one mapping between the two.
    public var proto: Storeplatform_V1_ProvisioningStep {
        switch self {
        case .namespace: .namespace
        case .secret: .secret
        case .install: .install
        case .readiness: .readiness
        }
    }
}

extension Optional where Wrapped == StoreStatus {
    public var proto: Storeplatform_V1_StoreStatus { self?.proto ?? .unspecified }
}

func milliseconds(_ date: Date?) -> Int64 {
    date?.millisecondsSince1970 ?? 0
}

extension Store {
    /// The wire message of this store (the proto3 JSON of the HTTP API too).
    public var proto: Storeplatform_V1_Store {
        var store = Storeplatform_V1_Store()
        store.id = id
        store.name = name
        store.engine = engine
        store.status = status.proto
        store.url = url
        store.namespace = namespace
        store.errorMessage = errorMessage
        store.errorSummary = FailureHeadline.of(errorMessage)
        store.attempts = UInt32(clamping: attempts)
        store.createdAtMs = milliseconds(createdAt)
        store.updatedAtMs = milliseconds(updatedAt)
        store.readyAtMs = milliseconds(readyAt)
        store.deletedAtMs = milliseconds(deletedAt)
        store.provisioningDurationMs = provisioningDurationMilliseconds ?? 0
        store.release = release
        store.owner = owner
        store.provisioningStartedAtMs = milliseconds(provisioningStartedAt)
        store.version = version
        store.revision = UInt32(clamping: revision)
        return store
    }
}

extension AuditEvent {
    public var proto: Storeplatform_V1_AuditEvent {
        var event = Storeplatform_V1_AuditEvent()
        event.id = id
        event.timeMs = milliseconds(time)
        event.actor = actor
        event.action = action.rawValue
        event.storeID = storeID
        event.storeName = storeName
        event.fromStatus = fromStatus.proto
        event.toStatus = toStatus.proto
        event.message = message
        event.summary = FailureHeadline.of(message)
        event.requestID = requestID ?? ""
        event.fleetUpgradeID = fleetUpgradeID ?? ""
        return event
    }
}

extension StoreEvent {
    /// The wire message of this event, as WatchStores and the HTTP event stream send it.
    public var proto: Storeplatform_V1_StoreEvent {
        var event = Storeplatform_V1_StoreEvent()
        event.store = store.proto
        event.fromStatus = fromStatus.proto
        event.toStatus = toStatus.proto
        event.action = action.rawValue
        event.auditID = auditID
        event.timeMs = milliseconds(time)
        event.step = step?.proto ?? .unspecified
        return event
    }
}

extension DurationBuckets.Snapshot {
    /// The histogram's buckets as GetMetrics answers them: each bucket's own count
    /// (not cumulative, as Prometheus's), the last one unbounded (bound 0).
    var buckets: [Storeplatform_V1_DurationBucket] {
        var buckets: [Storeplatform_V1_DurationBucket] = []
        var below = 0
        for (bound, cumulative) in zip(bounds, cumulativeCounts) + [(Duration.zero, count)] {
            var bucket = Storeplatform_V1_DurationBucket()
            bucket.upperBoundMs = bound.wholeMilliseconds
            bucket.count = UInt64(max(0, cumulative - below))
            below = cumulative
            buckets.append(bucket)
        }
        return buckets
    }
}
