import Foundation

extension Date {
    /// Milliseconds since 1970-01-01 UTC, rounded to the nearest: how the database
    /// stores every date, and the wire carries it.
    public var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded())
    }

    /// The date `milliseconds` after 1970-01-01 UTC. Converting the result back with
    /// ``millisecondsSince1970`` gives `milliseconds` again.
    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
