import Foundation
import Synchronization

/// An API error as the API server returns it: a `Status` object and its HTTP code.
struct APIError: Error {
    var code: Int
    var reason: String
    var message: String
    /// The Status's `details` (name, group, kind), when the API server gives them.
    var details: JSON?

    init(code: Int, reason: String, message: String, details: JSON? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    var status: JSON {
        var status: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(code),
        ]
        if let details { status["details"] = details }
        return status
    }

    static func notFound(_ resource: APIResource, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(resource.qualifiedName) \"\(name)\" not found")
    }
}

/// What a watcher receives: the event type (ADDED, MODIFIED, DELETED, BOOKMARK) and the object.
typealias WatchSink = @Sendable (_ type: String, _ object: JSON) -> Void

/// The double's objects, their resource versions, watchers and the stand-in
/// controllers. Everything changes under one lock; watch events are handed to
/// their sinks (which only enqueue writes) under it, so they arrive in order.
final class ClusterState: Sendable {
    struct Watcher {
        var resource: APIResource
        var namespace: String?
        var labels: LabelSelector
        var fields: FieldSelector
        var sink: WatchSink
    }

    struct Change {
        var resourceVersion: Int
        var resource: APIResource
        var type: String
        var object: JSON
    }

    struct State {
        var objects: [APIResource: [String: JSON]] = [:]
        var resourceVersion = 1
        var history: [Change] = []
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
        var behavior = Behavior()
        var requests: [RecordedRequest] = []
        /// Bearer tokens and the users they stand for.
        var users: [String: UserInfo] = [KubernetesAPIDouble.token: .admin]
        /// Whether requests of users outside system:masters are authorized by RBAC.
        var enforcesRBAC = false
    }

    static let historyLimit = 20_000

    let state = Mutex(State())
    /// Runs the controllers' delayed steps.
    let schedule: @Sendable (Duration, @escaping @Sendable () -> Void) -> Void

    init(schedule: @escaping @Sendable (Duration, @escaping @Sendable () -> Void) -> Void) {
        self.schedule = schedule
    }

    static func key(_ namespace: String?, _ name: String) -> String { "\(namespace ?? "")/\(name)" }

    // MARK: Reads

    func get(_ resource: APIResource, namespace: String?, name: String) throws -> JSON {
        try state.withLock { state in
            guard let object = state.objects[resource]?[Self.key(namespace, name)] else { throw APIError.notFound(resource, name) }
            return object
        }
    }

    func list(_ resource: APIResource, namespace: String?, labels: LabelSelector, fields: FieldSelector) -> (items: [JSON], resourceVersion: Int) {
        state.withLock { state in
            let items = (state.objects[resource] ?? [:]).values.filter { object in
                (namespace == nil || object[path: "metadata.namespace"]?.string == namespace)
                    && labels.matches(object[path: "metadata.labels"]?.stringMap ?? [:]) && fields.matches(object)
            }
            let sorted = items.sorted {
                ($0[path: "metadata.namespace"]?.string ?? "", $0[path: "metadata.name"]?.string ?? "")
                    < ($1[path: "metadata.namespace"]?.string ?? "", $1[path: "metadata.name"]?.string ?? "")
            }
            return (sorted, state.resourceVersion)
        }
    }

    // MARK: Watches

    /// Registers a watcher. With a resource version it first replays the changes after
    /// it; without one (or "0") it first sends every matching object as ADDED. With
    /// `initialEventsEnd` (a watch-list request) a BOOKMARK marks the end of those.
    func watch(
        _ resource: APIResource, namespace: String?, labels: LabelSelector, fields: FieldSelector,
        since resourceVersion: Int?, initialEventsEnd: Bool, sink: @escaping WatchSink
    ) -> Int {
        state.withLock { state in
            let watcher = Watcher(resource: resource, namespace: namespace, labels: labels, fields: fields, sink: sink)
            if let resourceVersion, resourceVersion > 0 {
                for change in state.history where change.resourceVersion > resourceVersion && change.resource == resource
                    && Self.matches(watcher, change.object)
                {
                    sink(change.type, change.object)
                }
            } else {
                let objects = (state.objects[resource] ?? [:]).values.filter { Self.matches(watcher, $0) }
                for object in objects { sink("ADDED", object) }
            }
            if initialEventsEnd {
                sink("BOOKMARK", [
                    "kind": .string(resource.kind), "apiVersion": .string(resource.groupVersion),
                    "metadata": [
                        "resourceVersion": .string(String(state.resourceVersion)),
                        "annotations": ["k8s.io/initial-events-end": "true"],
                    ],
                ])
            }
            state.nextWatcher += 1
            state.watchers[state.nextWatcher] = watcher
            return state.nextWatcher
        }
    }

