import StoreCore
import StorePlatformProto
import StoreRPC

extension ControlPlane {
    /// The method table for the RPC server: every method of proto/. Each handler
    /// passes the call on as a ``CallContext`` (the caller as a ``Principal``, the
    /// request id, the idempotency key, the deadline); the ControlPlane methods
    /// decide what it may do (admin methods included). Every call's `request-id`
    /// and `idempotency-key` must follow ``RequestMetadata``'s rules, whatever the
    /// method. Health is answered inline on the event loop; everything else runs as a task.
    public func makeRouter() -> RPCRouter {
        typealias M = StorePlatformMethod
        var router = RPCRouter()
        router.checkMetadata { metadata in
            try RequestMetadata.requestID.check(metadata["request-id"])
            try RequestMetadata.idempotencyKey.check(metadata["idempotency-key"])
        }
        router.inline(M.PlatformService.health, encoded: { [self] (_: Storeplatform_V1_HealthRequest) in
            try encodedHealth()
        })
        router.unary(M.PlatformService.getMetrics) { [self] (_: Storeplatform_V1_GetMetricsRequest, context) in
            try await metrics(Self.call(context))
        }
        router.unary(M.PlatformService.listAudit) { [self] (request: Storeplatform_V1_ListAuditRequest, context) in
            try await listAudit(request, Self.call(context))
        }
        router.unary(M.StoreService.createStore) { [self] (request: Storeplatform_V1_CreateStoreRequest, context) in
            try await createStore(request, Self.call(context))
        }
        router.unary(M.StoreService.getStore) { [self] (request: Storeplatform_V1_GetStoreRequest, context) in
            try await getStore(request, Self.call(context))
        }
        router.unary(M.StoreService.listStores) { [self] (request: Storeplatform_V1_ListStoresRequest, context) in
            try await listStores(request, Self.call(context))
        }
        router.unary(M.StoreService.deleteStore) { [self] (request: Storeplatform_V1_DeleteStoreRequest, context) in
            try await deleteStore(request, Self.call(context))
        }
        router.unary(M.StoreService.retryStore) { [self] (request: Storeplatform_V1_RetryStoreRequest, context) in
            try await retryStore(request, Self.call(context))
        }
        router.unary(M.StoreService.listEngineVersions) { [self] (_: Storeplatform_V1_ListEngineVersionsRequest, context) in
            try await listEngineVersions(Self.call(context))
        }
        router.unary(M.StoreService.listStoreRevisions) { [self] (request: Storeplatform_V1_ListStoreRevisionsRequest, context) in
            try await listStoreRevisions(request, Self.call(context))
        }
        router.unary(M.StoreService.upgradeStore) { [self] (request: Storeplatform_V1_UpgradeStoreRequest, context) in
            try await upgradeStore(request, Self.call(context))
        }
        router.unary(M.StoreService.rollbackStore) { [self] (request: Storeplatform_V1_RollbackStoreRequest, context) in
            try await rollbackStore(request, Self.call(context))
        }
        router.serverStream(M.StoreService.watchStores) {
            [self] (request: Storeplatform_V1_WatchStoresRequest, context, writer: RPCStreamWriter<Storeplatform_V1_StoreEvent>) in
            let watch = try await watchStores(request, Self.call(context))
            if let current = watch.current { try await writer.send(current.proto) }
            let replayed = try await watch.replay { try await writer.send($0.proto) }
            var last = replayed.lastAuditID
            if replayed.isPartial { throw StoreWatch.fellBehind(after: last) }
            for await event in watch.changes.events where watch.sends(event, after: last) {
                try await writer.send(event.proto)
                if event.action != .progress { last = event.auditID }
            }
            if watch.changes.fellBehind { throw StoreWatch.fellBehind(after: last) }
        }
        router.unary(M.FleetService.upgradeFleet) { [self] (request: Storeplatform_V1_UpgradeFleetRequest, context) in
            try await upgradeFleet(request, Self.call(context))
        }
        router.unary(M.FleetService.getFleetUpgrade) { [self] (request: Storeplatform_V1_GetFleetUpgradeRequest, context) in
            try await getFleetUpgrade(request, Self.call(context))
        }
        router.unary(M.FleetService.listFleetUpgrades) { [self] (request: Storeplatform_V1_ListFleetUpgradesRequest, context) in
            try await listFleetUpgrades(request, Self.call(context))
        }
        router.unary(M.FleetService.pauseFleetUpgrade) { [self] (request: Storeplatform_V1_ChangeFleetUpgradeRequest, context) in
            try await changeFleetUpgrade(.pause, request, Self.call(context))
        }
        router.unary(M.FleetService.resumeFleetUpgrade) { [self] (request: Storeplatform_V1_ChangeFleetUpgradeRequest, context) in
            try await changeFleetUpgrade(.resume, request, Self.call(context))
        }
        router.unary(M.FleetService.cancelFleetUpgrade) { [self] (request: Storeplatform_V1_ChangeFleetUpgradeRequest, context) in
            try await changeFleetUpgrade(.cancel, request, Self.call(context))
        }
        router.serverStream(M.FleetService.watchFleetUpgrade) {
            [self] (request: Storeplatform_V1_WatchFleetUpgradeRequest, context, writer: RPCStreamWriter<Storeplatform_V1_FleetUpgrade>) in
            try await watchFleetUpgrade(request, Self.call(context)) { try await writer.send($0) }
        }
        router.unary(M.AdminService.reconcile) { [self] (_: Storeplatform_V1_ReconcileRequest, context) in
            try await reconcile(Self.call(context))
        }
        router.unary(M.AdminService.listOperations) { [self] (_: Storeplatform_V1_ListOperationsRequest, context) in
            try await listOperations(Self.call(context))
        }
        router.unary(M.AdminService.getLimits) { [self] (_: Storeplatform_V1_GetLimitsRequest, context) in
            var response = Storeplatform_V1_GetLimitsResponse()
            response.limits = try limits(Self.call(context))
            return response
        }
        router.unary(M.AdminService.updateLimits) { [self] (request: Storeplatform_V1_UpdateLimitsRequest, context) in
            var response = Storeplatform_V1_UpdateLimitsResponse()
            response.limits = try await updateLimits(request, Self.call(context))
            return response
        }
        return router
    }

    /// The call as the RPC transport received it: the principal it identified
    /// (``RPCContext/identity``, `kind:name`), the request id it checked or made, the
    /// `idempotency-key` metadata and the call's deadline.
    static func call(_ context: RPCContext) throws -> CallContext {
        guard let principal = Principal(context.identity) else {
            throw PlatformError(
                .permissionDenied, "the caller's identity \"\(context.identity)\" is not one this daemon knows; call over the Unix socket, or with a token"
            )
        }
        return CallContext(
            caller: principal, requestID: context.requestID, idempotencyKey: context.metadata["idempotency-key"], deadline: context.deadline
        )
    }
}
