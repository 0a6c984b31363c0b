import ControlPlane
import HTTPTypes
import Hummingbird
import NIOCore
import StorePlatformProto
import StoreCore
import SwiftProtobuf

/// The /api handlers: each parses HTTP into the request message, calls the
/// ControlPlane method the RPC server calls, and answers its response message as
/// proto3 JSON with every field present and lower-case status names (``APIJSON``).
extension GatewayResponder {
    /// 200 and the pre-encoded answer while the database answers; 503 with the
    /// answer saying why (status NOT_SERVING, `databaseProblem`) while it does not,
    /// so a readiness probe takes the daemon out of rotation until it is back.
    package func healthResponse() throws -> Response {
        guard controlPlane.databaseAvailability.isAvailable else {
            return try json(controlPlane.health(), status: .serviceUnavailable)
        }
        return Response(status: .ok, headers: Self.jsonHeaders, body: .init(byteBuffer: health.body()))
    }

    func createStore(_ request: Request, _ call: CallContext) async throws -> Response {
        let body = try await readBody(request)
        let message: Storeplatform_V1_CreateStoreRequest = try decode(body, what: #"{"name": "...", "engine": "woocommerce"}"#)
        return try json(await controlPlane.createStore(message, call).store, status: .accepted)
    }

    package func listStores(_ request: Request, _ call: CallContext) async throws -> Response {
        let query = request.uri.queryParameters
        var message = Storeplatform_V1_ListStoresRequest()
        for value in query[values: "status"] {
            for name in value.split(separator: ",") where !name.isEmpty {
                message.statuses.append(try StoreStatus(filterName: name).proto)
            }
        }
        message.pageSize = try number(query["page_size"], name: "page_size")
        message.pageToken = query["page_token"].map(String.init) ?? ""
        message.nameContains = query["name_contains"].map(String.init) ?? ""
        let body = try await controlPlane.listStores(message, call, cache: storesPages) { page in
            ByteBuffer(bytes: try APIJSON.encode(page))
        }
        return Response(status: .ok, headers: Self.jsonHeaders, body: .init(byteBuffer: body))
    }

    /// `GET /api/stores/{id or name}`: an id starts with `st_` (the platform
    /// chooses them so); anything else is the name of a live store, as GetStore's
    /// `name` (a deleted store is found by its id only; ``StoreReference``).
    package func getStore(_ reference: String, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_GetStoreRequest()
        (message.id, message.name) = StoreReference(reference).idAndName
        return try json(await controlPlane.getStore(message, call).store)
    }

    func deleteStore(_ id: String, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_DeleteStoreRequest()
        message.id = id
        return try json(await controlPlane.deleteStore(message, call).store, status: .accepted)
    }

    func retryStore(_ id: String, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_RetryStoreRequest()
        message.id = id
        return try json(await controlPlane.retryStore(message, call).store, status: .accepted)
    }

    func listAudit(_ request: Request, _ call: CallContext) async throws -> Response {
        let query = request.uri.queryParameters
        var message = Storeplatform_V1_ListAuditRequest()
        message.limit = try number(query["limit"], name: "limit")
        message.pageToken = query["page_token"].map(String.init) ?? ""
        message.storeID = query["store_id"].map(String.init) ?? ""
        return try json(await controlPlane.listAudit(message, call))
    }

    func events(_ request: Request, context: GatewayContext, _ call: CallContext) async throws -> Response {
        // Checked before subscribing: streams opened in the same instant may pass it
        // together, so the cap can be overshot by that many, never by more.
        if streams.count >= configuration.maxEventStreams {
            throw PlatformError(.unavailable, "too many event streams are open (limit \(configuration.maxEventStreams)); try again later")
        }
        let message = try watchRequest(request)
        let watch = try await controlPlane.watchStores(message, call)
        _ = context.channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: EventStreams.sendBufferBytes)
        return Response(status: .ok, headers: Self.eventStreamHeaders, body: streams.body(watch, keepAlive: configuration.keepAliveInterval))
    }

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    /// HEAD /api/events: the checks and headers of the stream, without
    /// subscribing to anything.
    func eventStreamHead(_ request: Request, _ call: CallContext) async throws -> Response {
        _ = try await controlPlane.checkWatch(watchRequest(request), call)
        return Response(status: .ok, headers: Self.eventStreamHeaders, body: .init { _ in })
    }

