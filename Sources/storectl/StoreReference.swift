import ArgumentParser
import StorePlatformProto
import StoreRPC

/// A store as a command line names it: its id (`st_…`, as create and list print
/// it) or the name of a live store. Names are unique among live stores, so a name
/// names one store; a deleted store is named by its id only.
struct StoreReference: Sendable {
    /// The help of an argument or option that takes one.
    static let help = "The store's id (st_…) or the name of a live store."

    let text: String

    init(_ text: String) { self.text = text }

    /// Refuses an empty STORE argument, with what to give instead.
    static func validate(_ text: String) throws {
        guard !text.isEmpty else { throw ValidationError("STORE must not be empty: give the store's id or its name") }
    }

    /// True when the text is an id: ids start with "st_", which no valid name does
    /// (names hold no '_').
    var isID: Bool { text.hasPrefix("st_") }

    /// The GetStore request that reads this store.
    var getRequest: Storeplatform_V1_GetStoreRequest {
        var request = Storeplatform_V1_GetStoreRequest()
        (request.id, request.name) = idOrName
        return request
    }

    /// The `id` and `name` fields of a request that names a store either way: one
    /// of them is this text, the other empty.
    var idOrName: (id: String, name: String) {
        isID ? (text, "") : ("", text)
    }

    /// The store's id: the text itself when it is one; otherwise the id of the
    /// live store with that name, asked of the daemon (NOT_FOUND when there is none).
    func id(using client: RPCClient, timeout: Duration) async throws -> String {
        if isID { return text }
        return try await client.unary(StorePlatformMethod.StoreService.getStore, getRequest, timeout: timeout).store.id
    }
}
