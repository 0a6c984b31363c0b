/// Content types the gateway sends, and the one it takes.
enum MediaTypes {
    static let json = "application/json"
    static let eventStream = "text/event-stream"
    static let prometheus = "text/plain; version=0.0.4; charset=utf-8"
    static let html = "text/html; charset=utf-8"

    /// The content type of a static file, by extension; unknown ones are
    /// application/octet-stream so a browser never guesses.
    static func forFile(extension ext: String) -> String {
        switch ext.lowercased() {
        case "html", "htm": html
        case "css": "text/css; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "json", "map": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "ico": "image/x-icon"
        case "webp": "image/webp"
        case "woff2": "font/woff2"
        case "woff": "font/woff"
        case "txt", "md": "text/plain; charset=utf-8"
        case "webmanifest": "application/manifest+json"
        case "yaml", "yml": "application/yaml"
        default: "application/octet-stream"
        }
    }

    /// Whether a `Content-Type` value names JSON: `application/json`, in any case,
    /// with or without parameters such as `; charset=utf-8`.
    static func isJSON(_ contentType: String) -> Bool {
        let essence = contentType.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }
        return essence.lowercased() == json
    }
}
