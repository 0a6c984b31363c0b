/// The access file's line format (`storeplatformd --access-file`): one principal
/// and its role per line, `#` starts a comment, blank lines are ignored.
///
/// ```
/// # PRINCIPAL                 ROLE       [own-stores]
/// token:deploy                admin
/// cert:CN=billing,O=Example   operator
/// uid:*                       operator   own-stores
/// token:ci                    viewer
/// *                           viewer     # everyone not named above
/// ```
///
/// A principal is `uid:N`, `token:NAME` (or `token:N`), `cert:SUBJECT`,
/// `tcp:ADDRESS`, `http:ADDRESS`, `KIND:*` (every caller of that kind) or `*`
/// (everyone else). The role is the line's last word (`own-stores` after it
/// limits an operator to the stores it created), so a certificate subject may
/// contain spaces. See ``AccessPolicy`` for how lines are matched.
public enum AccessFile {
    /// The rules of an access file's text; `path` is only for messages. Every
    /// mistake is an error naming the file, the line and what to write instead.
    public static func parse(_ text: String, path: String) throws -> [AccessPolicy.Rule] {
        var rules: [AccessPolicy.Rule] = []
        var lineOfPattern: [PrincipalPattern: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            func fail(_ message: String) -> AccessFileError {
                AccessFileError("\(path):\(number): \(message)")
            }
            var fields = withoutComment(rawLine).split(whereSeparator: \.isWhitespace)
            guard !fields.isEmpty else { continue }
            var ownStoresOnly = false
            if fields.last == "own-stores" {
                ownStoresOnly = true
                fields.removeLast()
            }
            guard fields.count >= 2 else {
                throw fail(
                    "\"\(fields.first ?? "own-stores")\" has no role; write a principal and its role, such as \"token:ci viewer\" or \"uid:* operator own-stores\""
                )
            }
            let roleName = fields.removeLast()
            guard let role = Role(name: roleName) else {
                throw fail("unknown role \"\(roleName)\"; write viewer, operator or admin (then own-stores to limit an operator to the stores it created)")
            }
            if ownStoresOnly && role != .operator {
                throw fail("own-stores limits operators only; write \"\(fields.joined(separator: " ")) operator own-stores\", or drop own-stores")
            }
            let principalText = fields.joined(separator: " ")
            guard let pattern = PrincipalPattern(principalText), fields.count == 1 || principalText.hasPrefix("cert:") else {
                throw fail(
                    "\"\(principalText)\" is not a principal; write uid:N, token:NAME, cert:SUBJECT, tcp:ADDRESS, http:ADDRESS, "
                        + "KIND:* for every caller of a kind, or * for everyone not named"
                )
            }
            if case .exactly(let principal) = pattern, principal.kind == .uid, principal.uid == nil {
                throw fail("\"\(principal)\" is not a uid; write uid: and a number, such as uid:1001")
            }
            if let earlier = lineOfPattern[pattern] {
                throw fail("\(pattern) already has a role on line \(earlier); keep one of the two lines")
            }
            lineOfPattern[pattern] = number
            rules.append(AccessPolicy.Rule(pattern, AccessGrant(role, ownStoresOnly: ownStoresOnly)))
        }
        return rules
    }

    /// The line up to a `#` that starts it or follows a space or tab.
    private static func withoutComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for index in line.indices {
            if line[index] == "#" && previous.isWhitespace { return line[..<index] }
            previous = line[index]
        }
        return line
    }
}

public struct AccessFileError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
