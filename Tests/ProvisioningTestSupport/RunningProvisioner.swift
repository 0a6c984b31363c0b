import Provisioning

/// Runs a provisioner's service for as long as this object lives (a test's
/// lifetime), as the daemon's ServiceGroup does. ``stop()`` cancels it, as a
/// daemon that stops with operations under way does, and waits for it to return.
public final class RunningProvisioner: Sendable {
    private let task: Task<Void, any Error>

    public init(_ provisioner: Provisioner) {
        task = Task { try await provisioner.run() }
    }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }

    deinit {
        task.cancel()
    }
}
