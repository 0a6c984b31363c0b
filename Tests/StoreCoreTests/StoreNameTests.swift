import Foundation
import StoreCore
import Testing

@Suite("Store name validation")
struct StoreNameTests {
    @Test(arguments: ["a", "shop", "my-shop", "shop1", "a1-b2", "a--b", "z9", String(repeating: "a", count: 40)])
    func validNamesAreAcceptedUnchanged(raw: String) throws {
        let name = try StoreName.validate(raw)
        #expect(name.value == raw)
        #expect(name.description == raw)
        #expect(!name.value.hasPrefix("-"))
    }

    @Test func maxLengthIsForty() {
        #expect(StoreName.maxLength == 40)
    }

    @Test(arguments: ["", " ", "   ", "\t\n"])
    func emptyOrWhitespaceIsMissing(raw: String) {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate(raw) }
        #expect(error?.code == .missingStoreName)
        #expect(error?.message == "a store name is required; use lower-case letters, digits and '-', for example \"my-shop\"")
    }

    @Test func fortyOneCharactersIsTooLong() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate(String(repeating: "a", count: 41)) }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name is 41 characters long; the maximum is 40")
    }

    @Test func aHugeNameIsNotEchoed() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate(String(repeating: "x", count: 100_000)) }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name is 100000 characters long; the maximum is 40")
    }

    @Test func upperCaseLetterIsRefusedWithALowerCaseSuggestion() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("MyShop") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name \"MyShop\" contains the upper-case letter \"M\" at position 1; names are lower case, for example \"myshop\"")
    }

    @Test func theSuggestionIsValidItselfWhateverRuleTheNameBreaks() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("Bad_Name") }
        #expect(error?.message == "store name \"Bad_Name\" contains the upper-case letter \"B\" at position 1; names are lower case, for example \"bad-name\"")
        let leadingDigit = #expect(throws: PlatformError.self) { try StoreName.validate("1Shop") }
        #expect(leadingDigit?.message == "store name \"1Shop\" contains the upper-case letter \"S\" at position 2; names are lower case, for example \"shop\"")
    }

    @Test(arguments: [
        ("Bad_Name", "bad-name"), ("my shop", "my-shop"), ("-shop", "shop"), ("9lives", "lives"), ("shop-", "shop"),
        ("Ünïcode Shop", "unicode-shop"), ("a__b", "a-b"), ("x" + String(repeating: "y", count: 60), "x" + String(repeating: "y", count: 39)),
    ])
    func aSuggestionIsAValidNameCloseToTheInput(raw: String, suggested: String) throws {
        let suggestion = try #require(StoreName.suggestion(for: raw))
        #expect(suggestion.value == suggested)
        #expect(try StoreName.validate(suggested) == suggestion)
    }

    @Test(arguments: ["___", "123", "", "good-name"])
    func noSuggestionWhenNothingValidIsLeftOrTheNameIsValid(raw: String) {
        #expect(StoreName.suggestion(for: raw) == nil)
    }

    @Test func badCharacterIsShown() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("my_shop") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name \"my_shop\" contains \"_\" at position 3; use only lower-case letters a-z, digits 0-9 and '-', for example \"my-shop\"")
    }

    @Test(arguments: [
        ("my shop", "a space"),
        ("a.b", "\".\""),
        ("café", "\"é\" (U+00E9)"),
        ("shop\n", "the character U+000A"),
        ("shop\u{0}", "the character U+0000"),
        ("x/../y", "\"/\""),
        ("a;rm", "\";\""),
    ])
    func everyCharacterOutsideTheAlphabetIsRefused(raw: String, shown: String) {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate(raw) }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message.contains("contains \(shown) at position") == true)
    }

    @Test func combiningMarkIsCaughtEvenThoughItJoinsALetter() {
        // "e" + COMBINING ACUTE ACCENT is one Character but two scalars.
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("cafe\u{301}") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message.contains("the character U+0301 at position 5") == true)
    }

    @Test func startingWithADigitIsRefused() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("1shop") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name \"1shop\" starts with a digit; it must start with a letter, for example \"shop\"")
    }

    @Test func startingWithAHyphenIsRefused() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("-shop") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name \"-shop\" starts with a hyphen; it must start with a letter, for example \"shop\"")
    }

    @Test func anOptionLookingNameIsRefused() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("--all") }
        #expect(error?.code == .invalidStoreName)
    }

    @Test func endingWithAHyphenIsRefused() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate("shop-") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message == "store name \"shop-\" ends with a hyphen; it must end with a letter or digit, for example \"shop\"")
    }

    @Test func leadingWhitespaceIsNotTrimmed() {
        let error = #expect(throws: PlatformError.self) { try StoreName.validate(" shop") }
        #expect(error?.code == .invalidStoreName)
        #expect(error?.message.contains("contains a space at position 1") == true)
    }

    @Test func decodingValidates() throws {
        let names = try JSONDecoder().decode([StoreName].self, from: Data("[\"shop\"]".utf8))
        #expect(names.map(\.value) == ["shop"])
        #expect(String(decoding: try JSONEncoder().encode(names), as: UTF8.self) == "[\"shop\"]")
        let error = #expect(throws: PlatformError.self) {
            try JSONDecoder().decode([StoreName].self, from: Data("[\"Shop\"]".utf8))
        }
        #expect(error?.code == .invalidStoreName)
    }
}
