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
    }

    struct Namespace: Decodable {
        struct Status: Decodable { var phase: String? }
        var metadata: ObjectMeta
        var status: Status?
    }

    /// A Deployment, StatefulSet or Pod from one mixed `kubectl get` list.
    struct Workload: Decodable {
        struct Spec: Decodable { var replicas: Int? }
        struct Status: Decodable {
            var readyReplicas: Int?
            var containerStatuses: [ContainerStatus]?
            var initContainerStatuses: [ContainerStatus]?
        }
        var kind: String
        var metadata: ObjectMeta
        var spec: Spec?
        var status: Status?
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

    /// `helm status -o json`: the release, of which only the state matters here.
    struct HelmRelease: Decodable {
        struct Info: Decodable { var status: String? }
        var name: String?
        var info: Info?
    }

    /// One row of `helm list -o json`.
    struct HelmListEntry: Decodable {
        var name: String
        var namespace: String
        var status: String?
    }

    /// RFC 3339 times, with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
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

    struct Object: Encodable {
        var apiVersion = "v1"
        var kind: String
        var metadata: Metadata
        var type: String?
        var stringData: [String: String]?
    }

    static func namespace(_ name: String, labels: [String: String]) -> Object {
        Object(kind: "Namespace", metadata: Metadata(name: name, labels: labels))
    }

    static func secret(_ name: String, namespace: String, labels: [String: String], values: [String: String]) -> Object {
        Object(kind: "Secret", metadata: Metadata(name: name, namespace: namespace, labels: labels), type: "Opaque", stringData: values)
    }

    /// Compact JSON with sorted keys: stable, so it is easy to read back in tests.
    static func json(_ object: Object) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }
}
