import NIOCore

/// A task executor that runs every job on one event loop. A call's task runs
/// with it as its preference (`Task(executorPreference:)`), so it resumes on its
/// connection's loop after each `await` — a database read's answer included —
/// instead of on whichever loop NIO's global executor picks for a job enqueued
/// from another thread, which then had to hand the answer over to the
/// connection's loop: one thread wake-up more per call.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
