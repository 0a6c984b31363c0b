/// Who a call comes from, as its connection and its `authorization` metadata say:
/// the identity the router hands to handlers (``RPCContext/identity``), or why the
/// call is refused. Decided on the event loop, for each request.
///
/// - Unix socket: the peer's uid (`uid:N`), from the kernel.
/// - TCP: a verified client certificate (`cert:<subject>`) authenticates by itself;
///   else, when the listener has tokens, a valid bearer token (`token:NAME`) is
///   required; else the peer's address (`tcp:<host>`).
/// - A token sent in clear from another host is refused when ``refusesTokens``, so
///   the caller stops sending it.
struct CallAuthentication: Sendable {
    let tokens: BearerTokens?
    /// True on a plain TCP connection from another host (and clear-text tokens not
    /// allowed).
    let refusesTokens: Bool
    /// True on a TLS connection whose listener asks for client certificates.
    let acceptsClientCertificates: Bool

    func identity(of peer: RPCPeer, authorization: String?) -> Result<String, RPCError> {
        switch peer.transport {
        case .unix:
            return .success("uid:\(peer.uid.map(String.init) ?? "?")")
        case .tcp:
            if refusesTokens, authorization != nil {
                return .failure(.unauthenticated(TokenTransport.refusal))
            }
            if let subject = peer.certificateSubject {
                return .success("cert:\(subject)")
            }
            guard let tokens else {
                return .success("tcp:\(peer.host ?? peer.address ?? "?")")
            }
            guard let name = tokens.match(authorization: authorization) else {
                return .failure(.unauthenticated(
                    "this listener needs metadata \"authorization: Bearer <token>\" with a valid token"
                        + (acceptsClientCertificates ? ", or a client certificate the daemon's client CA signed" : "")
                ))
            }
            return .success("token:\(name)")
        }
    }
}
