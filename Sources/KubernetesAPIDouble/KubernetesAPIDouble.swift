import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A stand-in for a Kubernetes API server, for tests and benchmarks: NOT a cluster.
///
/// It keeps objects in memory and serves, over plain HTTP on loopback, what the
/// real `helm` and `kubectl` binaries ask of an API server: discovery, a reduced
/// OpenAPI v3 (enough for clients to leave field validation to the server), and
/// get/list/watch/create/update/patch/delete of the resources in
/// ``APIResource/all``, with label and field selectors. Nothing runs: stand-in
/// controllers give workloads pods and move them to the outcome the test chose
/// (``Behavior``), finish Jobs, linger deletions. Every request is recorded
/// (``requests``) with the verb and resource RBAC would have to allow, and the user
/// its bearer token stands for.
///
/// RBAC is off unless the double starts `enforcingRBAC`: then a request with a
/// ``serviceAccountToken(namespace:name:)`` is authorized with Kubernetes' RBAC
/// semantics against the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
/// the double holds (seed them), refused with the API server's 403 Forbidden Status,
/// and writing a binding passes the API server's escalation check. The admin
/// ``token`` is never restricted; a missing or unknown token then gets 401.
/// Admission (policies, webhooks) is not evaluated.
public final class KubernetesAPIDouble: Sendable {
    let cluster: ClusterState
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// `http://127.0.0.1:PORT`.
    public let url: String
    /// The admin's bearer token (user "kubernetes-admin", group system:masters): the
    /// written kubeconfig's default, never restricted by RBAC.
    public static let token = "kubernetes-api-double"

    private init(cluster: ClusterState, group: MultiThreadedEventLoopGroup, channel: any Channel, url: String) {
        self.cluster = cluster
        self.group = group
        self.channel = channel
        self.url = url
    }

    /// Starts serving on `host` and a free port; with `enforcingRBAC`, service
    /// accounts' requests are authorized by RBAC (see the type's documentation).
    public static func start(
        host: String = "127.0.0.1", behavior: Behavior = Behavior(), enforcingRBAC: Bool = false
    ) async throws -> KubernetesAPIDouble {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let cluster = ClusterState { delay, body in
            let (seconds, attoseconds) = delay.components
            loop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) { body() }
        }
        cluster.state.withLock {
            $0.behavior = behavior
            $0.enforcesRBAC = enforcingRBAC
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(APIServerHandler(cluster: cluster))
                }
            }
            .bind(host: host, port: 0).get()
        let port = channel.localAddress?.port ?? 0
        return KubernetesAPIDouble(cluster: cluster, group: group, channel: channel, url: "http://\(host):\(port)")
    }

    public func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    /// A bearer token that authenticates as the service account NAMESPACE/NAME: user
    /// `system:serviceaccount:NAMESPACE:NAME`, groups `system:serviceaccounts`,
    /// `system:serviceaccounts:NAMESPACE` and `system:authenticated`. The same
    /// account always gets the same token. The ServiceAccount object need not exist.
    public func serviceAccountToken(namespace: String, name: String) -> String {
        let token = "serviceaccount:\(namespace):\(name)"
        cluster.state.withLock { $0.users[token] = .serviceAccount(namespace: namespace, name: name) }
        return token
    }

    /// Writes a kubeconfig whose current context points helm and kubectl at the
    /// double, with `token` (by default the admin's).
    ///
    /// client-go, in helm and kubectl, sends a kubeconfig's credentials only over
    /// TLS, and the double speaks plain HTTP: so the server URL carries the token
    /// too, as the path prefix `/tokens/TOKEN` of every request, which the double
    /// reads as the bearer token and strips before routing (and recording).
    public func writeKubeconfig(to path: String, token: String = KubernetesAPIDouble.token) throws {
        let config = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: api-double
              cluster:
                server: \(url)\(Credentials.pathPrefix)\(token)
            users:
            - name: platform
              user:
                token: \(token)
            contexts:
            - name: api-double
              context:
                cluster: api-double
                user: platform
            current-context: api-double

            """
        try config.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: Behaviour

    public var behavior: Behavior {
        cluster.state.withLock { $0.behavior }
    }

    public func setBehavior(_ change: (inout Behavior) -> Void) {
        cluster.state.withLock { change(&$0.behavior) }
    }

    // MARK: Requests

    /// Every request so far, oldest first.
    public var requests: [RecordedRequest] {
        cluster.state.withLock { $0.requests }
    }

    public func clearRequests() {
        cluster.state.withLock { $0.requests.removeAll() }
    }

    // MARK: Objects

    /// `resource` as RBAC names it: "pods", "deployments.apps", "jobs.batch".
    public static func resource(_ qualifiedName: String) -> APIResource? {
        APIResource.all.first { $0.qualifiedName == qualifiedName }
    }

    private static func require(_ qualifiedName: String) throws -> APIResource {
        guard let resource = resource(qualifiedName) else {
            throw DoubleError(description: "the double serves no resource \(qualifiedName)")
        }
        return resource
    }

    /// Objects of a resource, in one namespace or all, optionally label-selected.
    public func objects(_ resource: String, namespace: String? = nil, labelSelector: String? = nil) throws -> [JSON] {
        cluster.list(try Self.require(resource), namespace: namespace, labels: LabelSelector(labelSelector), fields: FieldSelector(nil)).items
    }

    public func object(_ resource: String, namespace: String? = nil, name: String) throws -> JSON? {
        try? cluster.get(try Self.require(resource), namespace: namespace, name: name)
    }

    /// Adds an object as if someone else had made it (not recorded as a request).
    @discardableResult
    public func seed(_ resource: String, namespace: String? = nil, _ object: JSON) throws -> JSON {
        do {
            return try cluster.create(try Self.require(resource), namespace: namespace, object: object)
        } catch let error as APIError {
            throw DoubleError(description: error.message)
        }
    }

    /// Changes an object in place (a pod's status, a label), as a controller would.
    public func mutate(_ resource: String, namespace: String? = nil, name: String, _ change: (inout JSON) -> Void) throws {
        do {
            try cluster.mutate(try Self.require(resource), namespace: namespace, name: name, change)
        } catch let error as APIError {
            throw DoubleError(description: error.message)
        }
    }

    /// Deletes an object as someone else would (not recorded).
    public func delete(_ resource: String, namespace: String? = nil, name: String) throws {
        do {
            _ = try cluster.delete(try Self.require(resource), namespace: namespace, name: name)
        } catch let error as APIError {
            throw DoubleError(description: error.message)
        }
    }

    /// Ends a lingering deletion now (its finalizer removed).
    public func finishDeletion(_ resource: String, namespace: String? = nil, name: String) throws {
        cluster.finishDeletion(try Self.require(resource), namespace: namespace, name: name)
    }
}

public struct DoubleError: Error, CustomStringConvertible {
    public var description: String
}
