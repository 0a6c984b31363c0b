import Foundation
import KubernetesAPIDouble
import ProcessTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// helm/platform's RBAC checked against what the real helm (v3 and v4) and kubectl
/// do: the double enforces RBAC with the chart's rendered ClusterRoles and
/// ClusterRoleBinding, and the driver runs as the platform's service account.
@Suite("helm/platform's RBAC against the real helm and kubectl", .enabled(if: realToolsEnabled))
struct RBACTests {
    /// Every path of a store's life, as the platform's service account: nothing is
    /// refused, and every permission the two ClusterRoles grant is used by some
    /// request, so nothing is granted that is not needed.
    @Test(arguments: HelmMajor.allCases)
    func theLifecycleNeedsExactlyWhatThePlatformGrants(_ major: HelmMajor) async throws {
        // The store chart's HorizontalPodAutoscaler is off by default; an operator
        // turns it on for every store with a values file, so the store role grants
        // what installing it needs, and this run turns it on to use that grant.
        let valuesFile = temporaryPath("sprbac-values", suffix: ".yaml")
        try "autoscaling:\n  enabled: true\n".write(toFile: valuesFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: valuesFile) }
        let harness = try await APIDoubleHarness.start(major, asServiceAccount: true, driver: { $0.valuesFiles = [valuesFile] }) {
            $0.cleanupTimeout = .seconds(30)
        }
        defer { Task { try await harness.stop() } }
        let rbac = try await PlatformRBAC.render(major, api: harness.api, directory: harness.directory)
        #expect(Set(rbac.clusterRoles.compactMap { $0[path: "metadata.name"]?.string }) == ["storeplatform", APIDoubleHarness.storeRole])
        #expect(rbac.clusterRoleBindings.compactMap { $0[path: "roleRef.name"]?.string } == ["storeplatform"])
        // The chart's service account is the one the harness's driver binds.
        #expect(rbac.clusterRoleBindings.first?["subjects"] == [["kind": "ServiceAccount", "name": "storeplatform", "namespace": "storeplatform"]])
        try rbac.seed(harness.api)
        harness.api.clearRequests()

        // 1. Create: namespace, RoleBinding (the escalation check: bind), Secret,
        //    helm install (the setup Job hook), readiness.
        let shop = try await harness.create("shop")
        #expect(try await harness.waitFor(shop.id, [.ready, .failed]).status == .ready)

