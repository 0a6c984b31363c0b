import ControlPlane
import Hummingbird
import StorePlatformProto
import StoreCore

/// The routes of store upgrades and rollbacks (docs/ARCHITECTURE.md, "Upgrades and
/// rollbacks"): each builds the request message of the RPC of the same name and
/// answers what the ControlPlane answers, as the other /api handlers do. A store in
/// the path is its id or a live store's name (``StoreReference``).
extension GatewayResponder {
    /// `GET /api/stores/{id or name}/revisions`: ListStoreRevisions, newest first.
    func listStoreRevisions(_ reference: String, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_ListStoreRevisionsRequest()
        (message.id, message.name) = StoreReference(reference).idAndName
        return try json(await controlPlane.listStoreRevisions(message, call))
    }

    /// `POST /api/stores/{id or name}/upgrade` with `{"version": "..."}`: UpgradeStore;
    /// 202 with the store, now upgrading.
    func upgradeStore(_ reference: String, _ request: Request, _ call: CallContext) async throws -> Response {
        let example = #"{"version": "6.9-wc10.3"}"#
        var message: Storeplatform_V1_UpgradeStoreRequest = try decode(await readBody(request), what: example)
        try Self.refuseStoreInBody(id: message.id, name: message.name, example: example)
        (message.id, message.name) = StoreReference(reference).idAndName
        return try json(await controlPlane.upgradeStore(message, call).store, status: .accepted)
    }

    /// `POST /api/stores/{id or name}/rollback` with `{"revision": N}`: RollbackStore;
    /// 202 with the store, now upgrading to a new revision with revision N's version.
    func rollbackStore(_ reference: String, _ request: Request, _ call: CallContext) async throws -> Response {
        let example = #"{"revision": 1}"#
        var message: Storeplatform_V1_RollbackStoreRequest = try decode(await readBody(request), what: example)
        try Self.refuseStoreInBody(id: message.id, name: message.name, example: example)
        (message.id, message.name) = StoreReference(reference).idAndName
        return try json(await controlPlane.rollbackStore(message, call).store, status: .accepted)
    }

    /// The path names the store; a body that names one too (the request messages have
    /// `id` and `name` for RPC) is refused rather than silently overruled.
    private static func refuseStoreInBody(id: String, name: String, example: String) throws {
        guard let field = !id.isEmpty ? "id" : !name.isEmpty ? "name" : nil else { return }
        throw GatewayError.invalidJSON(
            "the request body is not valid JSON for this call (unknown field \"\(field)\": the path names the store); send a JSON object such as \(example)"
        )
    }
}

/// A store as a path names it: an id starts with `st_` (the platform chooses them
/// so, and no store name can); anything else is the name of a live store, as the
/// RPC requests' `name` (a deleted store is found by its id only).
struct StoreReference {
    let text: String

    init(_ text: String) { self.text = text }

    /// The request messages' `id` and `name`: exactly one of them set.
    var idAndName: (id: String, name: String) {
        text.hasPrefix(Store.idPrefix) ? (text, "") : ("", text)
    }
}
