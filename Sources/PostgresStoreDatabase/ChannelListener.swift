import Logging
import PostgresNIO
import Synchronization

/// One connection of its own that LISTENs on every channel someone asked for and
/// hands each notification to that channel's subscribers: the one listening
/// connection of a ``PostgresStoreDatabase`` (so of a replica), whatever the number
/// of channels (the commit relay's, the lease releases', the reconcile requests').
///
/// The connection opens at the first subscription and LISTENs on a channel when it is
/// first subscribed to (on the open connection, at once); one that fails or breaks is
/// opened again ``retryDelay`` later, LISTENing on every channel subscribed to by
/// then. Notifications sent meanwhile are missed: every subscriber also looks on a
/// schedule of its own. A channel nobody listens to any more stays LISTENed until
/// the connection is opened again. ``close()`` ends it for good (the database's
/// `close()` and `deinit`: the connection's task holds the listener until then).
final class ChannelListener: Sendable {
    /// How long after a failed or broken connection the next one is opened.
    static let retryDelay: Duration = .seconds(1)

    private struct State {
        /// The subscribers of each channel, by subscription id.
        var subscribers: [String: [UInt64: @Sendable (String) -> Void]] = [:]
        var nextID: UInt64 = 0
        /// Takes channels subscribed to for the first time to the open connection.
        var newChannels: AsyncStream<String>.Continuation?
        /// The channels handed to the open connection (LISTENed on, or about to be).
        var handed: Set<String> = []
        /// The channels the open connection LISTENs on now.
        var listening: Set<String> = []
        var task: Task<Void, Never>?
        var closed = false
    }

    private let url: PostgresDatabaseURL
    private let logger: Logger
    private let state = Mutex(State())

    init(url: PostgresDatabaseURL, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    /// `channel`'s notifications, each payload as `read` makes it (one it makes nil
    /// is left out), for as long as the stream is iterated. Those sent before this
    /// connection LISTENs on `channel` (``listeningChannels``) or while it is
    /// broken are missed.
    func notifications<Element: Sendable>(
        on channel: String, _ read: @escaping @Sendable (String) -> Element?
    ) -> AsyncStream<Element> {
        AsyncStream { continuation in
            let id = subscribe(channel) { payload in
                if let element = read(payload) { continuation.yield(element) }
            }
            continuation.onTermination = { [self] _ in unsubscribe(channel, id) }
        }
    }

    /// The channels the connection LISTENs on now: empty while it is (re)opened.
    var listeningChannels: Set<String> {
        state.withLock { $0.listening }
    }

    /// Closes the connection for good, in the background (a server that stopped
    /// answering may take long to close it); subscribing afterwards hears nothing.
    func close() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            defer { state.task = nil }
            return state.task
        }
        task?.cancel()
    }

    private func subscribe(_ channel: String, _ handle: @escaping @Sendable (String) -> Void) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.subscribers[channel, default: [:]][state.nextID] = handle
            if let newChannels = state.newChannels, state.handed.insert(channel).inserted { newChannels.yield(channel) }
            if state.task == nil, !state.closed {
                state.task = Task { await self.run() }
            }
            return state.nextID
        }
    }

    private func unsubscribe(_ channel: String, _ id: UInt64) {
        state.withLock { state in
            state.subscribers[channel]?[id] = nil
            if state.subscribers[channel]?.isEmpty == true { state.subscribers[channel] = nil }
        }
    }

    /// Opens the connection, and again after each failure, until cancelled.
    private func run() async {
        while !Task.isCancelled {
            do {
                try await listenOnce()
            } catch {
                if Task.isCancelled { return }
                logger.debug(
                    "the listening connection failed; opening another in 1 s",
                    metadata: ["channels": "\(state.withLock { $0.subscribers.keys.sorted() })", "error": "\(error)"]
                )
            }
            try? await Task.sleep(for: Self.retryDelay)
        }
    }

    /// The connection broke: it no longer LISTENs on a channel.
    private struct ListeningEnded: Error {}

    /// One connection, LISTENing on each channel subscribed to (now or while it is
    /// open) until it fails or the task is cancelled.
    private func listenOnce() async throws {
        let connection = try await PostgresStoreDatabase.openConnection(url: url, logger: logger)
        defer { connection.closeLater() }
        let (channels, newChannels) = AsyncStream.makeStream(of: String.self)
        let closed = state.withLock { state -> Bool in
            guard !state.closed else { return true }
            state.newChannels = newChannels
            state.handed = Set(state.subscribers.keys)
            for channel in state.handed { newChannels.yield(channel) }
            return false
        }
        guard !closed else { return }
        defer {
            state.withLock { state in
                state.newChannels = nil
                state.handed = []
                state.listening = []
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Ends when a channel's listening ends (then the stream is finished) or
            // when the task is cancelled.
            for await channel in channels {
                group.addTask { [self] in
                    do {
                        try await listen(on: channel, connection)
                    } catch {
                        newChannels.finish()
                        throw error
                    }
                    newChannels.finish()
                    throw ListeningEnded()
                }
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    private func listen(on channel: String, _ connection: PostgresConnection) async throws {
        try await connection.listen(on: channel) { notifications in
            state.withLock { _ = $0.listening.insert(channel) }
            for try await notification in notifications {
                let subscribers = state.withLock { $0.subscribers[channel].map { Array($0.values) } ?? [] }
                for handle in subscribers { handle(notification.payload) }
            }
        }
    }
}
