import Testing

@testable import StoreRPC

/// Who a call comes from (Sources/StoreRPC/CallAuthentication.swift), decided from
/// the connection and the `authorization` metadata alone.
@Suite struct CallAuthenticationTests {
    let tokens = BearerTokens([BearerTokens.Token(name: "ci", secret: "s3cret")])
    let remote = RPCPeer(transport: .tcp, address: "192.0.2.7:5000", host: "192.0.2.7")

    @Test func theUnixSocketsPeerIsItsUID() throws {
        let authentication = CallAuthentication(tokens: tokens, refusesTokens: false, acceptsClientCertificates: false)
        #expect(try authentication.identity(of: RPCPeer(transport: .unix, uid: 1000), authorization: nil).get() == "uid:1000")
    }

    @Test func aTokenNamesTheCallerAndAMissingOrWrongOneIsRefused() throws {
        let authentication = CallAuthentication(tokens: tokens, refusesTokens: false, acceptsClientCertificates: true)
        #expect(try authentication.identity(of: remote, authorization: "Bearer s3cret").get() == "token:ci")
        for authorization in [nil, "Bearer wrong"] {
            guard case .failure(let refusal) = authentication.identity(of: remote, authorization: authorization) else {
                Issue.record("\(String(describing: authorization)) was admitted")
                continue
            }
            #expect(refusal.status.code == .unauthenticated)
            #expect(refusal.message.hasSuffix(", or a client certificate the daemon's client CA signed"))
        }
    }

    @Test func aVerifiedCertificateNeedsNoToken() throws {
        var peer = remote
        peer.certificateSubject = "CN=billing"
        let authentication = CallAuthentication(tokens: tokens, refusesTokens: false, acceptsClientCertificates: true)
        #expect(try authentication.identity(of: peer, authorization: nil).get() == "cert:CN=billing")
    }

    @Test func aTokenInClearFromAnotherHostIsRefusedEvenIfValid() {
        let authentication = CallAuthentication(tokens: tokens, refusesTokens: true, acceptsClientCertificates: false)
        guard case .failure(let refusal) = authentication.identity(of: remote, authorization: "Bearer s3cret") else {
            Issue.record("a token in clear was admitted")
            return
        }
        #expect(refusal.message == TokenTransport.refusal)
    }

    @Test func withoutTokensATCPCallerIsItsHost() throws {
        let authentication = CallAuthentication(tokens: nil, refusesTokens: false, acceptsClientCertificates: false)
        #expect(try authentication.identity(of: remote, authorization: nil).get() == "tcp:192.0.2.7")
    }
}
