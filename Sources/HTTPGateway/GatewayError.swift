import Hummingbird
import StoreCore

/// An error as the gateway answers it: always the body
/// `{"error":{"code":"…","message":"…"}}`, with the status from the one table in
/// ``ErrorCode`` for platform errors and a fixed status for the few HTTP-only
/// conditions (unknown route, wrong method, body too large).
package struct GatewayError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    package init(_ error: PlatformError) {
        self.init(status: .init(code: error.code.httpStatus), code: error.code.rawValue, message: error.message)
        if error.code == .rateLimited {
            // Whole seconds, rounded up, and never 0: "retry now" would just be refused again.
            headers[.retryAfter] = String(max(1, (error.retryAfterMilliseconds + 999) / 1000))
        }
    }

    package static func notFound(path: String) -> GatewayError {
        GatewayError(
            status: .notFound, code: ErrorCode.notFound.rawValue,
            message: "no route for \(path); the API lives under /api (see openapi.yaml)"
        )
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> GatewayError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        var headers = HTTPFields()
        headers[.allow] = allow
        return GatewayError(
            status: .methodNotAllowed, code: "METHOD_NOT_ALLOWED",
            message: "\(method.rawValue) is not allowed on \(path); use \(allow)", headers: headers
        )
    }

    static func payloadTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: .contentTooLarge, code: "PAYLOAD_TOO_LARGE",
            message: "the request body is larger than \(limit) bytes"
        )
    }

    static func headersTooLarge(maxCount: Int, maxBytes: Int) -> GatewayError {
        GatewayError(
            PlatformError(
                .headersTooLarge,
                "the request's headers are over the limit of \(maxCount) fields or \(maxBytes) bytes of names and values; "
                    + "send fewer or shorter headers"
            )
        )
    }

    /// A request head (`part` "head") or body ("body") that did not arrive whole in time.
    static func requestTimeout(part: String, timeout: Duration, flag: String) -> GatewayError {
        GatewayError(
            PlatformError(
                .requestTimeout,
                "the request \(part) did not arrive whole within \(timeout) (the gateway's \(flag)); "
                    + "the connection is closed: send each request whole, without pauses, on a new connection"
            )
        )
    }

    static func missingHost(count: Int) -> GatewayError {
        let what = count == 0 ? "has no Host header" : "has \(count) Host headers"
        return invalidArgument("the request \(what); HTTP/1.1 requires exactly one: send Host: <host>:<port> of the gateway")
    }

    static func invalidJSON(_ message: String) -> GatewayError {
        GatewayError(PlatformError(.invalidJSON, message))
    }

    static func invalidArgument(_ message: String) -> GatewayError {
        GatewayError(PlatformError(.invalidArgument, message))
    }

    package static func internalError(requestID: String) -> GatewayError {
        GatewayError(
            status: .internalServerError, code: ErrorCode.internalError.rawValue,
            message: "internal error; it was logged with request id \(requestID)"
        )
    }

    /// The response: JSON body, the status, and the error's own headers.
    package var response: Response {
        var fields = headers
        fields[.contentType] = MediaTypes.json
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }

    /// `{"error":{"code":"…","message":"…"}}`.
    var body: ByteBuffer {
        var body = ByteBuffer()
        body.writeString(#"{"error":{"code":"#)
        body.writeJSONString(code)
        body.writeString(#","message":"#)
        body.writeJSONString(message)
        body.writeString("}}")
        return body
    }
}

extension ByteBuffer {
    /// Writes `string` as a JSON string literal, quotes included (RFC 8259 escaping).
    mutating func writeJSONString(_ string: String) {
        writeInteger(UInt8(ascii: "\""))
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": writeString("\\\"")
            case "\\": writeString("\\\\")
            case "\n": writeString("\\n")
            case "\r": writeString("\\r")
            case "\t": writeString("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                writeString("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: writeString(String(scalar))
            }
        }
        writeInteger(UInt8(ascii: "\""))
    }
}
