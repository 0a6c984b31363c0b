import Foundation

/// A label selector in the API's query-string form: `a=b`, `a==b`, `a!=b`,
/// `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-separated (all must match).
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    var requirements: [Requirement] = []

    init(_ text: String?) {
        guard let text, !text.isEmpty else { return }
        for term in Self.split(text) {
            let term = term.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            if let range = term.range(of: " notin ") {
                requirements.append(.notIn(String(term[..<range.lowerBound]).trimmed, Self.set(term[range.upperBound...])))
            } else if let range = term.range(of: " in ") {
                requirements.append(.isIn(String(term[..<range.lowerBound]).trimmed, Self.set(term[range.upperBound...])))
            } else if let range = term.range(of: "!=") {
                requirements.append(.notEquals(String(term[..<range.lowerBound]).trimmed, String(term[range.upperBound...]).trimmed))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append(.equals(String(term[..<range.lowerBound]).trimmed, String(term[range.upperBound...]).trimmed))
            } else if term.hasPrefix("!") {
                requirements.append(.notExists(String(term.dropFirst()).trimmed))
            } else {
                requirements.append(.exists(term))
            }
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .isIn(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .notExists(let key): labels[key] == nil
            }
        }
    }

    /// Splits on commas outside parentheses.
    private static func split(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func set(_ text: Substring) -> Set<String> {
        Set(text.trimmingCharacters(in: CharacterSet(charactersIn: " ()")).split(separator: ",").map { String($0).trimmed })
    }
}

/// A field selector: `metadata.name=x`, `metadata.namespace!=y`, `status.phase=Running`.
struct FieldSelector: Sendable {
    var requirements: [(path: String, value: String, equal: Bool)] = []

    init(_ text: String?) {
        guard let text, !text.isEmpty else { return }
        for term in text.split(separator: ",") {
            if let range = term.range(of: "!=") {
                requirements.append((String(term[..<range.lowerBound]), String(term[range.upperBound...]), false))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append((String(term[..<range.lowerBound]), String(term[range.upperBound...]), true))
            }
        }
    }

    func matches(_ object: JSON) -> Bool {
        requirements.allSatisfy { requirement in
            let actual = object[path: requirement.path]?.string ?? ""
            return (actual == requirement.value) == requirement.equal
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespaces) }
}
