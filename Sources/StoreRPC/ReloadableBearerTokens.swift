import NIOPosix
import Synchronization

/// The bearer tokens of the TCP listeners, replaced as a whole by ``reload()``:
/// each connection takes the current tokens when it is accepted, so after a
/// reload new connections need a token of the new file and open ones keep the
/// tokens they started with.
public final class ReloadableBearerTokens: Sendable {
    /// The token file, when the tokens came from one.
    public let path: String?
    private let tokens: Mutex<BearerTokens>

    /// Fixed tokens; ``reload()`` keeps them.
    public init(_ tokens: BearerTokens) {
        self.path = nil
        self.tokens = Mutex(tokens)
    }

    /// Reads the token file now.
    public init(contentsOfFile path: String) throws {
        self.path = path
        self.tokens = Mutex(try BearerTokens(contentsOfFile: path))
    }

    /// The tokens for a connection accepted now.
    public var current: BearerTokens { tokens.withLock { $0 } }

    /// Reads the token file again (on NIO's thread pool). On success new
    /// connections use the new tokens and the result gives the token counts
    /// before and after; on failure (unreadable or empty file) the previous
    /// tokens stay and the error says why.
    @discardableResult
    public func reload() async throws -> (before: Int, after: Int) {
        guard let path else { return (current.count, current.count) }
        let loaded = try await NIOThreadPool.singleton.runIfActive { try BearerTokens(contentsOfFile: path) }
        return tokens.withLock { tokens in
            let before = tokens.count
            tokens = loaded
            return (before, loaded.count)
        }
    }
}
