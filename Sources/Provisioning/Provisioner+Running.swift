extension Provisioner {
    /// Runs the service beside `body` (for tools that use a provisioner without a
    /// ServiceGroup), then cancels it and waits for it to return: operations still
    /// running stop, and their stores keep their status for the next start.
    public func withRunning<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.run() }
            do {
                let value = try await body()
                group.cancelAll()
                return value
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
