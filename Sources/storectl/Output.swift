import Foundation
import SwiftProtobuf

/// Prints one line and flushes it, so a line of a stream or of --wait reaches a
/// pipe when it happens rather than when the buffer fills.
func printLine(_ line: String) {
    print(line)
    fflush(nil)
}

/// Prints a message as one line of proto3 JSON (for streams, pages and --wait:
/// one object per line).
func printJSONLine(_ message: some SwiftProtobuf.Message) throws {
    printLine(try message.jsonString())
}

/// Writes a hint for the person at the terminal (the next page, a caveat) on
/// standard error, so standard output holds only the answer.
func printNote(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Text on one line for a table cell: runs of whitespace, newlines included,
/// become one space. `--json` keeps the text as it is.
func singleLine(_ text: String) -> String {
    text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
}
