import ArgumentParser
import Foundation
import KubernetesAPIDouble

/// Serves the Kubernetes API double until interrupted, for trying helm and kubectl
/// against it by hand. It is a stand-in for an API server, not a cluster.
struct APIDoubleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-double",
        abstract: "Serve the Kubernetes API double (a stand-in for an API server, not a cluster) and write a kubeconfig for it."
    )

    @Option(help: "Where to write the kubeconfig that points helm and kubectl at the double.")
    var kubeconfig: String = "/tmp/api-double.kubeconfig"

    @Option(help: "Stop after this many seconds.")
    var seconds: Int = 3600

    @Flag(help: "Print every request when the double stops.")
    var printRequests = false

    func run() async throws {
        let double = try await KubernetesAPIDouble.start()
        try double.writeKubeconfig(to: kubeconfig)
        print("serving \(double.url); KUBECONFIG=\(kubeconfig)")
        try? await Task.sleep(for: .seconds(seconds))
        if printRequests {
            for request in double.requests { print(request) }
        }
        try await double.stop()
    }
}
