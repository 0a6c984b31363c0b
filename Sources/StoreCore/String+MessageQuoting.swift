extension String {
    /// This string quoted for an error message: escaped the way Swift's debug description
    /// escapes it (quotes, backslashes and control characters cannot break a log line)
    /// and cut to at most `maxCharacters` characters, so a hostile input cannot make a
    /// message arbitrarily long.
    func quotedForMessage(maxCharacters: Int = 64) -> String {
        guard count > maxCharacters else { return debugDescription }
        return String(prefix(maxCharacters)).debugDescription + "…"
    }

    /// ``quotedForMessage(maxCharacters:)`` with the default cut.
    var quotedForMessage: String {
        quotedForMessage()
    }
}
