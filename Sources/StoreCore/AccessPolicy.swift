/// Who may do what: the role of each principal and the checks every method
/// makes, in one place for the RPC server and the HTTP gateway alike (both call
/// ControlPlane, which asks this). Pure: the access file is read by the daemon
/// and parsed by ``AccessFile``.
///
/// A principal's grant is, first match wins:
/// 1. `admin` for a `uid:` in ``adminUIDs`` (`--admin-uid`; the daemon's own uid
///    and root by default), whatever the access file says, so the file cannot
///    lock the daemon's owner out;
/// 2. the access file's line naming the principal exactly (`token:ci`), else its
///    kind (`uid:*`), else everyone (`*`);
/// 3. the built-in default: any other uid is an operator of its own stores only,
///    and every other caller (tokens, certificates, TCP and HTTP addresses) an
///    operator of every store.
public struct AccessPolicy: Sendable {
    /// One line of an access file.
    public struct Rule: Sendable, Equatable {
        public var pattern: PrincipalPattern
        public var grant: AccessGrant

        public init(_ pattern: PrincipalPattern, _ grant: AccessGrant) {
            self.pattern = pattern
            self.grant = grant
        }
    }

    /// uids that are admins whatever the rules say.
    public let adminUIDs: Set<UInt32>
    private let exact: [Principal: AccessGrant]
    private let byKind: [Principal.Kind: AccessGrant]
    private let everyone: AccessGrant?
    /// The access file the rules came from, named in refusals; nil without one.
    public let file: String?

    /// `rules` name each pattern at most once (``AccessFile`` makes sure); for a
    /// pattern given twice, the first wins.
    public init(adminUIDs: Set<UInt32>, rules: [Rule] = [], file: String? = nil) {
        self.adminUIDs = adminUIDs
        var exact: [Principal: AccessGrant] = [:]
        var byKind: [Principal.Kind: AccessGrant] = [:]
        var everyone: AccessGrant?
        for rule in rules {
            switch rule.pattern {
            case .exactly(let principal): if exact[principal] == nil { exact[principal] = rule.grant }
            case .anyOf(let kind): if byKind[kind] == nil { byKind[kind] = rule.grant }
            case .anyone: if everyone == nil { everyone = rule.grant }
            }
        }
        self.exact = exact
        self.byKind = byKind
        self.everyone = everyone
        self.file = file
    }

    /// The built-in grant of a principal no rule names: see the type's description.
    public static func defaultGrant(for principal: Principal) -> AccessGrant {
        principal.kind == .uid ? AccessGrant(.operator, ownStoresOnly: true) : AccessGrant(.operator)
    }

    public func grant(for principal: Principal) -> AccessGrant {
        if let uid = principal.uid, adminUIDs.contains(uid) { return AccessGrant(.admin) }
        return exact[principal] ?? byKind[principal.kind] ?? everyone ?? Self.defaultGrant(for: principal)
    }

    /// The uids that are admins: ``adminUIDs`` and every `uid:N` the rules make
    /// admin by name (the Unix socket keeps its last connection places for them).
    public var adminUIDsByName: Set<UInt32> {
        adminUIDs.union(exact.compactMap { principal, grant in grant.role == .admin ? principal.uid : nil })
    }

    /// Refuses with PERMISSION_DENIED, saying what was missing and where to grant
    /// it, unless `principal` has at least `role`; its grant otherwise.
    /// `method` names what was called ("DeleteStore").
    @discardableResult
    public func require(_ role: Role, of principal: Principal, for method: String) throws -> AccessGrant {
        let grant = grant(for: principal)
        guard grant.role >= role else {
            throw PlatformError(
                .permissionDenied, "\(principal) is \(grant.role.withArticle); \(method) needs the \(role) role (\(howToGrant))"
            )
        }
        return grant
    }

    /// Refuses unless `principal` may change `store` (retry or delete it): it must
    /// be an operator, and one limited to its own stores must be the store's owner.
    /// A store without a recorded owner can be changed only by admins and operators
    /// of every store.
    public func requireChange(of store: Store, by principal: Principal, for method: String) throws {
        let grant = try require(.operator, of: principal, for: method)
        guard grant.ownStoresOnly, store.owner != principal.description else { return }
        let whose = store.owner.isEmpty
            ? "\(store.id) has no recorded owner (it was created before owners were recorded)"
            : "\(store.id) was created by \(store.owner)"
        throw PlatformError(
            .permissionDenied,
            "\(principal) may change only the stores it created; \(whose). Ask its owner or an admin, "
                + "or make \(principal) an operator of every store (\(howToGrant))"
        )
    }

    private var howToGrant: String {
        file.map { "grant it in \($0)" } ?? "grant it in an access file, storeplatformd --access-file"
    }
}
