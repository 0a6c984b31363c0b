import ArgumentParser
import Foundation

/// What `--database` (or `STOREPLATFORM_DATABASE_URL`) names: an SQLite file, the
/// embedded default under `--data-dir`, or a PostgreSQL server, for several replicas.
enum DatabaseOption: Equatable {
    case sqlite(path: String)
    /// A `postgres://` or `postgresql://` URL, as given.
    case postgres(url: String)

    /// Parses the option's text; empty means the default SQLite file in `dataDir`.
    /// Messages never repeat a password the text may hold.
    init(_ text: String, dataDir: String) throws {
        if text.isEmpty {
            self = .sqlite(path: dataDir + "/storeplatform.sqlite")
        } else if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else {
                throw ValidationError("--database sqlite: names no file; give sqlite:PATH, for example sqlite:/var/lib/storeplatform/storeplatform.sqlite")
            }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            throw ValidationError(
                "--database \(Self.redacted(text).debugDescription) is neither sqlite:PATH nor postgres://USER@HOST:PORT/DATABASE"
            )
        }
    }

    /// The backend's name, as Health reports it.
    var backend: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgresql"
        }
    }

    /// `text` with any password between `://user:` and `@` replaced by `***`.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"),
            let at = text[scheme.upperBound...].firstIndex(of: "@"),
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }

    /// The password in `path`, without a final line break; `nil` for no file.
    /// Throws a message naming the file when it cannot be read or is empty.
    static func password(fromFile path: String) throws -> String? {
        guard !path.isEmpty else { return nil }
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw ValidationError("cannot read --database-password-file \(path): \(reason)")
        }
        var password = Substring(contents)
        while let last = password.last, last == "\n" || last == "\r" { password.removeLast() }
        guard !password.isEmpty else {
            throw ValidationError("--database-password-file \(path) is empty; put the PostgreSQL password in it")
        }
        return String(password)
    }
}
