import Foundation

/// "3d 4h", "2h 5m", "4m 12s", "12.3s".
func formatDuration(seconds: Double) -> String {
    let total = Int(seconds)
    let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60)
    if days > 0 { return "\(days)d \(hours)h" }
    if hours > 0 { return "\(hours)h \(minutes)m" }
    if minutes > 0 { return "\(minutes)m \(total % 60)s" }
    return String(format: "%.1fs", seconds)
}

/// A duration given in milliseconds: "-" for 0 (none), "350 ms" under a
/// second, else as ``formatDuration(seconds:)``.
func formatDuration(milliseconds: Double) -> String {
    if milliseconds <= 0 { return "-" }
    if milliseconds < 1000 { return String(format: "%.0f ms", milliseconds) }
    return formatDuration(seconds: milliseconds / 1000)
}

/// A Unix-milliseconds time as ISO 8601 in UTC ("2025-05-01T12:00:03Z");
/// "-" for 0, which the contract uses for "never".
func formatTimestamp(milliseconds: Int64) -> String {
    guard milliseconds != 0 else { return "-" }
    return Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(.iso8601)
}

/// How long ago a Unix-milliseconds time was ("4m 12s"); "-" for 0.
func formatAge(sinceMilliseconds milliseconds: Int64, now: Date = Date()) -> String {
    guard milliseconds != 0 else { return "-" }
    return formatDuration(seconds: max(0, now.timeIntervalSince1970 - Double(milliseconds) / 1000))
}
