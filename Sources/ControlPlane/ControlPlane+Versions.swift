import Foundation
import StoreCore
import StorePlatformProto

extension ControlPlane {
    /// Every version of every available engine (``StoreEngine/versions``), the
    /// default marked. Open to every caller.
    public func listEngineVersions(_ call: CallContext) async throws -> Storeplatform_V1_ListEngineVersionsResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        var response = Storeplatform_V1_ListEngineVersionsResponse()
        for engine in StoreEngines.all where engine.isAvailable {
            response.versions += engine.versions.map { $0.proto(engine: engine) }
        }
        return response
    }

    /// A store's revisions, newest first, by id or by a live store's name.
    public func listStoreRevisions(
        _ request: Storeplatform_V1_ListStoreRevisionsRequest, _ call: CallContext
    ) async throws -> Storeplatform_V1_ListStoreRevisionsResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        let store = try await requestedStore(id: request.id, name: request.name)
        var response = Storeplatform_V1_ListStoreRevisionsResponse()
        response.revisions = try await database.storeRevisions(storeID: store.id).map(\.proto)
        return response
    }
}

extension EngineVersion {
    /// The wire message of this version of `engine`.
    func proto(engine: any StoreEngine) -> Storeplatform_V1_EngineVersion {
        var version = Storeplatform_V1_EngineVersion()
        version.engine = engine.name
        version.name = name
        version.wordpressImage = wordPressImage
        version.woocommerceVersion = wooCommerceVersion
        version.chartVersion = chartVersion
        version.isDefault = engine.defaultVersion == self
        return version
    }
}

extension StoreRevision {
    /// The wire message of this revision.
    public var proto: Storeplatform_V1_StoreRevision {
        var revision = Storeplatform_V1_StoreRevision()
        revision.revision = UInt32(clamping: self.revision)
        revision.version = version
        revision.status = status.proto
        revision.actor = actor
        revision.timeMs = time.millisecondsSince1970
        revision.message = message
        return revision
    }
}

extension RevisionStatus {
    /// The wire enum of this status.
    public var proto: Storeplatform_V1_RevisionStatus {
        switch self {
        case .pending: .pending
        case .deployed: .deployed
        case .superseded: .superseded
        case .failed: .failed
        case .rolledBack: .rolledBack
        }
    }
}
