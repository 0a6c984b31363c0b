import StoreCore
import Testing

@Suite("Error code table")
struct ErrorCodeTests {
    /// DESIGN.md's table, row by row, and the rows added after it (README.md, "HTTP API and dashboard").
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
    ])
    func codeMapsToItsGRPCCodeAndHTTPStatus(code: String, grpc: String, http: Int) throws {
        let errorCode = try #require(ErrorCode(rawValue: code))
        #expect("\(errorCode.grpcCode)" == grpc)
        #expect(errorCode.httpStatus == http)
    }

    @Test func everyCodeHasAnEntry() {
        for code in ErrorCode.allCases {
            #expect(code.httpStatus >= 400)
        }
    }

    @Test func statusCarriesCodeMessageAndRetryAfter() {
        let error = PlatformError(.rateLimited, "slow down", retryAfterMilliseconds: 1500)
        #expect(error.status.code == .resourceExhausted)
        #expect(error.status.errorCode == "RATE_LIMITED")
        #expect(error.status.message == "slow down")
        #expect(error.status.retryAfterMs == 1500)
    }
}
