import Foundation

/// The tokens a TCP or HTTP caller may present as `authorization: Bearer <token>`,
/// each with the name the caller is then known by (`token:NAME`). Comparison takes
/// the same time whatever the presented token, so it leaks nothing about how much
/// of a token matched.
public struct BearerTokens: Sendable {
    public struct Token: Sendable, Equatable {
        /// What the caller is called, `token:<name>`: the line's name, or the
        /// token's number (counting tokens from 1 in file order) when it has none.
        public var name: String
        public var secret: String

        public init(name: String, secret: String) {
            self.name = name
            self.secret = secret
        }
    }

    public let tokens: [Token]
    private let secrets: [[UInt8]]

    public init(_ tokens: [Token]) {
        self.tokens = tokens
        self.secrets = tokens.map { Array($0.secret.utf8) }
    }

    /// Unnamed tokens, named by their number ("1", "2", …).
    public init(_ secrets: [String]) {
        self.init(secrets.enumerated().map { Token(name: String($0.offset + 1), secret: $0.element) })
    }

    /// Reads a token file; see ``init(parsing:path:)``.
    public init(contentsOfFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BearerTokensError("cannot read token file \(path): \(error.localizedDescription)")
        }
        try self.init(parsing: text, path: path)
    }

    /// A token file's text: one token per line, `NAME TOKEN` (the caller is
    /// `token:NAME`) or just `TOKEN` (the caller is `token:N`, N counting tokens
    /// from 1 in file order); blank lines and lines starting with `#` are ignored.
    /// A name starts with a letter and has at most 64 letters, digits, `.`, `_` and
    /// `-`. A name or a token given twice is an error naming both lines.
    public init(parsing text: String, path: String) throws {
        var tokens: [Token] = []
        var lineOfName: [String: Int] = [:]
        var lineOfSecret: [String: Int] = [:]
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let fields = trimmed.split(whereSeparator: \.isWhitespace).map(String.init)
            let token: Token
            switch fields.count {
            case 1:
                token = Token(name: String(tokens.count + 1), secret: fields[0])
            case 2:
                guard Self.isValidName(fields[0]) else {
                    throw BearerTokensError(
                        "\(path):\(number): \"\(fields[0])\" is not a token name; a name starts with a letter and has at most 64 letters, digits, '.', '_' and '-' (write NAME TOKEN)"
                    )
                }
                token = Token(name: fields[0], secret: fields[1])
            default:
                throw BearerTokensError("\(path):\(number): a line holds NAME TOKEN or just TOKEN, and this one has \(fields.count) words")
            }
            if let earlier = lineOfName[token.name] {
                throw BearerTokensError("\(path):\(number): the name token:\(token.name) is already used on line \(earlier); give each token its own name")
            }
            if let earlier = lineOfSecret[token.secret] {
                throw BearerTokensError("\(path):\(number): this token is already on line \(earlier); give each caller its own token")
            }
            lineOfName[token.name] = number
            lineOfSecret[token.secret] = number
            tokens.append(token)
        }
        guard !tokens.isEmpty else {
            throw BearerTokensError("token file \(path) holds no token")
        }
        self.init(tokens)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64,
            ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
    }

    public var count: Int { tokens.count }

    /// The name of the token an `authorization` value carries, or nil.
    public func match(authorization: String?) -> String? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let presented = Array(authorization.utf8.dropFirst("Bearer ".utf8.count))
        var found: String?
        for (index, secret) in secrets.enumerated() where Self.constantTimeEquals(presented, secret) {
            found = tokens[index].name
        }
        return found
    }

    /// Compares every byte of `expected` whatever the inputs, so the time taken
    /// depends only on the expected token's length.
    static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        for index in expected.indices {
            let byte = index < presented.count ? presented[index] : 0
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }
}

public struct BearerTokensError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
