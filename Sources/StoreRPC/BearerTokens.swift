import Foundation

/// The tokens a TCP caller may present as `authorization: Bearer <token>`.
/// Comparison takes the same time whatever the presented token, so it leaks
/// nothing about how much of a token matched.
public struct BearerTokens: Sendable {
    private let tokens: [[UInt8]]

    public init(_ tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    /// Reads a token file: one token per line; blank lines and lines starting
    /// with `#` are ignored. The caller's identity is "token:N", N counting
    /// tokens from 1 in file order.
    public init(contentsOfFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BearerTokensError("cannot read token file \(path): \(error.localizedDescription)")
        }
        let tokens = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !tokens.isEmpty else {
            throw BearerTokensError("token file \(path) holds no token")
        }
        self.init(tokens)
    }

    public var count: Int { tokens.count }

    /// The 1-based number of the token an `authorization` value carries, or nil.
    public func match(authorization: String?) -> Int? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let presented = Array(authorization.utf8.dropFirst("Bearer ".utf8.count))
        var found: Int?
        for (index, token) in tokens.enumerated() where Self.constantTimeEquals(presented, token) {
            found = index + 1
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
