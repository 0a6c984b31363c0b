import Foundation
import Hummingbird
import NIOPosix

/// The dashboard's static files, read into memory once when the gateway starts
/// (``load(directory:)``, on NIO's blocking thread pool), so serving one never
/// touches the file system from an event loop. Files changed later are served
/// as they were at start; restart the daemon to serve new ones.
///
/// Paths are percent-decoded and then refused if any segment is `.` or `..` (or
/// holds a NUL or backslash). Only files whose path, after symlinks are followed,
/// lies inside the root are read, so nothing outside the dashboard directory is
/// ever served.
///
/// Hummingbird's `FileMiddleware`, which reads the disk per request, took 3× the
/// CPU per request and answered at 0.29–0.56× this rate (BENCHMARKS.md,
/// "Hand-written routing against Hummingbird's Router").
package struct StaticFiles: Sendable {
    /// One file as read at start.
    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    /// The resolved root directory, or nil when there is no dashboard.
    package let root: String?
    /// Every file below the root by its path relative to it ("js/app.js").
    private let files: [String: File]

    /// The most bytes read from the dashboard directory; files past it are not served.
    static let maximumBytes = 64 << 20
    /// How deep the walk descends below the root (symlinks may loop).
    static let maximumDepth = 16

    /// Reads the files of `directory` on NIO's blocking thread pool, off the event loops.
    static func load(directory: String?) async throws -> StaticFiles {
        guard let directory else { return StaticFiles(directory: nil) }
        return try await NIOThreadPool.singleton.runIfActive { StaticFiles(directory: directory) }
    }

    /// Reads the files of `directory` on the calling thread; see ``load(directory:)``.
    init(directory: String?) {
        guard let directory else {
            root = nil
            files = [:]
            return
        }
        var isDirectory: ObjCBool = false
        let resolved = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else {
            root = nil
            files = [:]
            return
        }
        root = resolved
        var files: [String: File] = [:]
        var budget = Self.maximumBytes
        Self.walk(root: resolved, relative: "", depth: 0, budget: &budget, into: &files)
        self.files = files
    }

    private static func walk(root: String, relative: String, depth: Int, budget: inout Int, into files: inout [String: File]) {
        guard depth <= maximumDepth else { return }
        let directory = relative.isEmpty ? root : root + "/" + relative
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            let resolved = URL(fileURLWithPath: root + "/" + path).resolvingSymlinksInPath().path
            guard resolved.hasPrefix(root + "/") else { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                walk(root: root, relative: path, depth: depth + 1, budget: &budget, into: &files)
            } else if let data = FileManager.default.contents(atPath: resolved), data.count <= budget {
                budget -= data.count
                files[path] = File(
                    body: ByteBuffer(bytes: data),
                    contentType: MediaTypes.forFile(extension: (resolved as NSString).pathExtension)
                )
            }
        }
    }

    /// The answer for a GET of `path` (still percent-encoded).
    func response(for path: String) throws -> Response {
        guard root != nil else {
            guard path == "/" || path == "/index.html" else { throw GatewayError.notFound(path: path) }
            return Self.noDashboard
        }
        guard let relative = Self.safeRelativePath(path) else { throw GatewayError.notFound(path: path) }
        // A directory answers its index.html.
        let file = relative.isEmpty ? files["index.html"] : files[relative] ?? files[relative + "/index.html"]
        guard let file else { throw GatewayError.notFound(path: path) }
        var headers = HTTPFields()
        headers[.contentType] = file.contentType
        // The dashboard has no build step and no hashed names: always revalidate.
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.body))
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
