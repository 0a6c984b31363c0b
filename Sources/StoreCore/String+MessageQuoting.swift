extension String {
    /// This string quoted for an error message: escaped the way Swift's debug description
    /// escapes it (quotes, backslashes and control characters cannot break a log line)
    /// and cut to at most `maxCharacters` characters, so a hostile input cannot make a
    /// message arbitrarily long.
    public func quotedForMessage(maxCharacters: Int = 64) -> String {
        guard count > maxCharacters else { return debugDescription }
        return String(prefix(maxCharacters)).debugDescription + "…"
    }

    /// ``quotedForMessage(maxCharacters:)`` with the default cut.
    public var quotedForMessage: String {
        quotedForMessage()
    }
}

extension Array where Element == String {
    /// The names as alternatives for a message: "a", "a or b", "a, b or c"; empty
    /// when there are none.
    public var listedAsAlternatives: String {
        guard count > 1 else { return first ?? "" }
        return dropLast().joined(separator: ", ") + " or " + last!
    }
}
