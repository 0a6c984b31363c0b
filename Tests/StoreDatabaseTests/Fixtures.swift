import Foundation
import StoreCore
import Synchronization

/// A fixed instant with whole milliseconds, so stored dates compare exactly.
let baseTime = Date(timeIntervalSince1970: 1_700_000_000.123)

/// `seconds` after ``baseTime``, to the millisecond.
func instant(_ seconds: Double) -> Date {
    Date(timeIntervalSince1970: (baseTime.timeIntervalSince1970 * 1000 + seconds * 1000).rounded() / 1000)
}

/// A new queued store named `name`, created at `createdAt`.
func queuedStore(_ name: String, id: String? = nil, createdAt: Date = baseTime) -> Store {
    let id = id ?? Store.makeID()
    return Store(
        id: id,
        name: name,
        engine: "woocommerce",
        status: .queued,
        namespace: "store-\(name)-\(id.suffix(6))",
        release: name,
        createdAt: createdAt,
        updatedAt: createdAt
    )
}

/// Runs `body(index)` on `count` threads that start together, and returns the results
/// in index order.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = Mutex<[Int: T]>([:])
    let ready = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for index in 0..<count {
        ready.enter()
        done.enter()
        let thread = Thread {
            ready.leave()
            start.wait()
            let result = body(index)
            results.withLock { $0[index] = result }
            done.leave()
        }
        thread.start()
    }
    ready.wait()
    for _ in 0..<count { start.signal() }
    done.wait()
    return results.withLock { results in (0..<count).map { results[$0]! } }
}
