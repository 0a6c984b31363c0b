import NIOCore
import NIOPosix

@main
enum Entry {
    static func main() async {
        // Run Swift concurrency on NIO's event loops, so a call's handler resumes on
        // the thread that read its frame instead of hopping to another pool and
        // back. Must happen first, on the main thread, before any task starts.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await DaemonCommand.main()
    }
}
