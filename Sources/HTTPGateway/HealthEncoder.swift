import ControlPlane
import Hummingbird
import StorePlatformProto

/// The health answer, pre-encoded: everything in `HealthResponse` but the uptime
/// is fixed for the daemon's life, so its JSON is encoded once and each request
/// only splices in the current uptime. Same bytes as ``APIJSON/encode(_:)`` gives.
struct HealthEncoder: Sendable {
    private let prefix: ByteBuffer
    private let suffix: ByteBuffer
    private let controlPlane: ControlPlane

    init(controlPlane: ControlPlane) throws {
        self.controlPlane = controlPlane
        var template = controlPlane.health()
        // A value that cannot occur in the other fields marks where the uptime goes.
        let marker = "987654321.125"
        template.uptimeSeconds = Double(marker)!
        let json = try APIJSON.encode(template)
        let text = String(decoding: json, as: UTF8.self)
        guard let range = text.range(of: marker) else {
            throw GatewayConfigurationError("cannot pre-encode the health response")
        }
        prefix = ByteBuffer(string: String(text[..<range.lowerBound]))
        suffix = ByteBuffer(string: String(text[range.upperBound...]))
    }

    func body() -> ByteBuffer {
        let uptime = controlPlane.uptimeSeconds.description
        var buffer = ByteBuffer()
        buffer.reserveCapacity(prefix.readableBytes + uptime.utf8.count + suffix.readableBytes)
        buffer.writeImmutableBuffer(prefix)
        buffer.writeString(uptime)
        buffer.writeImmutableBuffer(suffix)
        return buffer
    }
}
