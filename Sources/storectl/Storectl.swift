import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC
import SwiftProtobuf

@main
struct Storectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storectl",
        abstract: "Administer StorePlatform: talks to storeplatformd over its Unix socket or TCP.",
        discussion: """
            Every subcommand prints a table for people, or with --json the daemon's answer \
            in the proto3 JSON mapping (streams, pages and --wait: one object per line).

            Exit codes: 0 success; 1 the daemon refused or failed the call (the error code \
            and message are printed), or a --wait ended in failed (the reason is printed) or \
            timed out; 2 bad usage found after parsing (an unreadable token file); 3 the \
            daemon could not be reached (not running, wrong --socket/--tcp, the \
            connection dropped, or the TLS handshake failed: the message says why); 64 invalid arguments; 130 interrupted by Ctrl-C during \
            watch or --wait.
            """,
        subcommands: [
            Create.self, List.self, Get.self, Delete.self, Retry.self, Watch.self,
            Versions.self, Upgrade.self, Rollback.self, Revisions.self, Fleet.self,
            Audit.self, Metrics.self, Health.self,
        ],
        groupedSubcommands: [
            CommandGroup(name: "Admin", subcommands: [
                Reconcile.self, Operations.self, Limits.self,
            ])
        ]
    )
}

/// How to reach the daemon; shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The daemon's Unix socket (STOREPLATFORM_SOCKET).")
    var socket: String = DefaultPaths.socket

    @Option(help: "Call over TCP at host:port instead of the Unix socket.")
    var tcp: String?

    @Option(help: "Token file whose first token is sent as the bearer token (TCP); a NAME TOKEN line sends its TOKEN.")
    var tokenFile: String?

    @Flag(help: "Speak TLS on --tcp (STOREPLATFORM_TLS=1); implied by the other --tls options.")
    var tls = ProcessInfo.processInfo.environment["STOREPLATFORM_TLS"] == "1"

    @Option(help: "PEM CA certificates to trust for the daemon's certificate; the system's when unset (STOREPLATFORM_TLS_CA).")
    var tlsCA: String? = ConnectionOptions.env("STOREPLATFORM_TLS_CA")

    @Option(help: "PEM client certificate, for a daemon that asks for one (STOREPLATFORM_TLS_CLIENT_CERT).")
    var tlsCert: String? = ConnectionOptions.env("STOREPLATFORM_TLS_CLIENT_CERT")

    @Option(help: "PEM private key of --tls-cert (STOREPLATFORM_TLS_CLIENT_KEY).")
    var tlsKey: String? = ConnectionOptions.env("STOREPLATFORM_TLS_CLIENT_KEY")

    @Option(help: "Name the daemon's certificate must hold, when it is not the --tcp host (STOREPLATFORM_TLS_SERVER_NAME).")
    var tlsServerName: String? = ConnectionOptions.env("STOREPLATFORM_TLS_SERVER_NAME")

    @Option(help: "Seconds to wait for the answer of each call (--wait has --wait-timeout).")
    var timeout: Double = 30

    @Flag(help: "Print JSON (the proto3 JSON mapping) instead of a table.")
    var json = false

    func validate() throws {
        if let tcp {
            do { _ = try RPCEndpoint.tcp(tcp) } catch { throw ValidationError("--tcp: \(error)") }
        }
        if tokenFile != nil && tcp == nil {
            throw ValidationError("--token-file applies to --tcp; the Unix socket identifies callers by uid")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if tlsOptions != nil && tcp == nil {
            throw ValidationError("--tls and the --tls-* options apply to --tcp; the Unix socket needs no TLS")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: give both or neither")
        }
    }

    private static func env(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// TLS on --tcp: asked for with --tls or by any --tls-* option.
    var tlsOptions: RPCClientTLS? {
        guard tls || tlsCA != nil || tlsCert != nil || tlsKey != nil || tlsServerName != nil else { return nil }
        return RPCClientTLS(caFile: tlsCA, certificateFile: tlsCert, keyFile: tlsKey, serverName: tlsServerName)
    }

    var callTimeout: Duration { .milliseconds(Int64(timeout * 1000)) }

    func connect() async throws -> RPCClient {
        var metadata: [String: String] = [:]
        if let tokenFile {
            // The daemon's own parser: a NAME TOKEN line sends its TOKEN.
            let tokens: BearerTokens
            do {
                tokens = try BearerTokens(contentsOfFile: tokenFile)
            } catch {
                throw CLIError.usage("\(error)")
            }
            metadata["authorization"] = "Bearer \(tokens.tokens[0].secret)"
        }
        let endpoint = try tcp.map { try RPCEndpoint.tcp($0) } ?? .unix(path: socket)
        do {
            return try await RPCClient.connect(to: endpoint, metadata: metadata, tls: tcp == nil ? nil : tlsOptions)
        } catch let error as RPCError where error.code == .unavailable && error.message.hasPrefix("cannot connect to ") {
            // A failed TLS handshake says so itself; this is no connection at all.
            throw CLIError.unreachable(Unreachable(endpoint: endpoint, failure: error.message).message)
        }
    }

    /// Connects, runs `body` and closes the connection, also when `body` throws.
    /// The close is awaited, so a CANCEL that `body` left behind goes out first.
    func withClient<T>(_ body: (RPCClient) async throws -> T) async throws -> T {
        let client = try await connect()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// One unary call on a connection of its own, waiting at most --timeout;
    /// `body` gets the answer while the connection is still open (to follow the
    /// store with --wait).
    func call<Request: Message, Response: Message, Result>(
        _ method: RPCMethod<Request, Response>, _ request: Request, metadata: [String: String] = [:],
        then body: (Response, RPCClient) async throws -> Result
    ) async throws -> Result {
        try await withClient { client in
            try await body(client.unary(method, request, metadata: metadata, timeout: callTimeout), client)
        }
    }

    /// One unary call whose answer is printed: as proto3 JSON with --json,
    /// otherwise by `printHuman`.
    func show<Request: Message, Response: Message>(
        _ method: RPCMethod<Request, Response>, _ request: Request,
        _ printHuman: (Response, RPCClient) throws -> Void
    ) async throws {
        try await call(method, request) { response, client in
            if json { print(try response.jsonString()) } else { try printHuman(response, client) }
        }
    }
}