    /// The watch an event stream asks for: `store_id`, and where to resume. A
    /// reconnecting EventSource names the last event it got in `Last-Event-ID`; a
    /// page that manages its own reconnection (it cannot set that header) names it
    /// in the `after` query parameter. The header wins when both are given: an
    /// EventSource opened with `?after=N` sends the newer id in the header when it
    /// reconnects by itself to the same URL. Id 0 is a one-store watch's "current"
    /// frame, not a transition: nothing to replay then.
    private func watchRequest(_ request: Request) throws -> Storeplatform_V1_WatchStoresRequest {
        let query = request.uri.queryParameters
        var message = Storeplatform_V1_WatchStoresRequest()
        message.storeID = query["store_id"].map(String.init) ?? ""
        if let after = query["after"] {
            guard let id = Int64(after), id >= 0 else {
                throw GatewayError.invalidArgument(
                    "after \"\(after)\" is not an event id; give the id of the last event received (a whole number, 0 or more), or leave after out to watch from now on"
                )
            }
            message.afterAuditID = id
        }
        if let text = request.headers[values: Self.lastEventID].first, let lastID = Int64(text), lastID > 0 {
            message.afterAuditID = lastID
        }
        if let progress = query["progress"] {
            guard let include = ["1": true, "true": true, "0": false, "false": false][String(progress)] else {
                throw GatewayError.invalidArgument(
                    "progress \"\(progress)\" is not a yes or no; give progress=1 for the provisioning steps too, or leave it out for transitions only"
                )
            }
            message.includeProgress = include
        }
        return message
    }

    package func prometheus() async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = MediaTypes.prometheus
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try await metrics.scrape(controlPlane))))
    }

    // MARK: Helpers

    static let jsonHeaders: HTTPFields = [.contentType: MediaTypes.json]
    static let eventStreamHeaders: HTTPFields = [.contentType: MediaTypes.eventStream, .cacheControl: "no-cache"]

    package func json(_ message: some SwiftProtobuf.Message, status: HTTPResponse.Status = .ok) throws -> Response {
        let bytes = try APIJSON.encode(message)
        return Response(status: status, headers: Self.jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The whole body, refused with 413 past the configured limit (checked against
    /// Content-Length first, so an honest oversized upload is not even read).
    func readBody(_ request: Request) async throws -> ByteBuffer {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw GatewayError.payloadTooLarge(limit: limit)
        }
        var request = request
        return try await request.collectBody(upTo: limit)
    }

    /// Decodes proto3 JSON strictly: unknown fields are errors, so a typo in a
    /// field name is reported rather than silently ignored, and so is a key given
    /// twice (SwiftProtobuf would keep the last one). Enum values may be spelled as
    /// the API writes them (``APIShape/restoringEnumNames(_:of:)``).
    func decode<M: SwiftProtobuf.Message>(_ body: ByteBuffer, what example: String) throws -> M {
        guard body.readableBytes > 0 else {
            throw GatewayError.invalidJSON("the request body is empty; send a JSON object such as \(example)")
        }
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        let bytes = Array(body.readableBytesView)
        do {
            let message = try M(jsonUTF8Bytes: APIShape.restoringEnumNames(bytes, of: M.self), options: options)
            if let key = DuplicateJSONKeys.first(in: bytes) {
                throw GatewayError.invalidJSON(
                    "the request body is not valid JSON for this call (the key \"\(key)\" appears twice in one object); send each key once, as in \(example)"
                )
            }
            return message
        } catch let error as GatewayError {
            throw error
        } catch let error as JSONDecodingError {
            throw GatewayError.invalidJSON("the request body is not valid JSON for this call (\(Self.describe(error))); send a JSON object such as \(example)")
        } catch {
            throw GatewayError.invalidJSON("the request body is not valid JSON for this call (\(error)); send a JSON object such as \(example)")
        }
    }

    static func describe(_ error: JSONDecodingError) -> String {
        switch error {
        case .unknownField(let name): "unknown field \"\(name)\""
        case .failure: "the JSON is malformed: it must be one object, {...}, with \"key\": value pairs"
        case .truncated: "the JSON ends too early"
        case .malformedString: "a string is malformed"
        case .malformedBool: "a boolean is malformed"
        case .invalidUTF8: "the body is not UTF-8"
        case .schemaMismatch: "a value has the wrong type"
        case .illegalNull: "a value is null where it may not be"
        case .malformedNumber, .numberRange: "a number is malformed or out of range"
        case .unrecognizedEnumValue: "an enum value is not recognised"
        case .leadingZero: "a number has a leading zero"
        case .missingFieldNames: "an object key is missing"
        case .trailingGarbage: "there is text after the JSON value"
        default: "\(error)"
        }
    }

    /// A non-negative integer query parameter; absent means 0 (the default).
    func number(_ value: Substring?, name: String) throws -> UInt32 {
        guard let value, !value.isEmpty else { return 0 }
        guard let number = UInt32(value) else {
            throw GatewayError.invalidArgument("\(name) \"\(value)\" is not a whole number from 0 to 4294967295")
        }
        return number
    }
}
