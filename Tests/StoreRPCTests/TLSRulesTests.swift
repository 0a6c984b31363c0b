import NIOSSL
import Testing
@testable import StoreRPC

@Suite struct TLSRulesTests {
    @Test(arguments: [
        ("127.0.0.1", true), ("127.8.9.10", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("192.0.2.2", false), ("10.0.0.1", false), ("::ffff:192.0.2.2", false), ("fe80::1", false), ("", false),
    ])
    func loopbackPeers(address: String, isLoopback: Bool) {
        #expect(TokenTransport.isLoopback(address) == isLoopback)
    }

    @Test func subjectValuesAreEscapedAsRFC4514Says() {
        #expect(NIOSSLCertificate.escape("billing") == "billing")
        #expect(NIOSSLCertificate.escape("Example, Inc.") == #"Example\, Inc."#)
        #expect(NIOSSLCertificate.escape(#"a+b;c<d>e"f\g"#) == #"a\+b\;c\<d\>e\"f\\g"#)
        #expect(NIOSSLCertificate.escape("#1 ") == ##"\#1\ "##)
        #expect(NIOSSLCertificate.escape(" x") == #"\ x"#)
    }

    @Test func tlsRecordsAreToldFromFrameHeaders() {
        #expect(TLSFailure.looksLikeTLSRecord(0x1503_0100))  // an alert, TLS 1.0 record version
        #expect(TLSFailure.looksLikeTLSRecord(0x1603_0300))  // a handshake
        #expect(!TLSFailure.looksLikeTLSRecord(50))          // a real frame length
        #expect(!TLSFailure.looksLikeTLSRecord(0x1502_0000))
    }

    @Test func aMissingCertificateFileIsNamed() {
        #expect {
            _ = try ServerTLSMaterial.load(ServerTLSFiles(certificateChain: "/nonexistent/cert.pem", privateKey: "/nonexistent/key.pem"))
        } throws: { error in
            "\(error)".hasPrefix("cannot read the TLS certificate chain /nonexistent/cert.pem: ")
                && "\(error)".hasSuffix("; give a PEM file with the server certificate first")
        }
    }
}
