import ArgumentParser
import StorePlatformProto
import StoreRPC
import SwiftProtobuf

/// `--wait` and `--wait-timeout`, shared by the commands that start an operation on a
/// store (create, delete, retry, upgrade, rollback).
struct WaitOptions: ParsableArguments {
    @Flag(help: "Follow the store until it is ready (create, retry) or deleted (delete), printing one line per status change with its time; exit 1 if it fails.")
    var wait = false

    @Option(help: ArgumentHelp("Seconds --wait follows the store before giving up with exit 1; the operation itself carries on.", valueName: "seconds"))
    var waitTimeout: Double = 900

    func validate() throws {
        guard waitTimeout > 0 else { throw ValidationError("--wait-timeout must be positive") }
    }

    /// Sends `method`'s request, which `makeRequest` builds (it may ask the daemon,
    /// for a store's id by its name), and reports the answer as
    /// ``report(_:store:goal:client:connection:)`` does: `store` is the answer's store,
    /// `goal` where --wait follows it. For the commands that start an operation on one
    /// store (delete, retry, upgrade, rollback).
    func start<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        connection: ConnectionOptions,
        store: @escaping @Sendable (Response) -> Storeplatform_V1_Store,
        goal: @escaping @Sendable (Storeplatform_V1_Store) -> StoreFollower.Goal,
        _ makeRequest: @escaping @Sendable (RPCClient) async throws -> Request
    ) async throws {
        try await runReportingErrors {
            try await connection.withClient { client in
                let response = try await client.unary(method, try await makeRequest(client), timeout: connection.callTimeout)
                let started = store(response)
                try await report(response, store: started, goal: goal(started), client: client, connection: connection)
            }
        }
    }

    /// Reports the answer of a call that started an operation on `store`:
    /// without --wait the answer itself (a table, or `response` as JSON); with
    /// --wait the store's status changes until it reaches `goal`, throwing
    /// ``CLIError/failed(_:)`` when it fails or the wait times out.
    func report(
        _ response: some SwiftProtobuf.Message,
        store: Storeplatform_V1_Store,
        goal: StoreFollower.Goal,
        client: RPCClient,
        connection: ConnectionOptions
    ) async throws {
        guard wait else {
            if connection.json {
                print(try response.jsonString())
            } else {
                printTable(store.detailRows)
            }
            return
        }
        if connection.json {
            try printJSONLine(response)
        } else {
            // The first line names the store by id too: the other commands take either.
            printLine("\(formatTimestamp(milliseconds: store.updatedAtMs))  \(store.label): \(store.statusLine)")
        }
        let follower = StoreFollower(
            client: client,
            goal: goal,
            json: connection.json,
            waitTimeout: waitTimeout
        )
        try await cancellingOnInterrupt { try await follower.follow(store) }
    }
}
