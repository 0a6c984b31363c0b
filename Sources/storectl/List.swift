import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List stores, newest first, one page at a time.",
        discussion: """
            When there are more stores than fit a page, the command for the next page is \
            printed on standard error; --all-pages fetches every page instead. With --json \
            each page is one ListStoresResponse object per line.
            """
    )

    @Option(
        name: .customLong("status"),
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Only stores in these statuses, any case, space- or comma-separated or repeated: \(Storeplatform_V1_StoreStatus.namesList). Default: all, deleted included.",
            valueName: "status"
        )
    )
    var statusNames: [String] = []

    @Option(help: ArgumentHelp("Only stores whose name contains this text (names are lower case).", valueName: "text"))
    var name: String?

    @Option(help: ArgumentHelp("Stores per page, 1-500 (default: the daemon's, 50).", valueName: "n"))
    var pageSize: Int?

    @Option(help: ArgumentHelp("Continue from the page this token names (printed by the previous page).", valueName: "token"))
    var pageToken: String?

    @Flag(help: "Fetch every page instead of printing how to get the next one.")
    var allPages = false

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    /// --status values, each possibly a comma-separated list.
    private var statusWords: [String] {
        statusNames.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func validate() throws {
        for word in statusWords where Storeplatform_V1_StoreStatus(name: word) == nil {
            throw ValidationError("unknown status '\(word)'; valid statuses: \(Storeplatform_V1_StoreStatus.namesList)")
        }
        if let pageSize, !(1...500).contains(pageSize) {
            throw ValidationError("--page-size must be between 1 and 500")
        }
        if let pageToken, pageToken.isEmpty { throw ValidationError("--page-token must not be empty") }
        if let name, name.isEmpty { throw ValidationError("--name must not be empty; leave it out for every name") }
    }

    func run() async throws {
        try await runReportingErrors {
            try await connection.withClient { client in
                var request = Storeplatform_V1_ListStoresRequest()
                request.statuses = statusWords.compactMap { Storeplatform_V1_StoreStatus(name: $0) }
                request.pageSize = UInt32(pageSize ?? 0)
                request.pageToken = pageToken ?? ""
                request.nameContains = name ?? ""
                var stores: [Storeplatform_V1_Store] = []
                var nextPageToken = ""
                while true {
                    let page = try await client.unary(
                        StorePlatformMethod.StoreService.listStores,
                        request,
                        timeout: connection.callTimeout
                    )
                    if connection.json {
                        try printJSONLine(page)
                    } else {
                        stores += page.stores
                    }
                    nextPageToken = page.nextPageToken
                    guard allPages, !nextPageToken.isEmpty else { break }
                    guard nextPageToken != request.pageToken else {
                        throw CLIError.failed("the daemon answered page token \(nextPageToken) with the same token; stopped")
                    }
                    request.pageToken = nextPageToken
                }
                if connection.json { return }
                if stores.isEmpty {
                    var filters: [String] = []
                    if !request.statuses.isEmpty { filters.append("in status \(request.statuses.map(\.name).joined(separator: ", "))") }
                    if let name { filters.append("whose name contains '\(name)'") }
                    print((["no stores"] + filters).joined(separator: " "))
                } else {
                    let now = Date()
                    printTable([Storeplatform_V1_Store.listHeader] + stores.map { $0.listRow(now: now) })
                }
                if !nextPageToken.isEmpty {
                    printNote("more stores: \(nextPageCommand(token: nextPageToken, statuses: request.statuses)) (or --all-pages)")
                }
            }
        }
    }

    /// The command line that prints the next page with the same filters.
    private func nextPageCommand(token: String, statuses: [Storeplatform_V1_StoreStatus]) -> String {
        var words = ["storectl", "list"]
        if !statuses.isEmpty { words += ["--status", statuses.map(\.name).joined(separator: ",")] }
        if let name { words += ["--name", name] }
        if let pageSize { words += ["--page-size", String(pageSize)] }
        words += ["--page-token", token]
        return words.joined(separator: " ")
    }
}
