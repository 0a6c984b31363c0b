import GRDB
import Synchronization

/// Read-only connections to the database file for the reads that run one SQL
/// statement (``SQLiteStoreDatabase/readStatement(_:)``), taken in turn.
///
/// Each is a GRDB `DatabaseQueue` on its own serial dispatch queue: a read hops
/// from the caller's executor to that queue and back, and nothing else. The pool's
/// own readers cost one hop more per read (every reader is handed out through one
/// serial queue that waits on a semaphore) and a `BEGIN`/`COMMIT` pair. Like the
/// pool's readers, these are WAL readers: they never wait for the writer, and each
/// statement sees the last transaction committed when it starts, by this process
/// or any other, so nothing here is a cache.
final class SQLiteReaders: Sendable {
    private let queues: [DatabaseQueue]
    private let next = Atomic<UInt>(0)

    /// Opens `count` read-only connections to the database at `path`, which must
    /// exist and be in WAL mode.
    init(path: String, count: Int, configuration base: Configuration) throws {
        var configuration = base
        configuration.readonly = true
        configuration.label = (base.label ?? "StoreDatabase") + ".reader"
        queues = try (0..<max(1, count)).map { _ in try DatabaseQueue(path: path, configuration: configuration) }
    }

    /// Runs `body` on the next connection's queue, suspending the caller meanwhile.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let index = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(queues.count))
        return try await queues[index].unsafeRead(body)
    }

    func close() {
        for queue in queues {
            try? queue.close()
        }
    }
}
