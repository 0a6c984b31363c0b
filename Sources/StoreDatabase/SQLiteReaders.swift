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
    private final class Reader: Sendable {
        let queue: DatabaseQueue
        let queued = Atomic<Int>(0)

        init(queue: DatabaseQueue) {
            self.queue = queue
        }
    }

    /// Reads queued on one connection before the next one gets reads too.
    static let spillAt = 8

    private let readers: [Reader]

    /// Opens `count` read-only connections to the database at `path`, which must
    /// exist and be in WAL mode.
    init(path: String, count: Int, configuration base: Configuration) throws {
        var configuration = base
        configuration.readonly = true
        configuration.label = (base.label ?? "StoreDatabase") + ".reader"
        readers = try (0..<max(1, count)).map { _ in Reader(queue: try DatabaseQueue(path: path, configuration: configuration)) }
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
        return try await chosen.queue.unsafeRead(body)
    }

    func close() {
        for reader in readers {
            try? reader.queue.close()
        }
    }
}
