import Foundation
import ServiceLifecycle
import Synchronization

/// SIGTERM or SIGINT that arrives while the daemon starts, before its ServiceGroup
/// traps them: the sockets may already answer then (a test, or Kubernetes replacing
/// a pod that just became ready, may send it), and the default action would kill the
/// process without a graceful shutdown. ``install()`` notes such a signal instead;
/// this service, started after the group traps the signals, shuts the group down
/// gracefully when one came.
struct EarlySignals: Service {
    private static let caught = Atomic<Int32>(0)

    /// Notes SIGTERM and SIGINT until the ServiceGroup traps them.
    static func install() {
        // Initialized here, not first in a signal handler.
        _ = caught.load(ordering: .relaxed)
        for signal in [SIGTERM, SIGINT] {
            Foundation.signal(signal) { number in EarlySignals.caught.store(number, ordering: .relaxed) }
        }
    }

    /// Ends at once when a signal came during start-up (the group, told to shut down
    /// when this service ends, then does so gracefully); otherwise at shutdown.
    func run() async throws {
        guard Self.caught.load(ordering: .relaxed) == 0 else { return }
        try? await gracefulShutdown()
    }
}
