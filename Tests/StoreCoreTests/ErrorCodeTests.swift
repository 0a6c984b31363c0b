import Foundation
import StoreCore
import Testing

@Suite("Error code table")
struct ErrorCodeTests {
    /// docs/ARCHITECTURE.md's table ("Errors"), row by row.
    @Test(arguments: [
        ("MISSING_STORE_NAME", "invalidArgument", 400),
        ("INVALID_STORE_NAME", "invalidArgument", 400),
        ("INVALID_ENGINE", "invalidArgument", 400),
        ("ENGINE_UNAVAILABLE", "failedPrecondition", 400),
        ("STORE_NAME_TAKEN", "alreadyExists", 409),
        ("QUOTA_EXCEEDED", "resourceExhausted", 429),
        ("RATE_LIMITED", "resourceExhausted", 429),
        ("NOT_FOUND", "notFound", 404),
        ("INVALID_STATE_TRANSITION", "failedPrecondition", 409),
        ("OPERATION_IN_PROGRESS", "aborted", 409),
        ("INVALID_JSON", "invalidArgument", 400),
        ("UNAUTHENTICATED", "unauthenticated", 401),
        ("PERMISSION_DENIED", "permissionDenied", 403),
        ("INTERNAL_ERROR", "internal", 500),
        ("UNSUPPORTED_MEDIA_TYPE", "invalidArgument", 415),
        ("HEADERS_TOO_LARGE", "resourceExhausted", 431),
        ("WATCH_FELL_BEHIND", "aborted", 409),
        ("REQUEST_TIMEOUT", "deadlineExceeded", 408),
        ("UNKNOWN_VERSION", "invalidArgument", 400),
        ("ALREADY_ON_VERSION", "failedPrecondition", 409),
        ("UNKNOWN_REVISION", "invalidArgument", 400),
        ("FLEET_UPGRADE_IN_PROGRESS", "failedPrecondition", 409),
    ])
    func codeMapsToItsGRPCCodeAndHTTPStatus(code: String, grpc: String, http: Int) throws {
        let errorCode = try #require(ErrorCode(rawValue: code))
        #expect("\(errorCode.grpcCode)" == grpc)
        #expect(errorCode.httpStatus == http)
    }

    /// The design document's table is the code's table: every code in it, with the
    /// same gRPC code and HTTP status, and no other.
    @Test func theDesignDocumentListsExactlyTheCodesTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Errors").dropFirst().first?.components(separatedBy: "\n## ").first)
        var documented: [String: String] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| ") && !line.hasPrefix("| code") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            documented[cells[0]] = "\(cells[1]) \(cells[2])"
        }
        let grpcNames = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map { ($0, "\($0.grpcCode)") })
        let expected = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map { code in
            // "failedPrecondition" → "FAILED_PRECONDITION", as the table spells gRPC codes.
            let grpc = grpcNames[code]!.reduce(into: "") { name, character in
                if character.isUppercase { name += "_" }
                name += character.uppercased()
            }
            return (code.rawValue, "\(grpc) \(code.httpStatus)")
        })
        #expect(documented == expected)
    }

    @Test func everyCodeHasAnEntry() {
        for code in ErrorCode.allCases {
            #expect(code.httpStatus >= 400)
        }
    }
}
