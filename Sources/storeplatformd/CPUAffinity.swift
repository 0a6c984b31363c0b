import Foundation

/// The CPUs this process may run on, from its affinity mask (`taskset`, a
/// container's cpuset). NIO sizes its event-loop group from the machine's cores
/// and cgroup quotas but not from this mask, so a daemon pinned to one core
/// would otherwise run one loop per machine core, all preempting each other on
/// that core.
enum CPUAffinity {
    /// How many CPUs the affinity mask allows, or nil when it cannot be read.
    static func allowedCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return allowedCount(procStatus: status)
    }

    /// The count in a `/proc/<pid>/status` text's `Cpus_allowed_list:` line
    /// ("0-3,8,10-11" is 7); nil when the line is missing or malformed.
    static func allowedCount(procStatus: String) -> Int? {
        let key = "Cpus_allowed_list:"
        guard let line = procStatus.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
        var count = 0
        for item in line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            switch bounds.count {
            case 1 where bounds[0] != nil: count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                count += high - low + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }
}
