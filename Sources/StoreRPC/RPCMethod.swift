import SwiftProtobuf

/// A unary method: its full wire name ("/package.Service/Method") with its request
/// and response types, so that a router and a client that disagree on a type do not
/// compile. The platform's are generated from proto/ (StorePlatformMethod, in
/// Sources/StorePlatformProto/methods.pb.swift).
public struct RPCMethod<Request: Message, Response: Message>: Sendable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { name }
}

/// A server-streaming method: one request, a stream of responses.
public struct RPCStreamMethod<Request: Message, Response: Message>: Sendable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { name }
}
