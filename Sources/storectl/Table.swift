/// Prints rows as left-aligned columns separated by two spaces.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.map(\.count).max() else { return }
    var widths = Array(repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() {
            widths[index] = max(widths[index], cell.count)
        }
    }
    for row in rows {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}

/// "3d 4h", "2h 5m", "4m 12s", "12.3s".
func formatDuration(seconds: Double) -> String {
    let total = Int(seconds)
    let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60)
    if days > 0 { return "\(days)d \(hours)h" }
    if hours > 0 { return "\(hours)h \(minutes)m" }
    if minutes > 0 { return "\(minutes)m \(total % 60)s" }
    return String(format: "%.1fs", seconds)
}
