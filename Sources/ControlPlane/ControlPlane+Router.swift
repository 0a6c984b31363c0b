import StoreCore
import StorePlatformProto
import StoreRPC

extension ControlPlane {
    /// The method table for the RPC server: every method of proto/, with admin
    /// methods marked so only allowed callers reach them. Every call's `request-id`
    /// and `idempotency-key` must follow ``RequestMetadata``'s rules, whatever the
    /// method. Health is answered inline on the event loop; everything else runs as a task.
    public func makeRouter() -> RPCRouter {
        typealias M = StorePlatformMethod
        var router = RPCRouter()
        router.checkMetadata { metadata in
            try RequestMetadata.requestID.check(metadata["request-id"])
            try RequestMetadata.idempotencyKey.check(metadata["idempotency-key"])
        }
        router.inline(M.PlatformService.health) { [self] (_: Storeplatform_V1_HealthRequest, _) in
            health()
        }
        router.unary(M.PlatformService.getMetrics) { [self] (_: Storeplatform_V1_GetMetricsRequest, context) in
            try metrics(caller: context.identity)
        }
        router.unary(M.PlatformService.listAudit) { [self] (request: Storeplatform_V1_ListAuditRequest, context) in
            try listAudit(request, caller: context.identity)
        }
        router.unary(M.StoreService.createStore) { [self] (request: Storeplatform_V1_CreateStoreRequest, context) in
            try createStore(request, caller: context.identity, requestID: context.requestID, idempotencyKey: context.metadata["idempotency-key"])
        }
        router.unary(M.StoreService.getStore) { [self] (request: Storeplatform_V1_GetStoreRequest, context) in
            try getStore(request, caller: context.identity)
        }
        router.unary(M.StoreService.listStores) { [self] (request: Storeplatform_V1_ListStoresRequest, context) in
            try listStores(request, caller: context.identity)
        }
        router.unary(M.StoreService.deleteStore) { [self] (request: Storeplatform_V1_DeleteStoreRequest, context) in
            try await deleteStore(request, caller: context.identity, requestID: context.requestID)
        }
        router.unary(M.StoreService.retryStore) { [self] (request: Storeplatform_V1_RetryStoreRequest, context) in
            try await retryStore(request, caller: context.identity, requestID: context.requestID)
        }
        router.serverStream(M.StoreService.watchStores) {
            [self] (request: Storeplatform_V1_WatchStoresRequest, context, writer: RPCStreamWriter<Storeplatform_V1_StoreEvent>) in
            let watch = try watchStores(request, caller: context.identity)
            if let current = watch.current { try await writer.send(current.proto) }
            for event in watch.replay { try await writer.send(event.proto) }
            var last = watch.replayedUpTo
            if watch.replayIsPartial { throw StoreWatch.fellBehind(after: last) }
            for await event in watch.changes.events where watch.isNew(event) {
                try await writer.send(event.proto)
                last = event.auditID
            }
            if watch.changes.fellBehind { throw StoreWatch.fellBehind(after: last) }
        }
        router.unary(M.AdminService.reconcile, access: .admin) { [self] (_: Storeplatform_V1_ReconcileRequest, _) in
            try await reconcile()
        }
        router.unary(M.AdminService.listOperations, access: .admin) { [self] (_: Storeplatform_V1_ListOperationsRequest, _) in
            listOperations()
        }
        router.unary(M.AdminService.getLimits, access: .admin) { [self] (_: Storeplatform_V1_GetLimitsRequest, _) in
            var response = Storeplatform_V1_GetLimitsResponse()
            response.limits = limits()
            return response
        }
        router.unary(M.AdminService.updateLimits, access: .admin) { [self] (request: Storeplatform_V1_UpdateLimitsRequest, context) in
            var response = Storeplatform_V1_UpdateLimitsResponse()
            response.limits = try updateLimits(request, caller: context.identity)
            return response
        }
        return router
    }
}
