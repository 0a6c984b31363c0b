import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP request, parsed.
struct APIRequest {
    var method: HTTPMethod
    var path: String
    var query: [String: String]
    var headers: HTTPHeaders
    var body: ByteBuffer?

    var tool: String {
        let agent = (headers.first(name: "user-agent") ?? "").lowercased()
        // The binaries may be installed as kubectl-v1.33 or helm-v4.
        for tool in ["kubectl", "helm"] where agent.hasPrefix(tool) { return tool }
        return String(agent.split(separator: "/").first ?? "")
    }

    func json() throws -> JSON {
        guard let body, body.readableBytes > 0 else { return .object([:]) }
        if headers.first(name: "content-type")?.hasPrefix("application/vnd.kubernetes.protobuf") == true {
            do {
                return try KubernetesProtobuf.decode(Array(body.readableBytesView))
            } catch {
                throw APIError(code: 415, reason: "UnsupportedMediaType", message: "\(error)")
            }
        }
        do {
            return try JSON.parse(Data(body.readableBytesView))
        } catch {
            throw APIError(code: 415, reason: "UnsupportedMediaType", message: "the body is not JSON (Content-Type \(headers.first(name: "content-type") ?? "none")): \(error)")
        }
    }
}

/// What the double answers: a whole JSON body, or a watch stream.
enum APIResponse {
    case json(status: Int, JSON)
    case watch(APIResource, namespace: String?, labels: LabelSelector, fields: FieldSelector, since: Int?, initialEventsEnd: Bool, timeout: Int)
}

/// Serves the API over one HTTP/1.1 connection: routes each request, records it,
/// answers in JSON; a watch keeps the response open and streams one JSON event per line.
final class APIServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cluster: ClusterState
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var watcher: Int?

    init(cluster: ClusterState) {
        self.cluster = cluster
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let watcher { cluster.stopWatching(watcher) }
        watcher = nil
        context.fireChannelInactive()
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let components = URLComponents(string: head.uri)
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let (path, pathToken) = Credentials.splitPathToken(components?.path ?? head.uri)
        let request = APIRequest(method: head.method, path: path, query: query, headers: head.headers, body: body)
        var recorded = Router.describe(request)
        let (user, enforced) = cluster.state.withLock { state in
            ((Credentials.bearerToken(head.headers) ?? pathToken).flatMap { state.users[$0] }, state.enforcesRBAC)
        }
        recorded.user = user?.name
        var authorization = RequestAuthorization(user: user, enforced: enforced, cluster: cluster)
        let response: APIResponse
        do {
            try authorization.requireAuthenticated()
            try authorization.require(Router.authorizationCheck(request, recorded))
            response = try Router.handle(request, cluster: cluster, authorization: &authorization)
        } catch let error as APIError {
            response = .json(status: error.code, error.status)
        } catch {
            response = .json(status: 500, APIError(code: 500, reason: "InternalError", message: "\(error)").status)
        }
        recorded.authorization = authorization.checks
        switch response {
        case .json(let status, let json):
            let data = json.data()
            recorded.status = status
            recorded.responseBytes = data.count
            cluster.state.withLock { $0.requests.append(recorded) }
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(data.count))])
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: data)))), promise: nil)
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        case .watch(let resource, let namespace, let labels, let fields, let since, let initialEventsEnd, let timeout):
            recorded.status = 200
            cluster.state.withLock { $0.requests.append(recorded) }
            let headers = HTTPHeaders([("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let id = cluster.watch(resource, namespace: namespace, labels: labels, fields: fields, since: since, initialEventsEnd: initialEventsEnd) {
                [handler = NIOLoopBound(self, eventLoop: context.eventLoop)] type, object in
                let line = JSON.object(["type": .string(type), "object": object]).data() + Data("\n".utf8)
                loop.execute {
                    let context = bound.value
                    guard handler.value.watcher != nil, context.channel.isActive else { return }
                    context.writeAndFlush(handler.value.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: line)))), promise: nil)
                }
            }
            watcher = id
            loop.scheduleTask(in: .seconds(Int64(timeout))) { [handler = NIOLoopBound(self, eventLoop: loop)] in
                guard handler.value.watcher == id else { return }
                handler.value.cluster.stopWatching(id)
                handler.value.watcher = nil
                let context = bound.value
                if context.channel.isActive { context.writeAndFlush(handler.value.wrapOutboundOut(.end(nil)), promise: nil) }
            }
        }
    }
}

/// Maps paths and methods to the cluster's operations.
enum Router {
    /// What RBAC would see of the request.
    static func describe(_ request: APIRequest) -> RecordedRequest {
        var recorded = RecordedRequest(
            verb: request.method.rawValue.lowercased(), resource: "", subresource: nil, namespace: nil, name: nil,
            path: request.path, tool: request.tool, status: 0, responseBytes: 0
        )
        guard let target = try? target(request.path) else { return recorded }
        recorded.resource = target.resource.qualifiedName
        recorded.namespace = target.namespace
        recorded.name = target.name
        recorded.subresource = target.subresource
        recorded.verb = switch request.method {
        case .GET: target.name != nil ? "get" : (isWatch(request) ? "watch" : "list")
        case .POST: "create"
        case .PUT: "update"
        case .PATCH: "patch"
        case .DELETE: target.name != nil ? "delete" : "deletecollection"
        default: request.method.rawValue.lowercased()
        }
        return recorded
    }

