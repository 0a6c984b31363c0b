import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// How an ``RPCClient`` speaks TLS to a daemon's TCP listener.
public struct RPCClientTLS: Sendable {
    /// PEM file of the CA certificates to trust; the system's when nil.
    public var caFile: String?
    /// PEM client certificate and key, for a daemon that asks for one.
    public var certificateFile: String?
    public var keyFile: String?
    /// The name the server certificate must hold; the host connected to when nil
    /// (an IP address is matched against the certificate's IP entries).
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// The client context. Reads the files: call it before connecting.
    func makeContext(verify: Bool = true) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if !verify { configuration.certificateVerification = .none }
        if let caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw RPCError.invalidArgument("cannot read the CA file \(caFile): not a readable PEM certificate file")
            }
        }
        if let certificateFile {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            } catch {
                throw RPCError.invalidArgument("cannot read the client certificate \(certificateFile): not a readable PEM certificate file")
            }
        }
        if let keyFile {
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw RPCError.invalidArgument("cannot read the client key \(keyFile): not a readable unencrypted PEM key")
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RPCError.invalidArgument("the client key \(keyFile ?? "-") does not fit the certificate \(certificateFile ?? "-"): \(error)")
        }
    }

    /// The name sent in SNI and checked against the certificate: never an IP address.
    func hostname(for host: String) -> String? {
        let name = serverName ?? host
        let isAddress = name.contains(":") || name.split(separator: ".").allSatisfy { UInt8($0) != nil }
        return isAddress ? nil : name
    }
}

/// Completes `done` once the TLS handshake is over, or fails it with the
/// handshake's error, so a connect reports a refused handshake itself.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let done: EventLoopPromise<NIOSSLCertificate?>

    init(done: EventLoopPromise<NIOSSLCertificate?>) {
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            done.succeed(try? context.pipeline.syncOperations.nioSSL_peerCertificate())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(RPCError.unavailable("the daemon closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension TLSHandshakeWaiter: Sendable {}

/// Plain words for the TLS failures a client meets, with what to do.
public enum TLSFailure {
    /// What a TLS error means, or nil when `error` is not one.
    public static func explain(_ error: any Error) -> String? {
        let text = "\(error)"
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "the daemon's certificate is not valid for this host name; connect by a name the certificate holds, or give it with --tls-server-name"
        }
        if text.contains("CERTIFICATE_REQUIRED") || (text.contains("HANDSHAKE_FAILURE") && text.contains("ALERT")) {
            return "the daemon wants a client certificate: give one with --tls-cert and --tls-key"
        }
        if text.contains("ALERT_CERTIFICATE_EXPIRED") {
            return "the daemon refused the client certificate: it has expired; get a new one from the daemon's client CA"
        }
        if text.contains("ALERT_UNKNOWN_CA") || text.contains("ALERT_BAD_CERTIFICATE") || text.contains("ALERT_CERTIFICATE_UNKNOWN") {
            return "the daemon refused the client certificate: it is not signed by a CA the daemon trusts; use a certificate from the daemon's client CA"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG") || text.contains("RECORD_TOO_LARGE") {
            return "the daemon did not answer in TLS; drop --tls, or check the port"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the daemon's certificate is not trusted: give its CA with --tls-ca"
        }
        if error is NIOSSLError || error is BoringSSLError {
            return "TLS failed: \(text)"
        }
        return nil
    }

    /// Whether a frame header's 4 bytes are the start of a TLS record (handshake
    /// or alert, version 3.x): what a plain client reads from a TLS port.
    static func looksLikeTLSRecord(_ header: Int) -> Bool {
        let type = (header >> 24) & 0xFF
        return (type == 0x15 || type == 0x16) && (header >> 16) & 0xFF == 0x03
    }

    /// Why a server certificate that failed verification fails, from the
    /// certificate itself: expired, not yet valid, or an unknown issuer.
    static func explainUntrusted(_ certificate: NIOSSLCertificate, caFile: String?) -> String {
        let now = time(nil)
        let format: (time_t) -> String = { Date(timeIntervalSince1970: TimeInterval($0)).formatted(.iso8601) }
        if certificate.notValidAfter < now {
            return "the daemon's certificate (\(certificate.rfc4514Subject)) expired at \(format(certificate.notValidAfter)); the daemon needs a new one"
        }
        if certificate.notValidBefore > now {
            return "the daemon's certificate (\(certificate.rfc4514Subject)) is not valid before \(format(certificate.notValidBefore)); check the clocks"
        }
        let issuer = certificate.issuerName.reversed().map(\.value).joined(separator: ",")
        let trust = caFile.map { "the CA file \($0)" } ?? "the system's CAs"
        return "the daemon's certificate (\(certificate.rfc4514Subject), issued by \(issuer)) is not signed by \(trust); give its CA with --tls-ca"
    }
}
