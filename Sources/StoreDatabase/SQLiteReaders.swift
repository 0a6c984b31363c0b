import Dispatch
import GRDB
import Synchronization

/// Read-only connections to the database file for the reads that run one SQL
/// statement (``SQLiteStoreDatabase/readStatement(_:)``).
///
/// Each is a GRDB `DatabaseQueue` on its own serial dispatch queue: a read hops
/// from the caller's executor to that queue and back, and nothing else. The pool's
/// own readers cost one hop more per read (every reader is handed out through one
/// serial queue that waits on a semaphore) and a `BEGIN`/`COMMIT` pair. Like the
/// pool's readers, these are WAL readers: they never wait for the writer, and each
/// statement sees the last transaction committed when it starts, by this process
/// or any other, so nothing here is a cache.
///
/// A read goes to the first connection with fewer than ``spillAt`` reads queued,
/// else to the least busy: under load reads gather on one queue, whose thread runs
/// them back to back on one wake-up, and spill to the next only when it falls
/// behind (or a long read holds it).
final class SQLiteReaders: Sendable {
    /// One connection, opened when it is first needed (most databases only ever
    /// need the first), on a thread of Dispatch's own, never the caller's.
    private final class Reader: Sendable {
        let queued = Atomic<Int>(0)
        private let path: String
        private let configuration: Configuration
        private let opened = Mutex<DatabaseQueue?>(nil)

        init(path: String, configuration: Configuration) {
            self.path = path
            self.configuration = configuration
        }

        /// The connection, once opened.
        var queue: DatabaseQueue? { opened.withLock { $0 } }

        /// Opens the connection (unless a read racing this one did first).
        func open() async throws -> DatabaseQueue {
            let (path, configuration) = (path, configuration)
            let new = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try DatabaseQueue(path: path, configuration: configuration) })
                }
            }
            // Two first reads may race to open it: the first one opened is kept.
            let (kept, spare) = opened.withLock { queue -> (DatabaseQueue, DatabaseQueue?) in
                if let queue { return (queue, new) }
                queue = new
                return (new, nil)
            }
            // Closing a connection touches the files too: off the caller's thread.
            if let spare { DispatchQueue.global().async { try? spare.close() } }
            return kept
        }

        func close() {
            try? opened.withLock { $0 }?.close()
        }
    }

    /// Reads queued on one connection before the next one gets reads too.
    static let spillAt = 8

    private let readers: [Reader]

    /// Up to `count` read-only connections to the database at `path`, which must
    /// exist and be in WAL mode.
    init(path: String, count: Int, configuration base: Configuration) {
        var configuration = base
        configuration.readonly = true
        configuration.label = (base.label ?? "StoreDatabase") + ".reader"
        readers = (0..<max(1, count)).map { _ in Reader(path: path, configuration: configuration) }
    }

    /// Runs `body` on one connection's queue, suspending the caller meanwhile.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        var chosen = readers[0]
        var least = Int.max
        for reader in readers {
            let queued = reader.queued.load(ordering: .relaxed)
            if queued < Self.spillAt {
                chosen = reader
                break
            }
            if queued < least {
                least = queued
                chosen = reader
            }
        }
        chosen.queued.add(1, ordering: .relaxed)
        defer { chosen.queued.subtract(1, ordering: .relaxed) }
        // The common case, an open connection, costs no suspension before the read's own.
        if let queue = chosen.queue { return try await queue.unsafeRead(body) }
        return try await chosen.open().unsafeRead(body)
    }

    func close() {
        for reader in readers {
            reader.close()
        }
    }
}
