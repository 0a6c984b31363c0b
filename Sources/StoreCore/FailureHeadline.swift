import Foundation

/// A one-line summary of a store's failure reason, for lists and cards: the
/// reason itself is the driver's whole text (helm's output, pod states and
/// events, a timeout with what was still not ready), often hundreds of characters.
///
/// Known shapes get their gist ("CrashLoopBackOff: wordpress, exit 1", "helm install
/// failed: timed out waiting for the condition", "not ready after 600 s:
/// deployment/shop-wordpress (0/1 ready), …"); anything else its first clause.
/// Never longer than ``maxCharacters``; empty for an empty reason.
public enum FailureHeadline {
    /// The longest headline, in Unicode code points (what the HTTP API's schema
    /// counts, openapi.yaml's `maxLength`); longer ones end in "…".
    public static let maxCharacters = 100

    public static func of(_ reason: String) -> String {
        let firstLine = reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let text = firstLine.trimmingCharacters(in: .whitespaces)
        return clipped(podFailure(text) ?? timeout(text) ?? commandFailure(text) ?? firstClause(text))
    }

    /// "pods failing: CrashLoopBackOff: pod p: container wordpress is in
    /// CrashLoopBackOff (restarted 3 times, last exit code 1); events: …"
    /// → "CrashLoopBackOff: wordpress, exit 1".
    private static func podFailure(_ text: String) -> String? {
        guard let rest = text.dropPrefix("pods failing: ") else { return nil }
        let reason = rest.prefix { $0 != ":" }
        var headline = String(reason)
        if let container = rest.range(of: "container ").map({ rest[$0.upperBound...].prefix { $0 != " " } }), !container.isEmpty {
            headline += ": \(container)"
        }
        if let exit = rest.range(of: "last exit code ").map({ rest[$0.upperBound...].prefix { $0 == "-" || $0.isNumber } }), !exit.isEmpty {
            headline += ", exit \(exit)"
        }
        return headline
    }

    /// "timed out after 600 s waiting for readiness (deadline 600 s); still not
    /// ready: a, b" → "not ready after 600 s: a, b".
    private static func timeout(_ text: String) -> String? {
        guard let rest = text.dropPrefix("timed out after "), let seconds = rest.range(of: " waiting for readiness") else { return nil }
        let elapsed = rest[..<seconds.lowerBound]
        let waiting = text.range(of: "still not ready: ").map { ": " + text[$0.upperBound...] } ?? ""
        return "not ready after \(elapsed)\(waiting)"
    }

    /// "helm install shop failed: Error: INSTALLATION FAILED: timed out waiting for
    /// the condition" → "helm install failed: timed out waiting for the condition".
    private static func commandFailure(_ text: String) -> String? {
        guard let failed = text.range(of: " failed: ") else { return nil }
        let command = text[..<failed.lowerBound].split(separator: " ")
        guard let tool = command.first, ["helm", "kubectl"].contains(tool), command.count >= 2 else { return nil }
        var output = Substring(text[failed.upperBound...])
        for noise in ["Error: ", "INSTALLATION FAILED: ", "UPGRADE FAILED: ", "error: "] {
            if output.hasPrefix(noise) { output = output.dropFirst(noise.count) }
        }
        return "\(tool) \(command[1]) failed: \(firstClause(String(output)))"
    }

    /// Up to the first "; " (the rest is detail).
    private static func firstClause(_ text: String) -> String {
        text.range(of: "; ").map { String(text[..<$0.lowerBound]) } ?? text
    }

    private static func clipped(_ text: String) -> String {
        guard text.unicodeScalars.count > maxCharacters else { return text }
        let kept = String(String.UnicodeScalarView(text.unicodeScalars.prefix(maxCharacters - 1)))
        return kept.trimmingCharacters(in: .whitespaces) + "…"
    }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
