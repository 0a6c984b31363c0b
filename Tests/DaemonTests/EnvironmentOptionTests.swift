import Foundation
import ProcessTestSupport
import Testing

@testable import storeplatformd

/// Every option's environment variable (Sources/storeplatformd/EnvironmentOption.swift):
/// passed as its flag, so it is parsed and checked as the flag is, and the command
/// line wins.
@Suite struct EnvironmentOptionTests {
    /// The table names exactly the variables the options' help names (but the
    /// socket's and the TCP listener's, which DefaultPaths reads), each beside its flag.
    @Test func theTableIsTheHelp() {
        let help = DaemonCommand.helpMessage(columns: 10_000)
        let named = Set(help.matches(of: /\(STOREPLATFORM_[A-Z_]+/).map { String($0.output.dropFirst()) })
        #expect(Set(EnvironmentOption.all.map(\.variable)) == named.subtracting(["STOREPLATFORM_SOCKET", "STOREPLATFORM_TCP"]))
        for option in EnvironmentOption.all {
            let line = help.split(separator: "\n").first { $0.contains("--\(option.flag) ") || $0.hasSuffix("--\(option.flag)") }
            #expect(line != nil, "--\(option.flag) is not an option")
        }
    }

    @Test func variablesBecomeFlagsAndTheCommandLineWins() throws {
        let environment = [
            "STOREPLATFORM_MAX_LIVE_STORES": "7", "STOREPLATFORM_CORS_ORIGINS": "https://a.example,https://b.example",
            "STOREPLATFORM_DELETE_ORPHANS": "1", "STOREPLATFORM_ALLOW_PLAIN_TOKENS": "0", "STOREPLATFORM_CLUSTER": "helm",
            "STOREPLATFORM_LOG_LEVEL": "",
        ]
        let arguments = try EnvironmentOption.arguments(["--cluster", "simulated"], environment: environment)
        #expect(Set(arguments.dropLast(2)) == [
            "--max-live-stores=7", "--cors-origin=https://a.example", "--cors-origin=https://b.example", "--delete-orphans",
        ])
        #expect(arguments.suffix(2) == ["--cluster", "simulated"])
        let command = try DaemonCommand.parse(arguments)
        #expect(command.maxLiveStores == 7)
        #expect(command.corsOrigins == ["https://a.example", "https://b.example"])
        #expect(command.deleteOrphans && !command.allowPlainTokens)
        #expect(command.cluster == "simulated")
        #expect(command.logLevel == "info")
    }

    @Test func aFlagVariableIsOneOrZero() {
        #expect(throws: DaemonError.self) {
            try EnvironmentOption.arguments([], environment: ["STOREPLATFORM_DELETE_ORPHANS": "yes"])
        }
    }

    /// A value that does not parse stops the daemon at start, saying which variable
    /// set it; before, it fell back to the default without a word.
    @Test func aBadValueNamesItsVariable() async throws {
        let product = productsDirectory.appendingPathComponent("storeplatformd").path
        let result = try await runCommand(product, ["--socket", temporaryPath("sp-env", suffix: ".sock")], environment: [
            "STOREPLATFORM_MAX_LIVE_STORES": "ten",
        ])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("'ten'"), "\(result.stderr)")
        #expect(result.stderr.contains("--max-live-stores"), "\(result.stderr)")
        #expect(result.stderr.hasSuffix("(set by STOREPLATFORM_MAX_LIVE_STORES)\n"), "\(result.stderr)")

        // Help is help, whatever the environment sets.
        let help = try await runCommand(product, ["--help"], environment: ["STOREPLATFORM_LOG_LEVEL": "debug"])
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("USAGE: storeplatformd"), "\(help.stdout.prefix(300))")

        let orphans = try await runCommand(product, [], environment: ["STOREPLATFORM_DELETE_ORPHANS": "true"])
        #expect(orphans.status == 64, "\(orphans.stderr)")
        #expect(orphans.stderr.contains("STOREPLATFORM_DELETE_ORPHANS=true is neither 1 nor 0"), "\(orphans.stderr)")
    }
}
