import Foundation

/// A validated store name: a DNS-1123 label of at most ``maxLength`` characters.
///
/// A value of this type is only made by ``validate(_:)``, so holding one promises the name
/// is lower-case ASCII letters, digits and `-`, starts with a letter, ends with a letter
/// or digit, and is 1 to 40 characters long. That makes it safe, unchanged, as a
/// Kubernetes namespace part, a Helm release name, a label value, and a subprocess
/// argument (it never starts with `-`, so no tool reads it as an option).
public struct StoreName: Sendable, Hashable {
    /// The longest name accepted. It leaves room for the namespace prefix and id suffix
    /// (``Store/namespace(forName:id:)``) within Kubernetes' 63-character limit.
    public static let maxLength = 40

    /// The name as the user chose it; already valid.
    public let value: String

    private init(unchecked value: String) {
        self.value = value
    }

    /// True when `text` can be part of a store name: at most ``maxLength`` lower-case
    /// letters, digits and `-` (empty included). A search for anything else matches no
    /// store, so ListStores refuses it rather than reading for nothing.
    public static func canContain(_ text: String) -> Bool {
        text.unicodeScalars.count <= maxLength
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Validates `raw` as a store name. The input is not trimmed or lower-cased: what is
    /// accepted is exactly what the user typed.
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/missingStoreName`` when `raw` is empty
    ///   or only whitespace; otherwise with ``ErrorCode/invalidStoreName`` and a message
    ///   naming the first rule broken: too long (with the length), an upper-case letter,
    ///   a character outside `a-z 0-9 -` (shown), starting with a digit or hyphen, or
    ///   ending with a hyphen.
    public static func validate(_ raw: String) throws -> StoreName {
        let scalars = raw.unicodeScalars
        if scalars.allSatisfy(\.properties.isWhitespace) {
            throw PlatformError(.missingStoreName, "a store name is required; use lower-case letters, digits and '-', for example \"my-shop\"")
        }
        // Checked first, so the messages below never quote an unbounded input.
        if scalars.count > maxLength {
            throw invalid("store name is \(scalars.count) characters long; the maximum is \(maxLength)")
        }
        for (offset, scalar) in scalars.enumerated() {
            switch scalar {
            case "a"..."z", "0"..."9", "-":
                continue
            case "A"..."Z":
                throw invalid(
                    "store name \(raw.quotedForMessage) contains the upper-case letter \"\(scalar)\" at position \(offset + 1); "
                        + "names are lower case\(suggestionHint(raw))"
                )
            default:
                throw invalid(
                    "store name \(raw.quotedForMessage) contains \(describe(scalar)) at position \(offset + 1); "
                        + "use only lower-case letters a-z, digits 0-9 and '-'\(suggestionHint(raw))"
                )
            }
        }
        // From here on every scalar is one of a-z, 0-9, '-'.
        let first = scalars.first!
        let last = scalars.last!
        if first == "-" {
            throw invalid("store name \(raw.quotedForMessage) starts with a hyphen; it must start with a letter\(suggestionHint(raw))")
        }
        if ("0"..."9").contains(first) {
            throw invalid("store name \(raw.quotedForMessage) starts with a digit; it must start with a letter\(suggestionHint(raw))")
        }
        if last == "-" {
            throw invalid("store name \(raw.quotedForMessage) ends with a hyphen; it must end with a letter or digit\(suggestionHint(raw))")
        }
        return StoreName(unchecked: raw)
    }

    /// A valid name close to `raw`, the dashboard's rule: accents dropped, lower case,
    /// every run of other characters one '-', starting with a letter, at most
    /// ``maxLength`` characters, no '-' at the end ("Bad_Name" → "bad-name", "9shop" →
    /// "shop"); nil when nothing valid is left or it would be `raw` itself.
    public static func suggestion(for raw: String) -> StoreName? {
        var name = ""
        for scalar in raw.decomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark { continue }
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-" {
                name.unicodeScalars.append(scalar)
            } else if name.last != "-" {
                name += "-"
            }
        }
        while name.contains("--") { name = name.replacingOccurrences(of: "--", with: "-") }
        name = String(name.drop { !("a"..."z").contains($0) }.prefix(maxLength))
        while name.last == "-" { name.removeLast() }
        guard name != raw, let valid = try? validate(name) else { return nil }
        return valid
    }

    /// ", for example "bad-name"" when there is a suggestion, else nothing.
    private static func suggestionHint(_ raw: String) -> String {
        suggestion(for: raw).map { ", for example \($0.value.quotedForMessage)" } ?? ""
    }

    private static func invalid(_ message: String) -> PlatformError {
        PlatformError(.invalidStoreName, message)
    }

    /// A character as a message shows it: `"_"`, `a space`, `"é" (U+00E9)`, or just
    /// `U+0000` for characters that would not print.
    private static func describe(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if scalar == " " { return "a space" }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator,
             .nonspacingMark, .enclosingMark, .spacingMark:
            return "the character \(code)"
        default:
            return scalar.isASCII ? "\"\(scalar)\"" : "\"\(scalar)\" (\(code))"
        }
    }
}

extension StoreName: CustomStringConvertible {
    /// The name itself.
    public var description: String { value }
}

extension StoreName: Codable {
    /// Decodes a single string and validates it like ``StoreName/validate(_:)``; invalid
    /// names fail decoding with the validation's ``PlatformError``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try StoreName.validate(container.decode(String.self))
    }

    /// Encodes the name as a single string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