    func stopWatching(_ id: Int) {
        state.withLock { _ = $0.watchers.removeValue(forKey: id) }
    }

    static func matches(_ watcher: Watcher, _ object: JSON) -> Bool {
        (watcher.namespace == nil || object[path: "metadata.namespace"]?.string == watcher.namespace)
            && watcher.labels.matches(object[path: "metadata.labels"]?.stringMap ?? [:]) && watcher.fields.matches(object)
    }

    // MARK: Writes

    /// Stores a new object: names it, stamps uid, resource version and creation time,
    /// and starts what a controller would start for it.
    func create(_ resource: APIResource, namespace: String?, object: JSON) throws -> JSON {
        try state.withLock { state in
            var object = object
            let name = try Self.name(for: &object, resource: resource)
            if let namespace {
                guard let owner = state.objects[Self.namespaces]?[Self.key(nil, namespace)] else {
                    throw APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found")
                }
                if owner[path: "metadata.deletionTimestamp"] != nil {
                    throw APIError(
                        code: 403, reason: "Forbidden",
                        message: "\(resource.name) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated"
                    )
                }
                if resource.name == "rolebindings", state.behavior.admissionCacheMisses > 0 {
                    state.behavior.admissionCacheMisses -= 1
                    throw APIError(
                        code: 404, reason: "NotFound",
                        message: "rolebindings.rbac.authorization.k8s.io \"\(name)\" is forbidden: ValidatingAdmissionPolicy could not evaluate: namespace \"\(namespace)\" not found"
                    )
                }
            }
            if state.objects[resource]?[Self.key(namespace, name)] != nil {
                throw APIError(code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedName) \"\(name)\" already exists")
            }
            object["apiVersion"] = .string(resource.groupVersion)
            object["kind"] = .string(resource.kind)
            var metadata = object["metadata"]?.object ?? [:]
            metadata["name"] = .string(name)
            if let namespace { metadata["namespace"] = .string(namespace) }
            metadata["uid"] = .string(UUID().uuidString.lowercased())
            metadata["creationTimestamp"] = .string(Self.now())
            metadata["generation"] = 1
            metadata.removeValue(forKey: "resourceVersion")
            object["metadata"] = .object(metadata)
            Self.initialStatus(resource, &object)
            let stored = Self.put(&state, resource, object, type: "ADDED")
            startControllers(&state, resource, stored)
            return stored
        }
    }

    /// Replaces an object (PUT). A resource version that is not the current one is a conflict.
    func update(_ resource: APIResource, namespace: String?, name: String, object: JSON) throws -> JSON {
        try state.withLock { state in
            guard let current = state.objects[resource]?[Self.key(namespace, name)] else { throw APIError.notFound(resource, name) }
            if let version = object[path: "metadata.resourceVersion"]?.string, !version.isEmpty,
                version != current[path: "metadata.resourceVersion"]?.string
            {
                throw APIError(
                    code: 409, reason: "Conflict",
                    message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
                )
            }
            let stored = Self.put(&state, resource, Self.keepingIdentity(object, of: current, resource: resource), type: "MODIFIED")
            workloadChanged(&state, resource, stored)
            return stored
        }
    }

    /// Applies a patch to an existing object; server-side apply (`apply`) creates it
    /// when it is absent. Returns the object and whether it was created.
    func patch(
        _ resource: APIResource, namespace: String?, name: String, transform: (JSON?) throws -> JSON
    ) throws -> (object: JSON, created: Bool) {
        let existing = state.withLock { $0.objects[resource]?[Self.key(namespace, name)] }
        let patched = try transform(existing)
        guard let existing else {
            var object = patched
            object["metadata"] = Patch.merge(object["metadata"] ?? [:], ["name": .string(name)])
            return (try create(resource, namespace: namespace, object: object), true)
        }
        return try state.withLock { state in
            guard state.objects[resource]?[Self.key(namespace, name)] != nil else { throw APIError.notFound(resource, name) }
            var object = Self.keepingIdentity(patched, of: existing, resource: resource)
            if object["spec"] != existing["spec"] {
                object["metadata"]?["generation"] = .int((existing[path: "metadata.generation"]?.int ?? 1) + 1)
            }
            let stored = Self.put(&state, resource, object, type: "MODIFIED")
            workloadChanged(&state, resource, stored)
            return (stored, false)
        }
    }

    /// Deletes an object. Namespaces and claims may linger Terminating (``Behavior``);
    /// dependents (owner references) go too unless `orphan`.
    func delete(_ resource: APIResource, namespace: String?, name: String, orphan: Bool = false) throws -> JSON {
        try state.withLock { state in
            guard let object = state.objects[resource]?[Self.key(namespace, name)] else { throw APIError.notFound(resource, name) }
            return delete(&state, resource, object, orphan: orphan)
        }
    }

    /// Removes the object now, or marks it Terminating and removes it after its linger.
    @discardableResult
    func delete(_ state: inout State, _ resource: APIResource, _ object: JSON, orphan: Bool) -> JSON {
        if object[path: "metadata.deletionTimestamp"] != nil { return object }
        let linger: Duration?? = switch resource.name {
        case "namespaces": .some(state.behavior.namespaceDeletion)
        case "persistentvolumeclaims" where state.behavior.persistentVolumeClaimDeletion > .zero:
            .some(state.behavior.persistentVolumeClaimDeletion)
        default: .none
        }
        guard let linger else {
            remove(&state, resource, object, orphan: orphan)
            return object
        }
        var terminating = object
        terminating["metadata"]?["deletionTimestamp"] = .string(Self.now())
        if resource.name == "namespaces" {
            terminating["status"] = ["phase": "Terminating"]
        }
        let stored = Self.put(&state, resource, terminating, type: "MODIFIED")
        if let linger {
            let namespace = resource.namespaced ? object[path: "metadata.namespace"]?.string : nil
            let name = object[path: "metadata.name"]?.string ?? ""
            schedule(linger) { [self] in
                self.state.withLock { state in
                    guard let current = state.objects[resource]?[Self.key(namespace, name)] else { return }
                    remove(&state, resource, current, orphan: false)
                }
            }
        }
        return stored
    }

    // MARK: Test controls

    func mutate(_ resource: APIResource, namespace: String?, name: String, _ change: (inout JSON) -> Void) throws {
        try state.withLock { state in
            guard var object = state.objects[resource]?[Self.key(namespace, name)] else { throw APIError.notFound(resource, name) }
            change(&object)
            _ = Self.put(&state, resource, object, type: "MODIFIED")
        }
    }

    /// Removes a lingering object now (a finalizer finally removed).
    func finishDeletion(_ resource: APIResource, namespace: String?, name: String) {
        state.withLock { state in
            guard let object = state.objects[resource]?[Self.key(namespace, name)] else { return }
            remove(&state, resource, object, orphan: false)
        }
    }

    // MARK: Storage

    static let namespaces = APIResource.all.first { $0.name == "namespaces" }!
    static let pods = APIResource.all.first { $0.name == "pods" && $0.group.isEmpty }!
    static let events = APIResource.all.first { $0.name == "events" && $0.group.isEmpty }!
    static let claims = APIResource.all.first { $0.name == "persistentvolumeclaims" }!
    static let jobs = APIResource.all.first { $0.name == "jobs" }!

    @discardableResult
    static func put(_ state: inout State, _ resource: APIResource, _ object: JSON, type: String) -> JSON {
        state.resourceVersion += 1
        var object = object
        object["metadata"]?["resourceVersion"] = .string(String(state.resourceVersion))
        let namespace = resource.namespaced ? object[path: "metadata.namespace"]?.string : nil
        let name = object[path: "metadata.name"]?.string ?? ""
        state.objects[resource, default: [:]][key(namespace, name)] = object
        record(&state, resource, type, object)
        return object
    }

    /// Removes the object at once; a namespace takes its contents with it, an owner its
    /// dependents (which may linger in turn).
    func remove(_ state: inout State, _ resource: APIResource, _ object: JSON, orphan: Bool) {
        let namespace = resource.namespaced ? object[path: "metadata.namespace"]?.string : nil
        let name = object[path: "metadata.name"]?.string ?? ""
        guard state.objects[resource]?.removeValue(forKey: Self.key(namespace, name)) != nil else { return }
        state.resourceVersion += 1
        var gone = object
        gone["metadata"]?["resourceVersion"] = .string(String(state.resourceVersion))
        Self.record(&state, resource, "DELETED", gone)
        if resource.name == "namespaces" {
            for (other, objects) in state.objects where other.namespaced {
                for dependent in objects.values where dependent[path: "metadata.namespace"]?.string == name {
                    remove(&state, other, dependent, orphan: true)
                }
            }
            return
        }
        guard !orphan, let uid = object[path: "metadata.uid"]?.string else { return }
        for (other, objects) in state.objects {
            for dependent in objects.values
            where dependent[path: "metadata.ownerReferences"]?.array?.contains(where: { $0["uid"]?.string == uid }) == true {
                delete(&state, other, dependent, orphan: false)
            }
        }
    }

    static func record(_ state: inout State, _ resource: APIResource, _ type: String, _ object: JSON) {
        state.history.append(Change(resourceVersion: state.resourceVersion, resource: resource, type: type, object: object))
        if state.history.count > historyLimit { state.history.removeFirst(state.history.count - historyLimit / 2) }
        for watcher in state.watchers.values where watcher.resource == resource && matches(watcher, object) {
            watcher.sink(type, object)
        }
    }

    private static func keepingIdentity(_ object: JSON, of current: JSON, resource: APIResource) -> JSON {
        var object = object
        object["apiVersion"] = .string(resource.groupVersion)
        object["kind"] = .string(resource.kind)
        var metadata = object["metadata"]?.object ?? [:]
        for key in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "generation"] {
            metadata[key] = current[path: "metadata.\(key)"]
        }
        object["metadata"] = .object(metadata.filter { $0.value != .null })
        if object["status"] == nil, let status = current["status"] { object["status"] = status }
        return object
    }

    private static func name(for object: inout JSON, resource: APIResource) throws -> String {
        if let name = object[path: "metadata.name"]?.string, !name.isEmpty { return name }
        if let prefix = object[path: "metadata.generateName"]?.string {
            return prefix + randomSuffix(5)
        }
        throw APIError(code: 422, reason: "Invalid", message: "\(resource.kind) is invalid: metadata.name: Required value: name or generateName is required")
    }

    static func randomSuffix(_ count: Int) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<count).map { _ in alphabet.randomElement()! })
    }

    static func now() -> String {
        Date().formatted(.iso8601)
    }

    private static func initialStatus(_ resource: APIResource, _ object: inout JSON) {
        switch resource.name {
        case "namespaces":
            object["status"] = ["phase": "Active"]
            let name = object[path: "metadata.name"]?.string ?? ""
            let labels = Patch.merge(object[path: "metadata.labels"] ?? [:], ["kubernetes.io/metadata.name": .string(name)])
            object["metadata"]?["labels"] = labels
        case "persistentvolumeclaims":
            object["status"] = ["phase": "Bound"]
        case "secrets":
            // The API server folds stringData into data, base64-encoded.
            var data = object["data"]?.object ?? [:]
            for (key, value) in object["stringData"]?.object ?? [:] {
                data[key] = .string(Data((value.string ?? "").utf8).base64EncodedString())
            }
            object["stringData"] = nil
            if !data.isEmpty { object["data"] = .object(data) }
        case "deployments", "statefulsets":
            object["status"] = ["replicas": 0, "readyReplicas": 0, "observedGeneration": 1]
        case "jobs":
            object["status"] = ["active": 1, "startTime": .string(now())]
        default:
            break
        }
    }
}
