import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The files a TLS listener is made of: one set serves the RPC TCP listener and
/// the HTTP gateway alike.
public struct ServerTLSFiles: Sendable, Equatable {
    /// Whether clients present certificates. Needs a client CA file.
    public enum ClientCertificates: String, Sendable, CaseIterable {
        /// No client certificates asked for.
        case none
        /// Asked for; a client without one is served, one with an untrusted or
        /// expired certificate is refused at the handshake.
        case optional
        /// Every client must present a certificate the client CA signed.
        case required
    }

    /// PEM: the server certificate first, then its intermediates.
    public var certificateChain: String
    /// PEM: the server certificate's private key.
    public var privateKey: String
    /// PEM: the CA certificates that sign client certificates.
    public var clientCA: String?
    public var clientCertificates: ClientCertificates

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil, clientCertificates: ClientCertificates = .none) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.clientCertificates = clientCA == nil ? .none : clientCertificates
    }
}

/// One loaded set of TLS files: the immutable context new connections use, and
/// what it holds, for the log.
public struct ServerTLSMaterial: Sendable {
    public let context: NIOSSLContext
    /// "CN=localhost serial 1000 valid until 2027-11-30T18:00:00Z; client certificates required (CA CN=Test CA)".
    public let summary: String

    /// Reads and checks the files: the chain and key parse, the key belongs to
    /// the first certificate, the client CA file holds at least one certificate.
    /// Reads files: call it off the event loops.
    public static func load(_ files: ServerTLSFiles) throws -> ServerTLSMaterial {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw ServerTLSError(
                "cannot read the TLS certificate chain \(files.certificateChain): \(Self.reason(error)); give a PEM file with the server certificate first"
            )
        }
        guard let leaf = chain.first else {
            throw ServerTLSError("the TLS certificate file \(files.certificateChain) holds no PEM certificate; give the server certificate first")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw ServerTLSError("cannot read the TLS private key \(files.privateKey): \(Self.reason(error)); give the server certificate's key as an unencrypted PEM file")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        var clients = "no client certificates"
        if let clientCA = files.clientCA, files.clientCertificates != .none {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(clientCA)
            } catch {
                throw ServerTLSError("cannot read the client CA file \(clientCA): \(Self.reason(error)); give a PEM file of the CA certificates that sign client certificates")
            }
            guard !roots.isEmpty else {
                throw ServerTLSError("the client CA file \(clientCA) holds no PEM certificate")
            }
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = files.clientCertificates == .required ? .noHostnameVerification : .optionalVerification
            clients = "client certificates \(files.clientCertificates.rawValue) (CA \(roots.map(\.rfc4514Subject).joined(separator: "; ")))"
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerTLSError(
                "the TLS key \(files.privateKey) does not fit the certificate \(files.certificateChain) (\(Self.reason(error))); give the key the certificate was made for"
            )
        }
        return ServerTLSMaterial(context: context, summary: "\(leaf.summary); \(clients)")
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? NIOSSLError, case .failedToLoadCertificate = error { return "not a readable PEM file" }
        if let error = error as? NIOSSLError, case .failedToLoadPrivateKey = error { return "not a readable PEM key" }
        if let error = error as? IOError { return error.description }
        return "\(error)"
    }
}

/// The TLS material of the TCP listeners, replaced as a whole by ``reload()``:
/// each connection takes the current context when it is accepted, so a reload
/// changes what new connections see and leaves open ones untouched.
public final class ServerTLS: Sendable {
    public let files: ServerTLSFiles
    private let material: Mutex<ServerTLSMaterial>

    /// Loads the files now; throws ``ServerTLSError`` saying what is wrong.
    public init(files: ServerTLSFiles) throws {
        self.files = files
        self.material = Mutex(try ServerTLSMaterial.load(files))
    }

    /// The context for a connection accepted now.
    public var context: NIOSSLContext { material.withLock { $0.context } }

    /// What the current material holds.
    public var summary: String { material.withLock { $0.summary } }

    /// Reads the files again (on NIO's thread pool). On success new connections
    /// use the new material and the result says what was served before and now;
    /// on failure the previous material stays and the error says why.
    @discardableResult
    public func reload() async throws -> (before: String, after: String) {
        let files = files
        let loaded = try await NIOThreadPool.singleton.runIfActive { try ServerTLSMaterial.load(files) }
        return material.withLock { material in
            let before = material.summary
            material = loaded
            return (before, loaded.summary)
        }
    }
}

public struct ServerTLSError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension NIOSSLCertificate {
    /// The subject as RFC 4514 writes it, most specific first: "CN=billing,O=Example".
    /// Attributes without a short name here are left out.
    public var rfc4514Subject: String {
        subjectName.reversed().compactMap { name -> String? in
            guard let key = Self.shortNames[name.type] else { return nil }
            return "\(key)=\(Self.escape(name.value))"
        }.joined(separator: ",")
    }

    /// "CN=localhost serial 1000 valid until 2027-11-30T18:00:00Z".
    var summary: String {
        let serial = serialNumber.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
        let until = Date(timeIntervalSince1970: TimeInterval(notValidAfter)).formatted(.iso8601)
        return "\(rfc4514Subject) serial \(serial) valid until \(until)"
    }

    private static let shortNames: [SSLCertificateNameType: String] = [
        .commonName: "CN", .organization: "O", .organizationalUnit: "OU", .country: "C",
        .state: "ST", .city: "L", .userId: "UID", .emailAddress: "emailAddress",
    ]

    /// RFC 4514 section 2.4: `"+,;<>\` escaped, and `#` or a space at the start
    /// and a space at the end.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for (offset, character) in value.enumerated() {
            let special = "\"+,;<>\\".contains(character)
                || (offset == 0 && (character == "#" || character == " "))
                || (offset == value.count - 1 && character == " ")
            if special { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