    /// What RBAC is asked for the request: its verb and resource as ``describe(_:)``
    /// gave them (`recorded`), or the path of a request that is not for a resource.
    /// A list or watch whose field selector requires one `metadata.name` carries
    /// that name, as the API server's request info does.
    static func authorizationCheck(_ request: APIRequest, _ recorded: RecordedRequest) -> AuthorizationCheck {
        guard let target = try? target(request.path) else {
            return AuthorizationCheck(verb: recorded.verb, path: recorded.path)
        }
        var name = target.name
        if name == nil, ["list", "watch"].contains(recorded.verb) {
            let selected = FieldSelector(request.query["fieldSelector"]).requirements.filter { $0.path == "metadata.name" && $0.equal }
            if selected.count == 1 { name = selected[0].value }
        }
        return AuthorizationCheck(
            verb: recorded.verb, group: target.resource.group, resource: target.resource.name, subresource: target.subresource,
            namespace: target.resource.namespaced ? target.namespace : nil, name: name
        )
    }

    struct Target {
        var resource: APIResource
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    /// kubectl's human-readable output asks for the server's table.
    static func wantsTable(_ request: APIRequest) -> Bool {
        (request.headers.first(name: "accept") ?? "").contains("as=Table")
    }

    /// A `meta.k8s.io/v1` Table with Name and Age columns; each row carries the
    /// object's metadata only (the server's default, `includeObject=Metadata`).
    static func table(_ items: [JSON], resourceVersion: Int?, include: String) -> JSON {
        let now = Date()
        let rows: [JSON] = items.map { item in
            let created = (item[path: "metadata.creationTimestamp"]?.string).flatMap { try? Date($0, strategy: .iso8601) } ?? now
            let seconds = max(0, Int(now.timeIntervalSince(created)))
            let age = seconds < 120 ? "\(seconds)s" : seconds < 7200 ? "\(seconds / 60)m" : "\(seconds / 3600)h"
            var row: [String: JSON] = ["cells": [item[path: "metadata.name"] ?? "", .string(age)]]
            switch include {
            case "Object": row["object"] = item
            case "None": break
            default:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"] ?? [:]]
            }
            return .object(row)
        }
        var metadata: [String: JSON] = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(String(resourceVersion)) }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(metadata),
            "columnDefinitions": [
                ["name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0],
                ["name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0],
            ],
            "rows": .array(rows),
        ]
    }

    static func isWatch(_ request: APIRequest) -> Bool {
        ["true", "1"].contains(request.query["watch"] ?? "")
    }

