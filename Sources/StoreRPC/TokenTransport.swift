/// Where a bearer token may travel: over TLS, or in clear only from a loopback
/// peer, unless the operator allows clear text (`--allow-plain-tokens`). The one
/// rule for the RPC TCP listener and the HTTP gateway.
public enum TokenTransport {
    /// The refusal a token sent in clear from another host gets.
    public static let refusal =
        "tokens travel only over TLS or loopback: start the daemon with --tls-cert/--tls-key, or --allow-plain-tokens to accept this"

    /// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses.
    public static func isLoopback(_ ip: String) -> Bool {
        let address = ip.lowercased()
        return address.hasPrefix("127.") || address == "::1" || address == "0:0:0:0:0:0:0:1"
            || address.hasPrefix("::ffff:127.")
    }
}