        // 2. A pod fault fails the store (readiness reads the events); a retry
        //    uninstalls, waits for the old pods and claims to go, installs again.
        harness.api.setBehavior { $0.podRules = [.init(namespacePrefix: "store-crash-", component: "wordpress", outcome: .crashLoopBackOff)] }
        let crash = try await harness.create("crash")
        let failed = try await harness.waitFor(crash.id, [.failed, .ready])
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.contains("pods failing: CrashLoopBackOff"), "\(failed.errorMessage)")
        #expect(failed.errorMessage.contains("events: Warning"), "\(failed.errorMessage)")
        harness.api.setBehavior { $0.podRules = [] }
        _ = try await harness.provisioner.retry(storeID: crash.id, actor: "uid:0", requestID: nil)
        let retried = try await harness.waitFor(crash.id, [.ready, .failed])
        #expect(retried.status == .ready, "\(retried.errorMessage)")

        // 3. A reconcile pass over ready stores (listManaged): nothing to correct.
        #expect(try await harness.reconciler.reconcile().corrections.isEmpty)

        // 4. A namespace deleted behind the platform's back: the pass fails its store
        //    (drift), and a retry makes namespace, binding, Secret and release again.
        try harness.api.delete("namespaces", name: shop.namespace)
        try await harness.eventually("namespace \(shop.namespace) gone") { try harness.api.object("namespaces", name: shop.namespace) == nil }
        let drift = try await harness.reconciler.reconcile()
        #expect(drift.corrections.map(\.storeID) == [shop.id])
        _ = try await harness.provisioner.retry(storeID: shop.id, actor: "uid:0", requestID: nil)
        let recovered = try await harness.waitFor(shop.id, [.ready, .failed])
        #expect(recovered.status == .ready, "\(recovered.errorMessage)")

        // 5. A store whose namespace an older version of the platform made, managed
        //    but without the Pod Security labels, resumed by a pass: the driver adds
        //    the labels (kubectl label: namespaces patch) and binds the store role.
        let legacy = Store.queued(name: try StoreName.validate("legacy"), engine: try StoreEngines.resolve(""), now: Date())
        try await harness.database.importStores([legacy], actor: "system")
        try harness.api.seed("namespaces", [
            "metadata": [
                "name": .string(legacy.namespace),
                "labels": .object([HelmCLIDriver.managedByLabel: .string(HelmCLIDriver.managedByValue), HelmCLIDriver.storeIDLabel: .string(legacy.id)]),
            ],
        ])
        _ = try await harness.reconciler.reconcile()
        let adopted = try await harness.waitFor(legacy.id, [.ready, .failed])
        #expect(adopted.status == .ready, "\(adopted.errorMessage)")
        let labels = try harness.api.object("namespaces", name: legacy.namespace)?[path: "metadata.labels"]?.stringMap ?? [:]
        #expect(labels["pod-security.kubernetes.io/enforce"] == "restricted")

        // 6. Delete every store: helm uninstall, the namespace deleted and watched
        //    until it is gone; then a last pass with nothing left.
        for store in [shop, crash, legacy] {
            _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        }
        for store in [shop, crash, legacy] {
            let deleted = try await harness.waitFor(store.id, [.deleted, .failed])
            #expect(deleted.status == .deleted, "\(deleted.errorMessage)")
        }
        #expect(try await harness.reconciler.reconcile().orphanNamespaces.isEmpty)

        let requests = harness.api.requests
        // Every request was the service account's: RBAC was asked about each.
        let others = requests.filter { $0.user != APIDoubleHarness.serviceAccountUser }
        #expect(others.isEmpty, "requests not made as the platform's service account: \(others)")

        // (a) Nothing was refused.
        let refused = requests.filter { [401, 403].contains($0.status) }
        let refusals = refused.map { "\($0): \($0.authorization.filter { !$0.allowed })" }.joined(separator: "\n")
        #expect(refused.isEmpty, "refused:\n\(refusals)")

        // (b) Every grant was used: some check it allowed, where its role is bound.
        // The store role is bound where the driver made (or found) its RoleBinding.
        let storeNamespaces = Set(
            requests.filter { $0.verb == "create" && $0.resource == "rolebindings.rbac.authorization.k8s.io" && [201, 409].contains($0.status) }
                .compactMap(\.namespace)
        )
        #expect(storeNamespaces == [shop.namespace, crash.namespace, legacy.namespace])
        let checks = requests.flatMap { request in request.authorization.map { (request, $0) } }
        let unused = rbac.grants.filter { grant in !checks.contains { grant.allowed($0.1, storeNamespaces: storeNamespaces) } }
        #expect(
            Set(unused) == Self.usedOnlyByTheOtherHelm(major, rbac.grants),
            "granted but not used with helm \(major.rawValue):\n\(unused.map(\.description).joined(separator: "\n"))"
        )
        // STOREPLATFORM_RBAC_REPORT=1 prints each grant with requests that used it:
        // what the comments in clusterrole.yaml are written from.
        if ProcessInfo.processInfo.environment["STOREPLATFORM_RBAC_REPORT"] == "1" {
            for grant in rbac.grants {
                let uses = checks.filter { grant.allowed($0.1, storeNamespaces: storeNamespaces) }.map { "\($0.0)" }
                print("RBAC \(major.rawValue) \(grant) ← \(Set(uses).sorted().prefix(3).joined(separator: " | "))")
            }
        }
    }

    /// The grants one helm major never uses and the other does. Each run expects
    /// exactly its own list, so between the two runs every grant is used, and a
    /// helm that starts (or stops) using one fails the test.
    static func usedOnlyByTheOtherHelm(_ major: HelmMajor, _ grants: [PlatformRBAC.Grant]) -> Set<PlatformRBAC.Grant> {
        Set(grants.filter { grant in
            guard grant.role == APIDoubleHarness.storeRole else { return false }
            switch major {
            // helm 3 creates the chart's objects with POST; helm 4 applies them
            // server-side, a PATCH (the release records are never patched).
            case .v3: return grant.verb == "patch"
            // helm 3 reads the hook Job (get), then lists and watches it until it
            // completes; helm 4 only watches it.
            case .v4: return grant.resource == "jobs" && ["get", "list"].contains(grant.verb)
            }
        })
    }

    /// The ClusterRole bound cluster-wide reaches no Secret and makes no workload
    /// outside the store namespaces, and cannot bind any other role there.
    @Test(arguments: HelmMajor.allCases)
    func theClusterWideRoleReachesNothingOutsideStoreNamespaces(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major, asServiceAccount: true)
        defer { Task { try await harness.stop() } }
        let rbac = try await PlatformRBAC.render(major, api: harness.api, directory: harness.directory)
        try rbac.seed(harness.api)
        try harness.api.seed("namespaces", ["metadata": ["name": "kube-system"]])
        try harness.api.seed("namespaces", ["metadata": ["name": "default"]])
        try harness.api.seed("namespaces", ["metadata": ["name": "unmanaged"]])
        try harness.api.seed("clusterroles.rbac.authorization.k8s.io", [
            "metadata": ["name": "edit"],
            "rules": [["apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]]],
        ])
        harness.api.clearRequests()
        let user = APIDoubleHarness.serviceAccountUser
        let runner = CommandRunner(timeout: .seconds(60), errorLimit: 64 * 1024)
        func kubectl(_ arguments: [String], input: String? = nil) async throws -> Provisioning.CommandResult {
            try await runner.run(Command(major.kubectl, arguments + ["--kubeconfig", harness.directory + "/kubeconfig"], input: input, outputLimit: 1 << 20))
        }
        func binding(_ name: String, to role: String) -> String {
            JSON.object([
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": ["name": .string(name), "namespace": "unmanaged"],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
                "subjects": [["kind": "ServiceAccount", "name": "storeplatform", "namespace": "storeplatform"]],
            ]).text
        }
        let deployment = JSON.object([
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": "intruder", "namespace": "default"],
            "spec": [
                "selector": ["matchLabels": ["app": "intruder"]],
                "template": ["metadata": ["labels": ["app": "intruder"]], "spec": ["containers": [["name": "c", "image": "busybox"]]]],
            ],
        ]).text

        let refusals: [(what: String, arguments: [String], input: String?, message: String)] = [
            ("Secrets in kube-system", ["get", "secrets", "-n", "kube-system"], nil,
             "secrets is forbidden: User \"\(user)\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""),
            ("Secrets in every namespace", ["get", "secrets", "-A"], nil,
             "secrets is forbidden: User \"\(user)\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"),
            ("a Deployment in default", ["create", "-f", "-"], deployment,
             "deployments.apps is forbidden: User \"\(user)\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"default\""),
            // rolebindings: create is granted cluster-wide, so this is the API
            // server's escalation check: no bind on "edit", and the account does not
            // hold edit's permissions in "unmanaged".
            ("a RoleBinding to another ClusterRole", ["create", "-f", "-"], binding("grab", to: "edit"),
             "rolebindings.rbac.authorization.k8s.io \"grab\" is forbidden: user \"\(user)\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:storeplatform\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}"),
        ]
        for refusal in refusals {
            let result = try await kubectl(refusal.arguments, input: refusal.input)
            #expect(result.termination == .exited(1), "\(refusal.what): \(result.termination)")
            #expect(result.standardError.hasPrefix("Error from server (Forbidden): "), "\(refusal.what): \(result.standardError)")
            #expect(result.standardError.contains(refusal.message), "\(refusal.what): \(result.standardError)")
        }
        let resourceRequests = harness.api.requests.filter { !$0.resource.isEmpty }
        #expect(resourceRequests.map(\.status) == [403, 403, 403, 403], "\(resourceRequests)")
        #expect(resourceRequests.allSatisfy { $0.user == user })
        #expect(try harness.api.objects("deployments.apps", namespace: "default").isEmpty)
        #expect(try harness.api.objects("rolebindings.rbac.authorization.k8s.io", namespace: "unmanaged").isEmpty)

        // The store role itself RBAC lets the account bind anywhere (bind on it, by
        // name): on a cluster the admission policy refuses a RoleBinding outside the
        // namespaces labelled managed-by=storeplatform. The double evaluates no
        // admission policy, so here it is made: RBAC alone does not stop it.
        let storeRoleBinding = try await kubectl(["create", "-f", "-"], input: binding("store", to: APIDoubleHarness.storeRole))
        #expect(storeRoleBinding.succeeded, "\(storeRoleBinding.standardError)")

        // A token the double does not know is nobody: 401, as from an API server.
        try harness.api.writeKubeconfig(to: harness.directory + "/stranger-kubeconfig", token: "stranger")
        let stranger = try await runner.run(Command(
            major.kubectl, ["get", "namespaces", "--kubeconfig", harness.directory + "/stranger-kubeconfig"], outputLimit: 1 << 20
        ))
        #expect(stranger.standardError.contains("error: You must be logged in to the server"), "\(stranger.standardError)")
        #expect(harness.api.requests.last?.status == 401)
    }
}
