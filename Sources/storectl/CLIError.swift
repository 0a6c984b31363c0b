import ArgumentParser
import Foundation
import StoreRPC

/// Failures that end a storectl run, each with its documented exit code.
enum CLIError: Error {
    /// Bad usage found after parsing (an unreadable token file): exit 2.
    case usage(String)
    /// The operation a --wait followed failed, or the wait ended without an
    /// outcome: exit 1, like a refused call.
    case failed(String)
    /// The daemon could not be reached: exit 3, printed as UNAVAILABLE.
    case unreachable(String)
}

/// Runs a subcommand's body, printing failures as "error: CODE: message" on
/// standard error and exiting with the documented code.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RPCError {
        let unreachable = error.code == .unavailable && error.errorCode == "UNAVAILABLE"
        var line = "error: \(error.errorCode): \(error.message)"
        if let requestID = error.metadata["request-id"] { line += " (request id \(requestID))" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        throw ExitCode(unreachable ? 3 : 1)
    } catch CLIError.usage(let message) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        throw ExitCode(2)
    } catch CLIError.unreachable(let message) {
        FileHandle.standardError.write(Data("error: UNAVAILABLE: \(message)\n".utf8))
        throw ExitCode(3)
    } catch CLIError.failed(let message) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        throw ExitCode(1)
    }
}
