import Foundation

/// The parts of `kubectl` and `helm` JSON output that the driver reads. Every
/// field is optional where the tools may leave it out, and unknown fields are
/// ignored, so newer tool versions keep parsing.
enum KubernetesJSON {
    struct List<Item: Decodable>: Decodable {
        var items: [Item]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // `kubectl get` prints `"items": []` for an empty list; tolerate null too.
            items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
        }

        private enum CodingKeys: String, CodingKey { case items }
    }

    struct ObjectMeta: Decodable {
        var name: String
        var namespace: String?
        var labels: [String: String]?
        var creationTimestamp: String?
        var deletionTimestamp: String?
        var ownerReferences: [OwnerReference]?
    }

    struct OwnerReference: Decodable {
        var kind: String?
        var name: String?
    }

    struct Condition: Decodable {
        var type: String?
        var status: String?
        var reason: String?
        var message: String?
    }

    struct Namespace: Decodable {
        struct Status: Decodable {
            var phase: String?
            var conditions: [Condition]?
        }
        var metadata: ObjectMeta
        var status: Status?

        var isTerminating: Bool { status?.phase == "Terminating" || metadata.deletionTimestamp != nil }
    }

    /// A Pod (or, from a mixed `kubectl get` list, any object: only kind and metadata
    /// are then read).
    struct Pod: Decodable {
        struct Status: Decodable {
            var phase: String?
            var conditions: [Condition]?
            var containerStatuses: [ContainerStatus]?
            var initContainerStatuses: [ContainerStatus]?
        }
        var kind: String?
        var metadata: ObjectMeta
        var status: Status?

        var isReady: Bool {
            status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } == true
        }

        /// Made before `time` (false without one). The API server records creation to
        /// the second: a pod of the same second as `time` counts as made after it.
        func predates(_ time: Date?) -> Bool {
            guard let time, let created = metadata.creationTimestamp.flatMap(KubernetesJSON.date) else { return false }
            return created < time.addingTimeInterval(-1)
        }
    }

    struct ContainerStatus: Decodable {
        struct State: Decodable {
            struct Waiting: Decodable { var reason: String?; var message: String? }
            struct Terminated: Decodable { var exitCode: Int?; var reason: String? }
            var waiting: Waiting?
            var terminated: Terminated?
        }
        var name: String
        var restartCount: Int?
        var state: State?
        var lastState: State?
    }

    /// A core/v1 Event, as `kubectl get events -o json` prints it.
    struct Event: Decodable {
        struct ObjectReference: Decodable { var kind: String?; var name: String? }
        struct Series: Decodable { var lastObservedTime: String? }
        var type: String?
        var reason: String?
        var message: String?
        var involvedObject: ObjectReference?
        var lastTimestamp: String?
        var eventTime: String?
        var firstTimestamp: String?
        var series: Series?
        var metadata: ObjectMeta?

        /// When it last happened: the newest of the times the API server may set.
        var time: Date? {
            [series?.lastObservedTime, lastTimestamp, eventTime, firstTimestamp, metadata?.creationTimestamp]
                .compactMap { $0.flatMap(KubernetesJSON.date) }
                .max()
        }
    }

    /// One entry of `helm history -o json`.
    struct HelmRevision: Decodable {
        var revision: Int
        var status: String?
    }

    /// `helm status -o json`: the release, of which only the state matters here.
    struct HelmRelease: Decodable {
        struct Info: Decodable {
            var status: String?
            /// When the release last changed: for a pending one, when that operation began.
            var last_deployed: String?
        }
        var name: String?
        var info: Info?
    }

    /// RFC 3339 times, with or without fractional seconds (Go prints up to nine digits,
    /// which are cut to what Foundation reads).
    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        var trimmed = text
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            trimmed = String(text[..<dot]) + "." + String(text[text.index(after: dot)..<zone].prefix(3)) + String(text[zone...])
        }
        return try? Date(trimmed, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// What the driver writes: manifests passed to `kubectl` on standard input.
enum KubernetesManifest {
    struct Metadata: Encodable {
        var name: String
        var namespace: String?
        var labels: [String: String]
    }

    struct Reference: Encodable {
        var apiGroup: String?
        var kind: String
        var name: String
        var namespace: String?
    }

    struct Object: Encodable {
        var apiVersion = "v1"
        var kind: String
        var metadata: Metadata
        var type: String?
        var stringData: [String: String]?
        var roleRef: Reference?
        var subjects: [Reference]?
    }

    static func namespace(_ name: String, labels: [String: String]) -> Object {
        Object(kind: "Namespace", metadata: Metadata(name: name, labels: labels))
    }

    static func secret(_ name: String, namespace: String, labels: [String: String], values: [String: String]) -> Object {
        Object(kind: "Secret", metadata: Metadata(name: name, namespace: namespace, labels: labels), type: "Opaque", stringData: values)
    }

    static func roleBinding(
        _ name: String, namespace: String, clusterRole: String, serviceAccount: String, serviceAccountNamespace: String, labels: [String: String]
    ) -> Object {
        Object(
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: Metadata(name: name, namespace: namespace, labels: labels),
            roleRef: Reference(apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole),
            subjects: [Reference(kind: "ServiceAccount", name: serviceAccount, namespace: serviceAccountNamespace)]
        )
    }

    /// Compact JSON with sorted keys: stable, so it is easy to read back in tests.
    static func json(_ object: Object) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }
}