    /// The resource a path names: /api/v1/namespaces/NS/pods/NAME/status and the like.
    static func target(_ path: String) throws -> Target? {
        let parts = path.split(separator: "/").map(String.init)
        let groupVersion: String
        var rest: ArraySlice<String>
        if parts.first == "api", parts.count >= 3 {
            groupVersion = parts[1]
            rest = parts[2...]
        } else if parts.first == "apis", parts.count >= 4 {
            groupVersion = "\(parts[1])/\(parts[2])"
            rest = parts[3...]
        } else {
            return nil
        }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3, let resource = APIResource.find(groupVersion: groupVersion, name: rest[rest.startIndex + 2]),
            resource.namespaced
        {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first else { return nil }
        guard let resource = APIResource.find(groupVersion: groupVersion, name: plural) else {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        rest = rest.dropFirst()
        return Target(resource: resource, namespace: namespace, name: rest.first, subresource: rest.dropFirst().first)
    }

    static func handle(_ request: APIRequest, cluster: ClusterState, authorization: inout RequestAuthorization) throws -> APIResponse {
        let path = request.path.hasSuffix("/") && request.path.count > 1 ? String(request.path.dropLast()) : request.path
        switch path {
        case "/version": return .json(status: 200, Discovery.serverVersion)
        case "/api": return .json(status: 200, Discovery.coreVersions)
        case "/apis": return .json(status: 200, Discovery.groupList)
        case "/openapi/v3": return .json(status: 200, Discovery.openAPIRoot)
        default: break
        }
        if path.hasPrefix("/openapi/v3/"), let document = Discovery.openAPIDocument(path: String(path.dropFirst("/openapi/v3/".count))) {
            return .json(status: 200, document)
        }
        let parts = path.split(separator: "/")
        if parts.first == "api", parts.count == 2, let list = Discovery.resourceList(groupVersion: String(parts[1])) {
            return .json(status: 200, list)
        }
        if parts.first == "apis", parts.count == 3, let list = Discovery.resourceList(groupVersion: "\(parts[1])/\(parts[2])") {
            return .json(status: 200, list)
        }
        guard let target = try target(path) else {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        return try handle(request, target, cluster: cluster, authorization: &authorization)
    }

    private static func handle(
        _ request: APIRequest, _ target: Target, cluster: ClusterState, authorization: inout RequestAuthorization
    ) throws -> APIResponse {
        let resource = target.resource
        let namespace = resource.namespaced ? target.namespace : nil
        let dryRun = request.query["dryRun"] != nil
        let isBinding = resource == RBACAuthorizer.roleBindings || resource == RBACAuthorizer.clusterRoleBindings
        switch (request.method, target.name) {
        case (.GET, nil):
            let labels = LabelSelector(request.query["labelSelector"])
            let fields = FieldSelector(request.query["fieldSelector"])
            if isWatch(request) {
                let since = request.query["resourceVersion"].flatMap { Int($0) }
                let timeout = min(Int(request.query["timeoutSeconds"] ?? "") ?? 1800, 1800)
                let initialEventsEnd = request.query["sendInitialEvents"] == "true"
                return .watch(
                    resource, namespace: namespace, labels: labels, fields: fields, since: initialEventsEnd ? nil : since,
                    initialEventsEnd: initialEventsEnd, timeout: timeout
                )
            }
            let (items, version) = cluster.list(resource, namespace: namespace, labels: labels, fields: fields)
            if wantsTable(request) {
                return .json(status: 200, table(items, resourceVersion: version, include: request.query["includeObject"] ?? "Metadata"))
            }
            return .json(status: 200, [
                "kind": .string(resource.kind + "List"), "apiVersion": .string(resource.groupVersion),
                "metadata": ["resourceVersion": .string(String(version))], "items": .array(items),
            ])
        case (.GET, let name?):
            let object = try cluster.get(resource, namespace: namespace, name: name)
            if wantsTable(request) {
                return .json(status: 200, table([object], resourceVersion: nil, include: request.query["includeObject"] ?? "Metadata"))
            }
            return .json(status: 200, object)
        case (.POST, nil):
            let object = try request.json()
            if isBinding {
                let name = object[path: "metadata.name"]?.string ?? ""
                try authorization.requireNoEscalation(binding: object, resource: resource, namespace: namespace, name: name)
            }
            if dryRun { return .json(status: 201, object) }
            return .json(status: 201, try cluster.create(resource, namespace: namespace ?? object[path: "metadata.namespace"]?.string.flatMap { resource.namespaced ? $0 : nil }, object: object))
        case (.PUT, let name?):
            let object = try request.json()
            if isBinding { try authorization.requireNoEscalation(binding: object, resource: resource, namespace: namespace, name: name) }
            if dryRun { return .json(status: 200, object) }
            return .json(status: 200, try cluster.update(resource, namespace: namespace, name: name, object: object))
        case (.PATCH, let name?):
            let patch = try request.json()
            let type = (request.headers.first(name: "content-type") ?? "").split(separator: ";").first.map(String.init) ?? ""
            let (object, created) = try cluster.patch(resource, namespace: namespace, name: name) { existing in
                let patched: JSON
                switch type {
                case "application/apply-patch+yaml", "application/apply-patch+cbor":
                    // An apply that creates is a create too: the API server asks RBAC.
                    if existing == nil {
                        try authorization.require(AuthorizationCheck(
                            verb: "create", group: resource.group, resource: resource.name, namespace: namespace, name: name
                        ))
                    }
                    patched = Patch.strategicMerge(existing ?? .object([:]), patch)
                case "application/merge-patch+json":
                    guard let existing else { throw APIError.notFound(resource, name) }
                    patched = Patch.merge(existing, patch)
                case "application/strategic-merge-patch+json":
                    guard let existing else { throw APIError.notFound(resource, name) }
                    patched = Patch.strategicMerge(existing, patch)
                case "application/json-patch+json":
                    guard let existing else { throw APIError.notFound(resource, name) }
                    do {
                        patched = try Patch.json(existing, patch)
                    } catch {
                        throw APIError(code: 422, reason: "Invalid", message: "\(error)")
                    }
                default:
                    throw APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format: \(type)")
                }
                if isBinding { try authorization.requireNoEscalation(binding: patched, resource: resource, namespace: namespace, name: name) }
                return patched
            }
            return .json(status: created ? 201 : 200, object)
        case (.DELETE, let name?):
            let options = (try? request.json()) ?? [:]
            let policy = options["propagationPolicy"]?.string ?? request.query["propagationPolicy"]
            if dryRun { return .json(status: 200, try cluster.get(resource, namespace: namespace, name: name)) }
            return .json(status: 200, try cluster.delete(resource, namespace: namespace, name: name, orphan: policy == "Orphan"))
        case (.DELETE, nil):
            let (items, _) = cluster.list(resource, namespace: namespace, labels: LabelSelector(request.query["labelSelector"]), fields: FieldSelector(request.query["fieldSelector"]))
            for item in items {
                _ = try? cluster.delete(resource, namespace: item[path: "metadata.namespace"]?.string, name: item[path: "metadata.name"]?.string ?? "")
            }
            return .json(status: 200, ["kind": "Status", "apiVersion": "v1", "status": "Success"])
        default:
            throw APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
    }
}
