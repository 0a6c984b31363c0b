import Foundation
import StorePlatformProto

extension Storeplatform_V1_Store {
    /// The columns of ``listRow(now:)``.
    static let listHeader = ["ID", "NAME", "ENGINE", "STATUS", "OWNER", "URL", "AGE", "REASON"]

    /// One row of `storectl list`; REASON is the failure's one-line summary
    /// (`storectl get` shows the whole reason).
    func listRow(now: Date) -> [String] {
        [
            id, name, engine, status.name, ownerText, url.isEmpty ? "-" : url, formatAge(sinceMilliseconds: createdAtMs, now: now),
            errorSummary.isEmpty ? "-" : errorSummary,
        ]
    }

    /// Every field, one "field  value" row each, for `get` and for the answer
    /// of create, delete and retry. The error row is there only when there is one.
    var detailRows: [[String]] {
        var rows = [
            ["id", id],
            ["name", name],
            ["engine", engine],
            ["version", version.isEmpty ? "-" : version],
            ["revision", revision == 0 ? "-" : String(revision)],
            ["status", status.name],
            ["owner", ownerText],
            ["url", url.isEmpty ? "-" : url],
            ["namespace", namespace.isEmpty ? "-" : namespace],
            ["release", release.isEmpty ? "-" : release],
            ["attempts", String(attempts)],
            ["created", formatTimestamp(milliseconds: createdAtMs)],
            ["updated", formatTimestamp(milliseconds: updatedAtMs)],
            ["ready at", formatTimestamp(milliseconds: readyAtMs)],
            ["deleted at", formatTimestamp(milliseconds: deletedAtMs)],
            ["provisioned in", formatDuration(milliseconds: Double(provisioningDurationMs))],
        ]
        if !errorMessage.isEmpty {
            rows.append(["failure", errorSummary])
            rows.append(["error", errorMessage])
        }
        return rows
    }

    /// The line --wait prints for a status change: "ready at http://…",
    /// "failed: <error_message>", otherwise the status name.
    var statusLine: String {
        switch status {
        case .ready where !url.isEmpty: "ready at \(url)"
        case .failed where !errorMessage.isEmpty: "failed: \(errorMessage)"
        default: status.name
        }
    }

    /// Who created the store; "-" for stores created before owners were recorded.
    var ownerText: String { owner.isEmpty ? "-" : owner }

    /// "shop-1 (st_…)" for messages; the id alone when the name is empty.
    var label: String { name.isEmpty ? id : "\(name) (\(id))" }
}
