import Foundation
import Logging
import StoreCore
import StorePlatformProto
import StoreRPC
import SwiftProtobuf

/// The service layer: one handler per RPC, shared by every transport. The RPC
/// server reaches it through ``makeRouter()``; the HTTP gateway will call the
/// same methods in-process.
public final class ControlPlane: Sendable {
    public let info: DaemonInfo
    private let startedAt: ContinuousClock.Instant
    private let logger: Logger

    public init(info: DaemonInfo, logger: Logger) {
        self.info = info
        self.startedAt = .now
        self.logger = logger
    }

    /// Liveness and identity. Touches no database, so it stays cheap.
    public func health() -> Storeplatform_V1_HealthResponse {
        var response = Storeplatform_V1_HealthResponse()
        response.status = "SERVING"
        response.version = info.version
        let elapsed = (ContinuousClock.now - startedAt).components
        response.uptimeSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        response.clusterDriver = info.clusterDriver
        response.clusterSimulated = info.clusterSimulated
        response.startedAtMs = info.startedAtMilliseconds
        response.database = info.database
        return response
    }

    /// The method table for the RPC server: every method of proto/, with admin
    /// methods marked so only allowed callers reach them.
    public func makeRouter() -> RPCRouter {
        var router = RPCRouter()
        router.inline(StorePlatformMethod.PlatformService.health) { [self] (_: Storeplatform_V1_HealthRequest, _) in
            health()
        }
        Self.notYetServed(&router)
        return router
    }

    /// Methods of the contract whose handlers arrive with the store lifecycle:
    /// they answer UNIMPLEMENTED with a message that says so.
    private static func notYetServed(_ router: inout RPCRouter) {
        typealias M = StorePlatformMethod
        func pending<Request: SwiftProtobuf.Message>(_ method: String, _: Request.Type, access: RPCRouter.Access = .anyCaller) {
            router.unary(method, access: access) { (_: Request, _) -> Storeplatform_V1_HealthResponse in
                throw PlatformError(.unimplemented, "\(method) is part of the contract but not served by this daemon version yet")
            }
        }
        pending(M.StoreService.createStore, Storeplatform_V1_CreateStoreRequest.self)
        pending(M.StoreService.getStore, Storeplatform_V1_GetStoreRequest.self)
        pending(M.StoreService.listStores, Storeplatform_V1_ListStoresRequest.self)
        pending(M.StoreService.deleteStore, Storeplatform_V1_DeleteStoreRequest.self)
        pending(M.StoreService.retryStore, Storeplatform_V1_RetryStoreRequest.self)
        router.serverStream(M.StoreService.watchStores) {
            (_: Storeplatform_V1_WatchStoresRequest, _, _: RPCStreamWriter<Storeplatform_V1_StoreEvent>) in
            throw PlatformError(.unimplemented, "\(M.StoreService.watchStores) is part of the contract but not served by this daemon version yet")
        }
        pending(M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest.self)
        pending(M.PlatformService.listAudit, Storeplatform_V1_ListAuditRequest.self)
        pending(M.AdminService.reconcile, Storeplatform_V1_ReconcileRequest.self, access: .admin)
        pending(M.AdminService.listOperations, Storeplatform_V1_ListOperationsRequest.self, access: .admin)
        pending(M.AdminService.getLimits, Storeplatform_V1_GetLimitsRequest.self, access: .admin)
        pending(M.AdminService.updateLimits, Storeplatform_V1_UpdateLimitsRequest.self, access: .admin)
    }
}
