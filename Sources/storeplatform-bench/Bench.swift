import ArgumentParser

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storeplatform-bench",
        abstract: "StorePlatform benchmarks. Build with -c release; results go in BENCHMARKS.md.",
        subcommands: [RPCBenchmark.self, ReadsBenchmark.self, LifecycleBenchmark.self, FleetBenchmark.self, ReplicasBenchmark.self, HTTPBenchmark.self, RouterBenchmark.self, KubeAPIBenchmark.self, ConnectionsBenchmark.self, SlowConsumersBenchmark.self, HoldConnections.self, EchoServer.self, FrameEchoServer.self, CannedHTTPServer.self, GatewayServer.self, APIDoubleCommand.self]
    )
}
