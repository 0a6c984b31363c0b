import Foundation
import KubernetesAPIDouble
import ProcessTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// The HelmCLIDriver's whole lifecycle with the real helm (v3 and v4) and kubectl
/// binaries, against the Kubernetes API double: a stand-in for an API server that
/// keeps objects in memory, not a cluster. Nothing runs; the double's stand-in
/// controllers give pods the outcome each test chooses.
@Suite("HelmCLIDriver with real helm and kubectl against the Kubernetes API double", .enabled(if: realToolsEnabled))
struct HelmDriverOnAPIDoubleTests {
    @Test(arguments: HelmMajor.allCases)
    func createToReadyThenDelete(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("shop")
        let ready = try await harness.waitFor(store.id, [.ready])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        #expect(ready.url == "http://shop.stores.localhost")

        // The namespace: managed, the store's, Pod Security restricted (item 6).
        let namespace = try #require(try harness.api.object("namespaces", name: store.namespace))
        let labels = namespace[path: "metadata.labels"]?.stringMap ?? [:]
        #expect(labels["app.kubernetes.io/managed-by"] == "storeplatform")
        #expect(labels["storeplatform.io/store-id"] == store.id)
        #expect(labels["pod-security.kubernetes.io/enforce"] == "restricted")
        #expect(labels["pod-security.kubernetes.io/warn"] == "restricted")
        #expect(labels["pod-security.kubernetes.io/audit"] == "restricted")

        // The platform's access to the namespace comes from a RoleBinding there.
        let binding = try #require(try harness.api.object("rolebindings.rbac.authorization.k8s.io", namespace: store.namespace, name: "storeplatform"))
        #expect(binding[path: "roleRef.name"]?.string == APIDoubleHarness.storeRole)
        #expect(binding[path: "roleRef.kind"]?.string == "ClusterRole")
        #expect(binding[path: "subjects"]?.array?.first?["name"]?.string == "storeplatform")
        #expect(binding[path: "subjects"]?.array?.first?["namespace"]?.string == "storeplatform")

        // The credentials Secret, made once, never in Helm's values or records.
        let secret = try #require(try harness.api.object("secrets", namespace: store.namespace, name: StoreSecrets.secretName(release: store.release)))
        #expect(secret[path: "data"]?.object?.isEmpty == false)
        #expect(harness.creates("secrets", namespace: store.namespace).count == 1)
        #expect(try harness.api.objects("secrets", namespace: store.namespace, labelSelector: "owner=helm").isEmpty)

        // Helm's record is a ConfigMap, deployed, and the chart's objects exist.
        let records = try harness.releaseRecords(store)
        #expect(records.count == 1)
        #expect(records.first?[path: "metadata.labels"]?["status"]?.string == "deployed")
        let ingress = try #require(try harness.api.objects("ingresses.networking.k8s.io", namespace: store.namespace).first)
        #expect(ingress[path: "spec.rules"]?.array?.first?["host"]?.string == "shop.stores.localhost")
        #expect(try harness.api.objects("deployments.apps", namespace: store.namespace).count == 1)
        #expect(try harness.api.objects("statefulsets.apps", namespace: store.namespace).count == 1)

        // Readiness asked for pods only: no deployment or statefulset listing.
        let readinessLists = harness.api.requests.filter { $0.verb == "list" && $0.namespace == store.namespace && $0.tool == "kubectl" }
        #expect(Set(readinessLists.map(\.resource)).isSubset(of: ["pods", "events"]), "\(readinessLists)")

        harness.api.clearRequests()
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        let deleted = try await harness.waitFor(store.id, [.deleted, .failed])
        #expect(deleted.status == .deleted, "\(deleted.errorMessage)")
        #expect(try harness.api.object("namespaces", name: store.namespace) == nil)
        #expect(harness.api.requests.contains { $0.verb == "delete" && $0.resource == "namespaces" && $0.name == store.namespace })
    }

