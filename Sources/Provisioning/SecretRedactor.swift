import Foundation

/// Removes secret values from what a tool printed, in every form a tool could print
/// them in: the value itself; JSON-escaped (minimal, and as Go escapes `<>&`, and with
/// `\/`); percent-encoded (upper- and lower-case hex, `+` for spaces); base64, standard
/// and URL-safe, padded and unpadded, at each of the three byte alignments.
///
/// Base64 of a value inside a larger encoded blob depends on the value's offset modulo
/// 3, so each alignment has its own encoding. Rather than decode every base64-looking
/// run of the text (which needs guessing where runs start, and fails on runs that mix
/// in other text), each alignment's *core* is searched for: the characters that depend
/// only on the value's bytes. They are found wherever the value is encoded, whatever
/// surrounds it; only the one to three characters at each end that mix the value's
/// first or last byte with its neighbours stay (at most 4 bits of a byte each).
///
/// Not covered: base64 wrapped across lines (neither kubectl nor the API server wraps
/// it) and encodings of encodings, apart from base64 inside a JSON string (`\/`).
///
/// Redaction must come before any cut: a cut inside a value would leave a part of
/// it that no longer matches. Text that a capture limit already cut at its end is
/// redacted with ``redact(_:cutAtEnd:)``, which also removes a trailing start of a form.
struct SecretRedactor: Sendable {
    /// What every form of a value becomes.
    static let replacement = "[redacted]"
    /// Forms derived from a value (not the value itself) shorter than this are not
    /// searched for: they would match ordinary text.
    static let minimumDerivedForm = 6

    /// Every form to search for, as UTF-8, longest first (so a form containing another
    /// is replaced whole).
    let forms: [[UInt8]]

    init(values: some Sequence<String>) {
        var forms = Set<[UInt8]>()
        for value in values where !value.isEmpty {
            forms.insert(Array(value.utf8))
            for form in Self.derivedForms(of: Array(value.utf8)) where form.count >= Self.minimumDerivedForm {
                forms.insert(form)
            }
        }
        self.forms = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
    }

    /// `text` with every form of every value replaced by ``replacement``.
    func redact(_ text: String) -> String {
        guard !forms.isEmpty else { return text }
        var bytes = Array(text.utf8)
        for form in forms {
            bytes = Self.replacing(form, in: bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// ``redact(_:)``; when `cutAtEnd` (a limit cut the text short), also the longest
    /// end of the text that is the start of a form, since the rest of that form was cut.
    func redact(_ text: String, cutAtEnd: Bool) -> String {
        let redacted = redact(text)
        guard cutAtEnd else { return redacted }
        var bytes = Array(redacted.utf8)
        let longest = forms.map { form in
            (1..<form.count).reversed().first { length in
                length <= bytes.count && bytes.suffix(length).elementsEqual(form.prefix(length))
            } ?? 0
        }.max() ?? 0
        guard longest > 0 else { return redacted }
        bytes.removeLast(longest)
        return String(decoding: bytes, as: UTF8.self) + Self.replacement
    }

    // MARK: Forms

    static func derivedForms(of value: [UInt8]) -> [[UInt8]] {
        var forms = jsonForms(of: value) + percentForms(of: value)
        for form in base64Forms(of: value) {
            forms.append(form)
            forms.append(form.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 })
            if form.contains(UInt8(ascii: "/")) {
                forms.append(form.flatMap { $0 == UInt8(ascii: "/") ? Array(#"\/"#.utf8) : [$0] })
            }
        }
        return forms
    }

    /// Standard-alphabet base64: the value encoded alone (padded and not), then the
    /// core of each alignment (see the type's documentation).
    static func base64Forms(of value: [UInt8]) -> [[UInt8]] {
        let alone = Array(Data(value).base64EncodedString().utf8)
        var forms = [alone, Array(alone.prefix { $0 != UInt8(ascii: "=") })]
        for alignment in 0..<3 {
            let encoded = Array(Data(Array(repeating: 0, count: alignment) + value).base64EncodedString().utf8)
            // Characters 0..<skip carry bits of the filler bytes in front.
            let skip = [0, 2, 3][alignment]
            // Each whole group of 3 bytes is 4 characters of its own; of a last group of
            // 1 or 2 bytes, that many characters carry only the value's bits, the next
            // one mixes in the byte that follows the value.
            let total = alignment + value.count
            let end = total / 3 * 4 + total % 3
            if end > skip { forms.append(Array(encoded[skip..<end])) }
        }
        return forms
    }

    static func jsonForms(of value: [UInt8]) -> [[UInt8]] {
        let text = String(decoding: value, as: UTF8.self)
        func escaped(_ extra: (Unicode.Scalar) -> String?) -> [UInt8] {
            var out = ""
            for scalar in text.unicodeScalars {
                if let replaced = extra(scalar) {
                    out += replaced
                    continue
                }
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += unicodeEscape(scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return Array(out.utf8)
        }
        return [
            escaped { _ in nil },
            // Go's encoding/json (kubectl, helm): also <, >, &, U+2028 and U+2029.
            escaped { ["<", ">", "&", "\u{2028}", "\u{2029}"].contains($0) ? unicodeEscape($0.value) : nil },
            escaped { $0 == "/" ? "\\/" : nil },
            // Everything outside ASCII as \u escapes (surrogate pairs above U+FFFF).
            escaped { scalar in
                guard !scalar.isASCII else { return nil }
                return String(scalar).utf16.map { unicodeEscape(UInt32($0)) }.joined()
            },
        ]
    }

    /// Every byte outside the unreserved set (`A-Z a-z 0-9 - . _ ~`) as `%XX`, upper
    /// and lower case; and the form encoding, with `+` for a space.
    static func percentForms(of value: [UInt8]) -> [[UInt8]] {
        func encoded(_ digits: [UInt8], spaceAsPlus: Bool) -> [UInt8] {
            value.flatMap { byte -> [UInt8] in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                    [byte]
                case UInt8(ascii: " ") where spaceAsPlus:
                    [UInt8(ascii: "+")]
                default:
                    [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
                }
            }
        }
        let upper = Array("0123456789ABCDEF".utf8)
        let lower = Array("0123456789abcdef".utf8)
        return [
            encoded(upper, spaceAsPlus: false), encoded(lower, spaceAsPlus: false),
            encoded(upper, spaceAsPlus: true), encoded(lower, spaceAsPlus: true),
        ]
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// `bytes` with every occurrence of `form` (non-overlapping, left to right) replaced.
    private static func replacing(_ form: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard let first = form.first, bytes.count >= form.count else { return bytes }
        var out: [UInt8] = []
        var index = 0
        var changed = false
        while index < bytes.count {
            if bytes[index] == first, index + form.count <= bytes.count, bytes[index..<(index + form.count)].elementsEqual(form) {
                if !changed {
                    out.reserveCapacity(bytes.count)
                    out.append(contentsOf: bytes[..<index])
                    changed = true
                }
                out.append(contentsOf: replacement.utf8)
                index += form.count
            } else {
                if changed { out.append(bytes[index]) }
                index += 1
            }
        }
        return changed ? out : bytes
    }
}
