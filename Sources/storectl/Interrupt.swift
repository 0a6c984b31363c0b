import ArgumentParser
import Dispatch
import Foundation
import Synchronization

/// Runs `body` in a task that Ctrl-C (SIGINT) cancels, so the calls and streams
/// it has open are cancelled on the wire (the client sends CANCEL) instead of
/// vanishing with the process. A second Ctrl-C ends the process at once, for a
/// body that does not notice cancellation.
///
/// Throws `ExitCode(130)` (the shell's code for "ended by SIGINT") once
/// interrupted, whatever the cancelled body returned or threw.
func cancellingOnInterrupt<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let interrupted = InterruptFlag()
    let task = Task { try await body() }
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler {
        interrupted.set()
        signal(SIGINT, SIG_DFL)
        task.cancel()
    }
    source.resume()
    defer {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
    let result = await withTaskCancellationHandler {
        await task.result
    } onCancel: {
        task.cancel()
    }
    if interrupted.isSet { throw ExitCode(130) }
    return try result.get()
}

/// Set once by the SIGINT handler, read by the waiting task.
private final class InterruptFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
