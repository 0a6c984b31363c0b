import Foundation

/// A store as the platform records it: one WooCommerce installation in its own namespace.
///
/// A plain value: it changes only by building a new value. Which status changes are legal
/// is ``StoreStatus/transitions``' business, not this type's. Optional text fields are
/// empty strings rather than `nil`, as on the wire.
public struct Store: Sendable, Equatable, Codable {
    /// Unique, immutable, chosen by the platform (``makeID()``), for example `st_k3q9x2m7c4ab`.
    public var id: String
    /// The validated store name (a ``StoreName`` value); unique among live stores.
    public var name: String
    /// The engine's name, for example `woocommerce` (``StoreEngine/name``).
    public var engine: String
    public var status: StoreStatus
    /// The store's public URL; empty until it is ready.
    public var url: String
    /// The Kubernetes namespace holding the store's resources (``namespace(forName:id:)``).
    public var namespace: String
    /// The Helm release name (``release(forName:)``).
    public var release: String
    /// Why the store failed (driver output, pod reasons, timeout); empty otherwise.
    public var errorMessage: String
    /// How many provisioning attempts have been started: 0 while first queued, 1 after the first.
    public var attempts: Int
    public var createdAt: Date
    /// When the store last changed.
    public var updatedAt: Date
    /// When the store first became ready; `nil` if never.
    public var readyAt: Date?
    /// When the store was deleted; `nil` if not deleted.
    public var deletedAt: Date?
    /// How long the last successful provisioning took; `nil` if none succeeded.
    public var provisioningDurationMilliseconds: Int64?
    /// When the current (or last) provisioning attempt started; its deadline
    /// counts from here.
    public var provisioningStartedAt: Date?
    /// The identity of the caller that created the store (a ``Principal``'s text,
    /// such as `uid:1001` or `token:ci`); empty when unknown (stores created before
    /// owners were recorded).
    public var owner: String
    /// The name of the engine version the store runs (``EngineVersion/name``), for
    /// example `6.9-wc10.3`.
    public var version: String
    /// The revision of its release the store runs: 1 after the install, one more
    /// after each upgrade or rollback (Helm's numbering); 0 for a store recorded
    /// before revisions were, until it is ready.
    public var revision: Int

    /// A store with every field given.
    public init(
        id: String,
        name: String,
        engine: String,
        status: StoreStatus,
        url: String = "",
        namespace: String,
        release: String,
        errorMessage: String = "",
        attempts: Int = 0,
        createdAt: Date,
        updatedAt: Date,
        readyAt: Date? = nil,
        deletedAt: Date? = nil,
        provisioningDurationMilliseconds: Int64? = nil,
        provisioningStartedAt: Date? = nil,
        owner: String = "",
        version: String = "",
        revision: Int = 0
    ) {
        self.id = id
        self.name = name
        self.engine = engine
        self.status = status
        self.url = url
        self.namespace = namespace
        self.release = release
        self.errorMessage = errorMessage
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.readyAt = readyAt
        self.deletedAt = deletedAt
        self.provisioningDurationMilliseconds = provisioningDurationMilliseconds
        self.provisioningStartedAt = provisioningStartedAt
        self.owner = owner
        self.version = version
        self.revision = revision
    }

    /// A newly accepted store: status ``StoreStatus/queued``, no attempts yet, with its
    /// namespace and release derived from `name` and `id`, owned by `owner`, on its
    /// engine's default version as revision 1.
    public static func queued(
        name: StoreName, engine: any StoreEngine, id: String = Store.makeID(), owner: String = "", now: Date
    ) -> Store {
        Store(
            id: id,
            name: name.value,
            engine: engine.name,
            status: .queued,
            namespace: namespace(forName: name, id: id),
            release: release(forName: name),
            createdAt: now,
            updatedAt: now,
            owner: owner,
            version: engine.defaultVersion?.name ?? "",
            revision: 1
        )
    }
}

extension Store {
    /// The prefix of every store id.
    public static let idPrefix = "st_"

    /// The characters of an id after its prefix: lower-case base32 (RFC 4648 alphabet),
    /// all of them valid in a DNS-1123 label.
    static let idAlphabet = Array("abcdefghijklmnopqrstuvwxyz234567")

    /// The number of random characters after ``idPrefix`` (60 bits).
    public static let idRandomLength = 12

    /// A new store id: ``idPrefix`` then 12 random lower-case base32 characters drawn from
    /// the system's cryptographically secure generator, for example `st_k3q9x2m7c4ab`.
    public static func makeID() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeID(using: &generator)
    }

    /// ``makeID()`` with a chosen generator, for reproducible tests.
    public static func makeID(using generator: inout some RandomNumberGenerator) -> String {
        var id = idPrefix
        for _ in 0..<idRandomLength {
            id.append(idAlphabet.randomElement(using: &generator)!)
        }
        return id
    }

    /// The namespace of a store: `store-<name>-<last 6 characters of id>`.
    ///
    /// The id suffix means a store recreated under the name of a deleted one gets a new
    /// namespace, so it never collides with a namespace still terminating. With a name of
    /// at most ``StoreName/maxLength`` characters the result is at most 53 characters,
    /// within Kubernetes' 63. `id` is expected to come from ``makeID()``, whose
    /// characters are all valid in a namespace.
    public static func namespace(forName name: StoreName, id: String) -> String {
        "store-\(name.value)-\(id.suffix(namespaceIDCharacters))"
    }

    /// How many characters of the id end a store's namespace.
    static let namespaceIDCharacters = 6

    /// The store name in a namespace ``namespace(forName:id:)`` made; nil for any other.
    public static func name(inNamespace namespace: String) -> String? {
        guard namespace.hasPrefix("store-"), namespace.count > "store-".count + namespaceIDCharacters + 1 else { return nil }
        return String(namespace.dropFirst("store-".count).dropLast(namespaceIDCharacters + 1))
    }

    /// The Helm release name of a store: its name, which is unique among live stores and
    /// (at most 40 characters) within Helm's 53-character limit.
    public static func release(forName name: StoreName) -> String {
        name.value
    }
}
