import Foundation
import NIOCore
import NIOPosix
import StoreRPC

@main
enum Entry {
    static func main() async {
        // One event loop per CPU the process may run on, as NIO already does for a
        // cgroup CPU quota (it counts the machine's cores but not the affinity
        // mask), unless NIO_SINGLETON_GROUP_LOOP_COUNT says otherwise.
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil,
            let allowed = CPUAffinity.allowedCount(), allowed < System.coreCount
        {
            NIOSingletons.groupLoopCountSuggestion = allowed
        }
        // Run Swift concurrency on NIO's event loops, so a call's handler resumes on
        // the thread that read its frame instead of hopping to another pool and
        // back. Must happen first, on the main thread, before any task starts.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        // Foundation reads the system time zone (/etc/localtime, ICU's data) the first
        // time a date is turned into text or calendar fields: here, at start, rather
        // than in the first request that needs it, on an event loop.
        _ = Calendar.current.dateComponents(in: TimeZone.current, from: Date())
        // With TZ unset, glibc checks /etc/localtime (a stat) on every localtime_r, which
        // the text log handler calls for each line's time; TZ naming that same zone
        // keeps the zone loaded once.
        if ProcessInfo.processInfo.environment["TZ"] == nil {
            setenv("TZ", TimeZone.current.identifier, 1)
        }
        await DaemonCommand.main()
    }
}
