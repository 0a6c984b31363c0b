import Foundation
import Testing

func pythonHasHelmSDK() -> Bool {
    pythonImports(["helm_sdkpy", "yaml"])
}

/// Whether scripts/check-manifests has its tools: helm v3 and v4 (from
/// scripts/install-kube-tools, or $HELM_V3 and $HELM_V4), and kubernetes-validate,
/// PyYAML and checkov for python3 (checkov beside that Python or on PATH, as the
/// script looks for it).
func manifestCheckToolsInstalled() -> Bool {
    let environment = ProcessInfo.processInfo.environment
    let helms = [("helm-v3", "HELM_V3"), ("helm-v4", "HELM_V4")].allSatisfy { name, variable in
        FileManager.default.isExecutableFile(atPath: environment[variable] ?? "\(repositoryRoot)/.tools/bin/\(name)")
    }
    guard helms else { return false }
    return succeeds("/usr/bin/env", [
        "python3", "-c",
        """
        import os, shutil, sys
        import kubernetes_validate, yaml
        beside = os.path.join(os.path.dirname(sys.executable), "checkov")
        sys.exit(0 if os.access(beside, os.X_OK) or shutil.which("checkov") else 1)
        """,
    ])
}

/// Whether scripts/check-admission-policy has its tools: helm v4 (from
/// scripts/install-kube-tools, or $HELM_V4), and cel-expr-python (the CEL C++
/// implementation's Python binding) and PyYAML for python3.
func admissionPolicyCheckToolsInstalled() -> Bool {
    let helm = ProcessInfo.processInfo.environment["HELM_V4"] ?? "\(repositoryRoot)/.tools/bin/helm-v4"
    return FileManager.default.isExecutableFile(atPath: helm) && pythonImports(["cel_expr_python.cel", "yaml"])
}

@Suite("Helm charts")
struct ChartTests {
    /// Helm's own linter (through helm-sdkpy) on both charts with every values
    /// file, rendered-manifest checks, and the values the driver sets.
    @Test(.enabled(if: interopRequired || pythonHasHelmSDK()))
    func chartsPassHelmLintAndTheirChecks() async throws {
        let result = try await runInRepository(["python3", "scripts/lint-charts"], environment: [:])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
    }

    /// Both charts rendered by the real helm v3 and v4 with every values file,
    /// checked by kubernetes-validate --strict for the oldest and newest supported
    /// Kubernetes, by checkov (with helm/checkov-skips.yaml), for Pod Security
    /// "restricted", and against the design's contracts (RBAC, admission policy,
    /// probes, Secrets as files, WP-Cron, the charts' guards).
    @Test(.enabled(if: interopRequired || manifestCheckToolsInstalled()))
    func renderedManifestsPassSchemasCheckovAndTheDesignChecks() async throws {
        let result = try await runInRepository(["python3", "scripts/check-manifests"], environment: [:])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("manifest checks: "), "\(result.stdout)")
        #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
    }

    /// The platform chart's ValidatingAdmissionPolicy, rendered by the real helm v4
    /// with values.yaml and values-prod.yaml, evaluated with CEL (matchConditions,
    /// variables, validations) against admission requests built as the API server
    /// builds them: the driver's namespaces and RoleBinding and the store chart's
    /// workloads are allowed, each rule's counterexample is denied with the policy's
    /// message, and requests by anybody else are not matched.
    @Test(.enabled(if: interopRequired || admissionPolicyCheckToolsInstalled()))
    func admissionPolicyAllowsTheDriverAndDeniesWhatRBACCannot() async throws {
        let result = try await runInRepository(["python3", "scripts/check-admission-policy"], environment: [:])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("admission policy checks: "), "\(result.stdout)")
        #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
    }
}
