import ArgumentParser
import Foundation

/// The C load client (clients/c/tools/storeplatform-load.c, `make -C clients/c load`):
/// many calls in flight on one Unix connection, every answer parsed, its own CPU
/// time reported, so a row shows the client's ceiling beside the server's cost.
struct CLoadClient {
    let path: String

    /// One run's figures, from the client's line of key=value pairs.
    struct Result {
        var calls: Int
        var seconds: Double
        var p50: Double?
        var p99: Double?
        var serverCPU: Int
        var clientCPU: Int
        var treeCPU: Int

        var callsPerSecond: Double { Double(calls) / seconds }
        /// Microseconds of the client's CPU per call.
        var clientCPUPerCall: Double { Double(clientCPU) / Double(calls) }
        /// The calls per second one core of the client could drive at this cost:
        /// the most the client could show of any server.
        var clientCeiling: Double { clientCPUPerCall > 0 ? 1e6 / clientCPUPerCall : .infinity }
    }

    /// - Throws: `ValidationError` when there is no client at `path`, saying how to build it.
    init(path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("no load client at \(path): run `make -C clients/c load` (scripts/bench does)")
        }
        self.path = path
    }

    /// Runs the client once with `arguments` and reads its line.
    func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("the load client failed (\(arguments.joined(separator: " "))); its error is above")
        }
        var values: [String: Double] = [:]
        for pair in text.split(whereSeparator: \.isWhitespace) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        guard let calls = values["calls"], let seconds = values["seconds"], calls > 0 else {
            throw ValidationError("cannot read the load client's output: \(text)")
        }
        return Result(
            calls: Int(calls), seconds: seconds, p50: values["p50_us"], p99: values["p99_us"],
            serverCPU: Int(values["server_cpu_us"] ?? 0), clientCPU: Int(values["client_cpu_us"] ?? 0),
            treeCPU: Int(values["tree_cpu_us"] ?? 0)
        )
    }
}
