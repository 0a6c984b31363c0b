import Foundation

/// Prints rows as left-aligned columns separated by two spaces. The last cell
/// of a row may span lines: its later lines are indented under its column.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.map(\.count).max() else { return }
    var widths = Array(repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() where index < row.count - 1 {
            widths[index] = max(widths[index], cell.count)
        }
    }
    for row in rows {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        let indent = String(repeating: " ", count: widths.prefix(row.count - 1).reduce(0) { $0 + $1 + 2 })
        var line = cells.joined(separator: "  ").replacingOccurrences(of: "\n", with: "\n" + indent)
        while line.last == " " { line.removeLast() }
        print(line)
    }
}