    /// An upgrade is a new helm revision with the version's image, awaited; a rollback
    /// to revision 1 is revision 3 with revision 1's image again.
    @Test(arguments: HelmMajor.allCases)
    func anUpgradeThenARollbackAreNewRevisions(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("shop")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        func image() throws -> String? {
            try harness.api.objects("deployments.apps", namespace: store.namespace).first?[path: "spec.template.spec.containers"]?
                .array?.first?["image"]?.string
        }
        #expect(try image() == "wordpress:6.9-php8.3-apache")

        _ = try await harness.provisioner.upgrade(storeID: store.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let upgraded = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(upgraded.status == .ready, "\(upgraded.errorMessage)")
        #expect(upgraded.version == "6.8-wc9.8")
        #expect(upgraded.revision == 2)
        #expect(try image() == "wordpress:6.8-php8.3-apache")
        #expect(try await harness.driver.releaseHistory(namespace: store.namespace, release: store.release)
            == [ReleaseRevision(revision: 1, state: .superseded), ReleaseRevision(revision: 2, state: .deployed)])
        #expect(try harness.releaseRecords(store).count == 2)
        let actions = try await harness.database.listAudit(limit: 2, pageToken: "", storeID: store.id).events.map(\.action)
        #expect(actions == [.upgraded, .upgrade])

        _ = try await harness.provisioner.rollback(storeID: store.id, to: 1, actor: "uid:0", requestID: nil)
        let rolledBack = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(rolledBack.status == .ready, "\(rolledBack.errorMessage)")
        #expect(rolledBack.version == "6.9-wc10.3")
        #expect(rolledBack.revision == 3)
        #expect(try image() == "wordpress:6.9-php8.3-apache")
        #expect(try await harness.driver.releaseHistory(namespace: store.namespace, release: store.release).map(\.state)
            == [.superseded, .superseded, .deployed])
    }

    /// The post-upgrade hook (the setup Job: WooCommerce's migrations) fails: helm
    /// upgrade fails, the release is rolled back to revision 1 as revision 3, and the
    /// store is ready on its old version with both outcomes in the audit row.
    @Test(arguments: HelmMajor.allCases)
    func aFailedMigrationHookIsRolledBack(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("hooked")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        harness.api.setBehavior { $0.jobRules = [.init(namespacePrefix: "store-hooked-", outcome: .fail)] }

        _ = try await harness.provisioner.upgrade(storeID: store.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        #expect(ready.version == "6.9-wc10.3")
        #expect(ready.revision == 3)
        #expect(try await harness.driver.releaseHistory(namespace: store.namespace, release: store.release).map(\.state)
            == [.superseded, .failed, .deployed])
        let audit = try #require(try await harness.database.listAudit(limit: 1, pageToken: "", storeID: store.id).events.first)
        #expect(audit.action == .rolledBack)
        #expect(audit.message.hasPrefix("upgrade to 6.8-wc9.8 failed: helm upgrade hooked failed: "), "\(audit.message)")
        #expect(audit.message.hasSuffix("; rolled back to revision 1 (6.9-wc10.3) as revision 3"), "\(audit.message)")
    }

    /// The admission policy reads a new namespace from the API server's cache; a
    /// RoleBinding made before the cache has it is refused as not found, and the
    /// driver tries again instead of failing the store.
    @Test(arguments: HelmMajor.allCases)
    func aRoleBindingRefusedForACacheThatLagsIsTriedAgain(_ major: HelmMajor) async throws {
        var behavior = Behavior()
        behavior.admissionCacheMisses = 2
        let harness = try await APIDoubleHarness.start(major, behavior: behavior)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("lagging")
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        let attempts = harness.api.requests.filter { $0.verb == "create" && $0.resource == "rolebindings.rbac.authorization.k8s.io" }
        #expect(attempts.map(\.status) == [404, 404, 201])
    }

    /// An evicted pod stays listed (phase Failed) until garbage collection; its
    /// replacement being Ready is what counts.
    @Test(arguments: HelmMajor.allCases)
    func anEvictedPodDoesNotHoldReadinessBack(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("evicted")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        try harness.api.seed("pods", namespace: store.namespace, [
            "metadata": [
                "name": .string("\(store.release)-wordpress-old-x2kq9"),
                "labels": ["app.kubernetes.io/instance": .string(store.release), "app.kubernetes.io/component": "wordpress"],
            ],
            "status": ["phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."],
        ])
        #expect(try await harness.driver.readiness(namespace: store.namespace, release: store.release) == .ready)
    }

    /// helm upgrade and helm rollback return before the controllers replaced the
    /// pods: a crash-looping pod made before the change is the old revision's, not
    /// ready rather than failing; read as an install's (no change), it fails.
    @Test(arguments: HelmMajor.allCases)
    func aCrashLoopingPodFromBeforeTheChangeIsNotTheNewRevisionsFailure(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("stale")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        let pod = "\(store.release)-wordpress-old-x2kq9"
        try harness.api.seed("pods", namespace: store.namespace, [
            "metadata": [
                "name": .string(pod),
                "labels": ["app.kubernetes.io/instance": .string(store.release), "app.kubernetes.io/component": "wordpress"],
            ],
            "status": [
                "phase": "Running",
                "containerStatuses": [["name": "wordpress", "restartCount": 5, "state": ["waiting": ["reason": "CrashLoopBackOff"]]]],
            ],
        ])
        // The change began after the pod was made (its creation is the API server's now).
        let changedAt = Date().addingTimeInterval(10)
        let afterChange = try await harness.driver.readiness(namespace: store.namespace, release: store.release, changedAt: changedAt)
        #expect(afterChange == .progressing(notReady: ["wordpress: pod \(pod) not ready (Running, CrashLoopBackOff)"]))
        guard case .failing(let reason, _, _) = try await harness.driver.readiness(namespace: store.namespace, release: store.release) else {
            Issue.record("a crash-looping pod is failing when no change is under way")
            return
        }
        #expect(reason == "CrashLoopBackOff")
    }

    /// A MySQL claim kept on purpose (retainOnDelete: no owner, never deleted) is
    /// not in a reinstall's way: the retry reuses it instead of waiting for it.
    @Test(arguments: HelmMajor.allCases)
    func aRetainedClaimDoesNotBlockARetry(_ major: HelmMajor) async throws {
        let file = temporaryPath("spretain", suffix: ".yaml")
        try "mysql:\n  persistence:\n    retainOnDelete: true\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var behavior = Behavior()
        behavior.podRules = [.init(namespacePrefix: "store-kept-", component: "wordpress", outcome: .crashLoopBackOff)]
        let harness = try await APIDoubleHarness.start(major, behavior: behavior, driver: { $0.valuesFiles = [file] }) {
            $0.cleanupTimeout = .seconds(5)
        }
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("kept")
        #expect(try await harness.waitFor(store.id, [.failed, .ready]).status == .failed)
        harness.api.setBehavior { $0.podRules = [] }
        _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        let claim = try #require(try harness.api.object("persistentvolumeclaims", namespace: store.namespace, name: "data-\(store.release)-mysql-0"))
        #expect(claim[path: "metadata.ownerReferences"] == nil)
    }

    /// Each pod fault fails the store with the pod's reason and its events; a retry
    /// after the fault is gone takes it to ready.
    @Test(arguments: HelmMajor.allCases)
    func everyPodFaultFailsWithItsReasonAndRetryRecovers(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let faults: [(String, Behavior.PodOutcome, String)] = [
            ("crash", .crashLoopBackOff, "CrashLoopBackOff"),
            ("pull", .imagePullBackOff, "ImagePullBackOff"),
            ("config", .createContainerConfigError, "CreateContainerConfigError"),
        ]
        harness.api.setBehavior { behavior in
            behavior.podRules = faults.map { .init(namespacePrefix: "store-\($0.0)-", component: "wordpress", outcome: $0.1) }
        }
        var stores: [(Store, String)] = []
        for (name, _, reason) in faults {
            stores.append((try await harness.create(name), reason))
        }
        for (store, reason) in stores {
            let failed = try await harness.waitFor(store.id, [.failed, .ready])
            #expect(failed.status == .failed)
            #expect(failed.errorMessage.contains("pods failing: \(reason)"), "\(failed.errorMessage)")
            #expect(failed.errorMessage.contains("events: Warning"), "\(failed.errorMessage)")
        }
        harness.api.setBehavior { $0.podRules = [] }
        for (store, _) in stores {
            _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        }
        for (store, _) in stores {
            let ready = try await harness.waitFor(store.id, [.ready, .failed])
            #expect(ready.status == .ready, "\(ready.errorMessage)")
            #expect(try harness.releaseRecords(store).first?[path: "metadata.labels"]?["status"]?.string == "deployed")
        }
    }

    /// Item 8: ErrImagePull is often a passing registry hiccup; only a pull that keeps
    /// failing (ImagePullBackOff) fails the store.
    @Test(arguments: HelmMajor.allCases)
    func aPassingErrImagePullDoesNotFailTheStore(_ major: HelmMajor) async throws {
        var behavior = Behavior()
        behavior.podRules = [.init(namespacePrefix: "store-", component: "wordpress", outcome: .errImagePull(recoversAfter: .milliseconds(800)))]
        let harness = try await APIDoubleHarness.start(major, behavior: behavior)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("hiccup")
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
    }

    /// A setup Job that fails makes helm install fail; the exact helm output is the reason.
    @Test(arguments: HelmMajor.allCases)
    func aFailedSetupJobFailsTheInstallWithHelmsOutput(_ major: HelmMajor) async throws {
        var behavior = Behavior()
        behavior.jobRules = [.init(namespacePrefix: "store-", outcome: .fail)]
        let harness = try await APIDoubleHarness.start(major, behavior: behavior)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("setup")
        let failed = try await harness.waitFor(store.id, [.failed, .ready])
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.contains("helm install \(store.release) failed"), "\(failed.errorMessage)")
        #expect(failed.errorMessage.lowercased().contains("post-install"), "\(failed.errorMessage)")
        harness.api.setBehavior { $0.jobRules = [] }
        _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
    }

    /// Item 1: a retry uninstalls the failed release and installs it again only once
    /// its pods and claims are gone; before that the new install met the dying
    /// wp-content claim (AlreadyExists) or adopted the dying MySQL one.
    @Test(arguments: HelmMajor.allCases)
    func aRetryWaitsForTheOldReleasesClaimsToGo(_ major: HelmMajor) async throws {
        var behavior = Behavior()
        behavior.podRules = [.init(namespacePrefix: "store-slow-", component: "wordpress", outcome: .crashLoopBackOff)]
        behavior.persistentVolumeClaimDeletion = .milliseconds(1500)
        let harness = try await APIDoubleHarness.start(major, behavior: behavior)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("slow")
        #expect(try await harness.waitFor(store.id, [.failed, .ready]).status == .failed)
        let claims = try harness.api.objects("persistentvolumeclaims", namespace: store.namespace).compactMap { $0[path: "metadata.name"]?.string }
        #expect(Set(claims) == ["data-\(store.release)-mysql-0", "\(store.release)-wp-content"], "\(claims)")

        harness.api.setBehavior { $0.podRules = [] }
        _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        // Both claims exist again, new and not terminating.
        let after = try harness.api.objects("persistentvolumeclaims", namespace: store.namespace)
        #expect(Set(after.compactMap { $0[path: "metadata.name"]?.string }) == Set(claims))
        #expect(after.allSatisfy { $0[path: "metadata.deletionTimestamp"] == nil })
        #expect(harness.creates("persistentvolumeclaims", namespace: store.namespace).count == 2)
    }

    /// Item 4: helm killed mid-install (the daemon's container OOM-killed or
    /// crashed, taking its helm child with it) leaves the release pending-install and
    /// the setup Job unfinished. The store must never become ready that way: once
    /// the release is older than helm's timeout it fails with that reason, and a
    /// retry reinstalls it.
    @Test(arguments: HelmMajor.allCases)
    func anInstallInterruptedBeforeTheSetupJobNeverCountsAsReady(_ major: HelmMajor) async throws {
        var behavior = Behavior()
        behavior.jobRules = [.init(namespacePrefix: "store-", outcome: .hang)]
        // helm waits a minute for the hanging Job: it is killed before, however loaded
        // the machine (a shorter wait could end in helm's own timeout, marking the
        // release failed, before the kill). The daemon counts a release pending
        // after 3 s as abandoned.
        let harness = try await APIDoubleHarness.start(major, behavior: behavior, driver: { $0.installTimeout = .seconds(60) }) {
            $0.pendingReleaseTimeout = .seconds(3)
        }
        defer { Task { try await harness.stop() } }
        // The store as the crashed daemon left it: provisioning, with its install
        // running when everything was killed.
        var store = Store.queued(name: try StoreName.validate("crash"), engine: try StoreEngines.resolve(""), now: Date())
        store.status = .provisioning
        store.provisioningStartedAt = Date()
        store.attempts = 1
        try await harness.database.importStores([store], actor: "system")
        let secret = StoreSecrets.secretName(release: store.release)
        try await harness.driver.ensureNamespace(store.namespace, storeID: store.id)
        try await harness.driver.ensureSecret(namespace: store.namespace, name: secret, makeValues: StoreSecrets.generate)
        let request = InstallRequest(
            namespace: store.namespace, release: store.release, chart: "helm/store",
            values: ["store.name": store.name, "store.id": store.id, "ingress.host": "crash.stores.localhost", "credentials.secretName": secret]
        )
        let driver = harness.driver
        let install = Task { try await driver.installRelease(request) }
        try await harness.eventually("release pending-install with the setup Job started") {
            try harness.releaseRecords(store).first?[path: "metadata.labels"]?["status"]?.string == "pending-install"
                && !(try harness.api.objects("jobs.batch", namespace: store.namespace).isEmpty)
        }
        let killed = try await runProcess("/usr/bin/pkill", ["-KILL", "-f", "\(major.helm) install \(store.release) .*\(harness.directory)/kubeconfig"])
        #expect(killed == 0)
        _ = await install.result
        #expect(try harness.releaseRecords(store).first?[path: "metadata.labels"]?["status"]?.string == "pending-install")
        // Its pods would pass readiness: the old code called that ready.
        #expect(try await harness.driver.readiness(namespace: store.namespace, release: store.release) == .ready)

        _ = try await harness.reconciler.reconcile()
        let failed = try await harness.waitFor(store.id, [.failed, .ready])
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.contains("release \(store.release) has been pending since"), "\(failed.errorMessage)")
        #expect(failed.errorMessage.contains("retry reinstalls it"), "\(failed.errorMessage)")

        harness.api.setBehavior { $0.jobRules = [] }
        _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        #expect(try harness.releaseRecords(store).first?[path: "metadata.labels"]?["status"]?.string == "deployed")
    }

    /// A crash after each provisioning step: the restarted daemon's reconcile pass
    /// resumes from step 1, and every step checks first, so nothing is made twice.
    @Test(arguments: HelmMajor.allCases)
    func aCrashAfterEachStepResumesWithoutDoingAnythingTwice(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        var stores: [Store] = []
        for step in 1...3 {
            // A store recorded as provisioning, with the first `step` steps done by hand.
            var store = Store.queued(name: try StoreName.validate("step\(step)"), engine: try StoreEngines.resolve(""), now: Date())
            store.status = .provisioning
            store.attempts = 1
            stores.append(store)
            try await harness.driver.ensureNamespace(store.namespace, storeID: store.id)
            if step >= 2 {
                try await harness.driver.ensureSecret(namespace: store.namespace, name: StoreSecrets.secretName(release: store.release), makeValues: StoreSecrets.generate)
            }
            if step >= 3 {
                try await harness.driver.installRelease(InstallRequest(
                    namespace: store.namespace, release: store.release, chart: "helm/store",
                    values: ["store.name": store.name, "store.id": store.id, "ingress.host": "\(store.name).stores.localhost",
                             "credentials.secretName": StoreSecrets.secretName(release: store.release)]
                ))
            }
        }
        // Recorded once the cluster steps are done, so that however long they took on
        // a loaded machine, no store is near its provisioning deadline.
        for index in stores.indices { stores[index].provisioningStartedAt = Date() }
        try await harness.database.importStores(stores, actor: "system")
        let report = try await harness.reconciler.reconcile()
        #expect(report.corrections.count == 3)
        for step in 1...3 {
            let store = try await #require(try harness.database.stores(inStatuses: [.queued, .provisioning, .ready, .failed]).first { $0.name == "step\(step)" })
            let ready = try await harness.waitFor(store.id, [.ready, .failed])
            #expect(ready.status == .ready, "step \(step): \(ready.errorMessage)")
            #expect(harness.creates("namespaces").filter { $0.name == nil }.count >= 1)
            #expect(harness.creates("secrets", namespace: store.namespace).count == 1, "step \(step)")
            #expect(try harness.releaseRecords(store).count == 1, "step \(step): one install")
        }
    }

    /// Item 7: an operator values file under the driver's values, and TLS through
    /// cert-manager with https URLs.
    @Test(arguments: HelmMajor.allCases)
    func operatorValuesAndTLSReachTheRelease(_ major: HelmMajor) async throws {
        let file = temporaryPath("spvalues", suffix: ".yaml")
        try """
            ingress:
              className: traefik
              host: ignored.example.com
            """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let harness = try await APIDoubleHarness.start(major, driver: { $0.valuesFiles = [file] }) {
            $0.tlsClusterIssuer = "letsencrypt-prod"
            $0.storeDomain = "shops.example.com"
        }
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("secure")
        let ready = try await harness.waitFor(store.id, [.ready, .failed])
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        #expect(ready.url == "https://secure.shops.example.com")
        let ingress = try #require(try harness.api.objects("ingresses.networking.k8s.io", namespace: store.namespace).first)
        #expect(ingress[path: "spec.ingressClassName"]?.string == "traefik")
        #expect(ingress[path: "metadata.annotations"]?["cert-manager.io/cluster-issuer"]?.string == "letsencrypt-prod")
        let tls = try #require(ingress[path: "spec.tls"]?.array?.first)
        #expect(tls["hosts"]?.array == ["secure.shops.example.com"])
        #expect(tls["secretName"]?.string == "\(store.release)-tls")
        // The driver's host wins over the operator's.
        #expect(ingress[path: "spec.rules"]?.array?.first?["host"]?.string == "secure.shops.example.com")
    }

    /// Item 8: a namespace stuck Terminating is not "deleted": the delete fails with
    /// what it waits for, and the reconcile pass keeps reporting the namespace.
    @Test(arguments: HelmMajor.allCases)
    func aNamespaceStuckTerminatingIsNeitherDeletedNorHidden(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major, provisioner: { $0.cleanupTimeout = .seconds(2) })
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("stuck")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        harness.api.setBehavior { $0.namespaceDeletion = nil }
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        let failed = try await harness.waitFor(store.id, [.deleted, .failed])
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.contains("namespace \(store.namespace) is still there"), "\(failed.errorMessage)")
        #expect(failed.errorMessage.contains("delete the store again to retry"), "\(failed.errorMessage)")

        let inventory = try await harness.driver.listManaged()
        #expect(inventory.namespaces.map(\.name) == [store.namespace])
        #expect(inventory.namespaces.first?.terminating == true)

        // Once the finalizer lets go, deleting again finishes.
        try harness.api.finishDeletion("namespaces", name: store.namespace)
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        #expect(try await harness.waitFor(store.id, [.deleted, .failed]).status == .deleted)
    }

    /// Item 2 and the listing's cost: the reconcile listing is two kubectl calls with
    /// either helm (helm 4 has no `helm list --all`), reads release records as the
    /// server's table (no payloads), and returns one row per release however many
    /// revisions it has.
    @Test(arguments: HelmMajor.allCases)
    func theReconcileListingIsTwoCallsAndIgnoresOldRevisions(_ major: HelmMajor) async throws {
        let harness = try await APIDoubleHarness.start(major)
        defer { Task { try await harness.stop() } }
        let store = try await harness.create("listed")
        #expect(try await harness.waitFor(store.id, [.ready, .failed]).status == .ready)
        try harness.api.seed("namespaces", ["metadata": ["name": "unmanaged"]])

        harness.api.clearRequests()
        let before = try await harness.driver.listManaged()
        #expect(before.releases == [.init(namespace: store.namespace, name: store.release, state: .deployed)])
        #expect(before.namespaces.map(\.name) == [store.namespace])
        let firstPass = harness.api.requests.filter { !$0.resource.isEmpty }
        #expect(firstPass.map { "\($0.verb) \($0.resource)" } == ["list namespaces", "list configmaps"], "\(firstPass)")
        let bytes = firstPass.map(\.responseBytes).reduce(0, +)

        // Three more revisions of the release, as upgrades leave them.
        for revision in 2...4 {
            let previous = try #require(try harness.releaseRecords(store).first)
            try harness.api.mutate("configmaps", namespace: store.namespace, name: previous[path: "metadata.name"]?.string ?? "") {
                $0["metadata"]?["labels"]?["status"] = "superseded"
            }
            var record = previous
            record["metadata"] = [
                "name": .string("sh.helm.release.v1.\(store.release).v\(revision)"),
                "labels": ["name": .string(store.release), "owner": "helm", "status": "deployed", "version": .string(String(revision))],
            ]
            try harness.api.seed("configmaps", namespace: store.namespace, record)
        }
        harness.api.clearRequests()
        let after = try await harness.driver.listManaged()
        #expect(after.releases == before.releases)
        let secondPass = harness.api.requests.filter { !$0.resource.isEmpty }
        #expect(secondPass.count == 2)
        // The table's rows carry metadata only: no release payload, so the size does
        // not grow with revisions (a few bytes of labels differ).
        #expect(abs(secondPass.map(\.responseBytes).reduce(0, +) - bytes) < 64, "\(bytes) → \(secondPass.map(\.responseBytes))")
    }
}
