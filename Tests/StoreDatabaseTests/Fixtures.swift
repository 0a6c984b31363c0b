import Foundation
import StoreCore

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

/// Runs `body(index)` for `count` indexes as concurrent child tasks, and returns
/// their outcomes in index order.
func concurrently<T: Sendable>(
    _ count: Int, _ body: @escaping @Sendable (Int) async throws -> T
) async -> [Result<T, any Error>] {
    await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
        for index in 0..<count {
            group.addTask {
                do { return (index, .success(try await body(index))) } catch { return (index, .failure(error)) }
            }
        }
        var results: [Int: Result<T, any Error>] = [:]
        for await (index, result) in group { results[index] = result }
        return (0..<count).map { results[$0]! }
    }
}
