import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask for a new store; with --wait, follow it until it is ready.",
        discussion: """
            The daemon answers at once with the store in status queued and provisions it in \
            the background. Without --wait the new store is printed. With --wait one line is \
            printed per status change, each with the time it happened: the first names the \
            store and its id ("my-shop (st_…): queued"), the next ones say how long after it \
            they came ("provisioning (+0.1s)", "ready at <url> (+4.2s)" or "failed: <reason> \
            (+9.0s)"), and while provisioning each step as it begins, with the time the \
            attempt has run against the daemon's --provision-deadline ("provisioning, step 3 \
            of 4: installing the Helm release (+1.0s; 0.8s of the 10m 0s deadline)"); storectl exits 0 when the store is ready and 1 when it failed, is \
            deleted meanwhile, or is not ready within --wait-timeout. With --json the first \
            line is the CreateStoreResponse and every later line holds the store after a \
            change under "store".
            """
    )

    @Argument(help: ArgumentHelp(
        "The store's name: a DNS-1123 label (lower-case letters, digits and '-', starting with a letter, ending with a letter or digit, at most 40 characters).",
        valueName: "name"
    ))
    var name: String

    @Option(help: ArgumentHelp("The store engine.", valueName: "engine"))
    var engine = "woocommerce"

    @Option(help: ArgumentHelp(
        "Send this key so that repeating the same create (after a timeout, say) returns the store the first one made instead of a second store.",
        valueName: "key"
    ))
    var idempotencyKey: String?

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("NAME must not be empty") }
        guard !engine.isEmpty else { throw ValidationError("--engine must not be empty") }
        if let idempotencyKey, idempotencyKey.isEmpty { throw ValidationError("--idempotency-key must not be empty") }
    }

    func run() async throws {
        try await runReportingErrors {
            var request = Storeplatform_V1_CreateStoreRequest()
            request.name = name
            request.engine = engine
            try await connection.call(
                StorePlatformMethod.StoreService.createStore, request,
                metadata: idempotencyKey.map { ["idempotency-key": $0] } ?? [:]
            ) { response, client in
                try await waiting.report(response, store: response.store, goal: .ready, client: client, connection: connection)
            }
        }
    }
}
