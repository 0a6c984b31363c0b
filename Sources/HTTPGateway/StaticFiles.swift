import Foundation
import Hummingbird

/// The dashboard's static files. Paths are percent-decoded and then refused if
/// any segment is `.` or `..` (or holds a NUL or backslash), and the resolved
/// file must still lie inside the root after symlinks are followed, so nothing
/// outside the dashboard directory is ever served.
struct StaticFiles: Sendable {
    /// The resolved root directory, or nil when there is no dashboard.
    let root: String?

    init(directory: String?) {
        guard let directory else {
            root = nil
            return
        }
        var isDirectory: ObjCBool = false
        let resolved = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        if FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue {
            root = resolved
        } else {
            root = nil
        }
    }

    /// The answer for a GET of `path` (still percent-encoded).
    func response(for path: String) throws -> Response {
        guard let root else {
            guard path == "/" || path == "/index.html" else { throw GatewayError.notFound(path: path) }
            return Self.noDashboard
        }
        guard let relative = Self.safeRelativePath(path) else { throw GatewayError.notFound(path: path) }
        var file = root + "/" + relative
        var isDirectory: ObjCBool = false
        if relative.isEmpty || (FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) && isDirectory.boolValue) {
            file = (relative.isEmpty ? root : file) + "/index.html"
        }
        let resolved = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
        guard resolved.hasPrefix(root + "/"), let data = FileManager.default.contents(atPath: resolved) else {
            throw GatewayError.notFound(path: path)
        }
        var headers = HTTPFields()
        headers[.contentType] = MediaTypes.forFile(extension: (resolved as NSString).pathExtension)
        // The dashboard has no build step and no hashed names: always revalidate.
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The decoded path below the root without its leading slash ("" for the
    /// root itself), or nil when it tries to leave the root.
    static func safeRelativePath(_ path: String) -> String? {
        guard let decoded = path.removingPercentEncoding, decoded.hasPrefix("/") else { return nil }
        let segments = decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: true)
        for segment in segments where segment == "." || segment == ".." || segment.contains("\0") || segment.contains("\\") {
            return nil
        }
        return segments.joined(separator: "/")
    }

    /// What `/` answers when the daemon runs without dashboard files.
    static var noDashboard: Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>StorePlatform</title></head>
            <body><h1>StorePlatform</h1>
            <p>The dashboard files are not installed (see <code>--dashboard-dir</code>).
            The API is served under <a href="/api/health">/api</a>; metrics at <a href="/metrics">/metrics</a>.</p>
            </body></html>

            """
        var headers = HTTPFields()
        headers[.contentType] = MediaTypes.html
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
