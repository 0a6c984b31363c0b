import Foundation
import Testing

@testable import Provisioning

/// Redaction of the store's secret values from driver output: every encoding a tool
/// could echo, before any cut. Expected outputs are literal (computed outside Swift).
@Suite struct SecretRedactionTests {
    static let password = "Xk7pQ2mN9vR4tW8yZ3bC6dF5gH2jK7Lm"
    /// Has characters every encoding treats differently (space, `/`, `"`, `&`, `<`, `>`, `é`, `+`).
    static let awkward = #"p@ss w/rd"&<x>é+~"#

    @Test func plainAndBase64AtEachOfTheThreeAlignments() {
        let redactor = SecretRedactor(values: [Self.password])
        let text = [
            "password: Xk7pQ2mN9vR4tW8yZ3bC6dF5gH2jK7Lm",
            // The value encoded alone, padded and not.
            "alone: WGs3cFEybU45dlI0dFc4eVozYkM2ZEY1Z0gyaks3TG0=",
            "unpadded: WGs3cFEybU45dlI0dFc4eVozYkM2ZEY1Z0gyaks3TG0",
            // base64("a" + value + "z"), ("ab" + value + "yz"), ("abc" + value): the value
            // at offsets 1, 2 and 3 (≡ 0) of a larger encoded blob.
            "offset 1: YVhrN3BRMm1OOXZSNHRXOHlaM2JDNmRGNWdIMmpLN0xteg==",
            "offset 2: YWJYazdwUTJtTjl2UjR0Vzh5WjNiQzZkRjVnSDJqSzdMbXl6",
            "offset 3: YWJjWGs3cFEybU45dlI0dFc4eVozYkM2ZEY1Z0gyaks3TG0=",
        ].joined(separator: "\n")
        #expect(redactor.redact(text) == [
            "password: [redacted]",
            "alone: [redacted]",
            "unpadded: [redacted]",
            // Left: the characters that mix the neighbours' bits with the value's first or last byte.
            "offset 1: YV[redacted]eg==",
            "offset 2: YWJ[redacted]Xl6",
            "offset 3: YWJj[redacted]",
        ].joined(separator: "\n"))
    }

    @Test func urlSafeBase64PercentEncodingAndJSONEscapes() {
        let redactor = SecretRedactor(values: [Self.awkward])
        let text = [
            "base64: cEBzcyB3L3JkIiY8eD7DqSt+",
            "base64url: cEBzcyB3L3JkIiY8eD7DqSt-",
            "query: ?p=p%40ss%20w%2Frd%22%26%3Cx%3E%C3%A9%2B~&next=1",
            "lower: p%40ss%20w%2frd%22%26%3cx%3e%c3%a9%2b~",
            "form: p%40ss+w%2Frd%22%26%3Cx%3E%C3%A9%2B~",
            #"json: {"password":"p@ss w/rd\"&<x>é+~"}"#,
            #"json ascii: {"password":"p@ss w/rd\"&<x>\u00e9+~"}"#,
            #"go json: {"password":"p@ss w/rd\"\u0026\u003cx\u003eé+~"}"#,
            #"plain: p@ss w/rd"&<x>é+~"#,
        ].joined(separator: "\n")
        #expect(redactor.redact(text) == [
            "base64: [redacted]",
            "base64url: [redacted]",
            "query: ?p=[redacted]&next=1",
            "lower: [redacted]",
            "form: [redacted]",
            #"json: {"password":"[redacted]"}"#,
            #"json ascii: {"password":"[redacted]"}"#,
            #"go json: {"password":"[redacted]"}"#,
            "plain: [redacted]",
        ].joined(separator: "\n"))
    }

    @Test func aTextCutInsideAValueLosesTheStartOfItToo() {
        let redactor = SecretRedactor(values: [Self.password, "other-value-123"])
        let cut = "Invalid value: \"Xk7pQ2mN9vR4tW8y"
        #expect(redactor.redact(cut, cutAtEnd: true) == "Invalid value: \"[redacted]")
        // Not cut there: the same text is ordinary output.
        #expect(redactor.redact(cut, cutAtEnd: false) == cut)
        // A cut inside the base64 of a value.
        #expect(redactor.redact("data: WGs3cFEybU45dlI0", cutAtEnd: true) == "data: [redacted]")
        #expect(redactor.redact("nothing secret here", cutAtEnd: true) == "nothing secret here")
    }

    @Test func noValuesChangeNothing() {
        #expect(SecretRedactor(values: [String]()).redact("a" + Self.password) == "a" + Self.password)
        #expect(SecretRedactor(values: [""]).redact("text") == "text")
    }
}
