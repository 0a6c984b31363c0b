/// The environment variable of every daemon option (each option's help names it).
/// One that is set, for an option the command line does not give, is passed as if it
/// were given (`--flag=VALUE`; a list's comma-separated items one flag each; a flag's
/// `1`), so the environment is parsed and checked exactly as flags are, and flags win
/// over it. `--socket` and `--tcp` are not here: their defaults come from
/// `STOREPLATFORM_SOCKET` and `STOREPLATFORM_TCP` through DefaultPaths, which storectl
/// shares.
struct EnvironmentOption: Sendable {
    enum Form: Sendable {
        /// `--flag=VALUE`.
        case value
        /// Comma-separated items, `--flag=ITEM` each.
        case list
        /// `1` passes the flag, `0` does not.
        case flag
    }

    let flag: String
    let variable: String
    let form: Form

    init(_ flag: String, _ variable: String, _ form: Form) {
        self.flag = flag
        self.variable = variable
        self.form = form
    }

    static let all: [EnvironmentOption] = [
        EnvironmentOption("socket-mode", "STOREPLATFORM_SOCKET_MODE", .value),
        EnvironmentOption("admin-uid", "STOREPLATFORM_ADMIN_UIDS", .list),
        EnvironmentOption("token-file", "STOREPLATFORM_TOKEN_FILE", .value),
        EnvironmentOption("access-file", "STOREPLATFORM_ACCESS_FILE", .value),
        EnvironmentOption("tls-cert", "STOREPLATFORM_TLS_CERT", .value),
        EnvironmentOption("tls-key", "STOREPLATFORM_TLS_KEY", .value),
        EnvironmentOption("tls-client-ca", "STOREPLATFORM_TLS_CLIENT_CA", .value),
        EnvironmentOption("tls-client-certs", "STOREPLATFORM_TLS_CLIENT_CERTS", .value),
        EnvironmentOption("allow-plain-tokens", "STOREPLATFORM_ALLOW_PLAIN_TOKENS", .flag),
        EnvironmentOption("http", "STOREPLATFORM_HTTP", .value),
        EnvironmentOption("http-trusted-proxy", "STOREPLATFORM_HTTP_TRUSTED_PROXIES", .list),
        EnvironmentOption("cors-origin", "STOREPLATFORM_CORS_ORIGINS", .list),
        EnvironmentOption("http-max-connections", "STOREPLATFORM_HTTP_MAX_CONNECTIONS", .value),
        EnvironmentOption("http-max-event-streams", "STOREPLATFORM_HTTP_MAX_EVENT_STREAMS", .value),
        EnvironmentOption("event-buffer", "STOREPLATFORM_EVENT_BUFFER", .value),
        EnvironmentOption("watch-replay-limit", "STOREPLATFORM_WATCH_REPLAY_LIMIT", .value),
        EnvironmentOption("http-idle-timeout", "STOREPLATFORM_HTTP_IDLE_TIMEOUT", .value),
        EnvironmentOption("http-header-timeout", "STOREPLATFORM_HTTP_HEADER_TIMEOUT", .value),
        EnvironmentOption("http-body-timeout", "STOREPLATFORM_HTTP_BODY_TIMEOUT", .value),
        EnvironmentOption("http-max-body-bytes", "STOREPLATFORM_HTTP_MAX_BODY_BYTES", .value),
        EnvironmentOption("http-max-header-count", "STOREPLATFORM_HTTP_MAX_HEADER_COUNT", .value),
        EnvironmentOption("http-max-header-bytes", "STOREPLATFORM_HTTP_MAX_HEADER_BYTES", .value),
        EnvironmentOption("dashboard-dir", "STOREPLATFORM_DASHBOARD_DIR", .value),
        EnvironmentOption("max-frame-bytes", "STOREPLATFORM_MAX_FRAME_BYTES", .value),
        EnvironmentOption("max-in-flight", "STOREPLATFORM_MAX_IN_FLIGHT", .value),
        EnvironmentOption("max-unix-connections", "STOREPLATFORM_MAX_UNIX_CONNECTIONS", .value),
        EnvironmentOption("reserved-admin-connections", "STOREPLATFORM_RESERVED_ADMIN_CONNECTIONS", .value),
        EnvironmentOption("max-tcp-connections", "STOREPLATFORM_MAX_TCP_CONNECTIONS", .value),
        EnvironmentOption("idle-timeout", "STOREPLATFORM_IDLE_TIMEOUT", .value),
        EnvironmentOption("frame-timeout", "STOREPLATFORM_FRAME_TIMEOUT", .value),
        EnvironmentOption("grace-period", "STOREPLATFORM_GRACE_PERIOD", .value),
        EnvironmentOption("data-dir", "STOREPLATFORM_DATA_DIR", .value),
        EnvironmentOption("database", "STOREPLATFORM_DATABASE_URL", .value),
        EnvironmentOption("database-password-file", "STOREPLATFORM_DATABASE_PASSWORD_FILE", .value),
        EnvironmentOption("cluster", "STOREPLATFORM_CLUSTER", .value),
        EnvironmentOption("helm", "STOREPLATFORM_HELM", .value),
        EnvironmentOption("kubectl", "STOREPLATFORM_KUBECTL", .value),
        EnvironmentOption("kubeconfig", "STOREPLATFORM_KUBECONFIG", .value),
        EnvironmentOption("kube-context", "STOREPLATFORM_KUBE_CONTEXT", .value),
        EnvironmentOption("chart-dir", "STOREPLATFORM_CHART_DIR", .value),
        EnvironmentOption("store-values", "STOREPLATFORM_STORE_VALUES", .list),
        EnvironmentOption("store-tls-issuer", "STOREPLATFORM_STORE_TLS_ISSUER", .value),
        EnvironmentOption("store-cluster-role", "STOREPLATFORM_STORE_CLUSTER_ROLE", .value),
        EnvironmentOption("platform-service-account", "STOREPLATFORM_PLATFORM_SERVICE_ACCOUNT", .value),
        EnvironmentOption("install-timeout", "STOREPLATFORM_INSTALL_TIMEOUT", .value),
        EnvironmentOption("cleanup-timeout", "STOREPLATFORM_CLEANUP_TIMEOUT", .value),
        EnvironmentOption("max-live-stores", "STOREPLATFORM_MAX_LIVE_STORES", .value),
        EnvironmentOption("requests-per-minute", "STOREPLATFORM_REQUESTS_PER_MINUTE", .value),
        EnvironmentOption("creates-per-minute", "STOREPLATFORM_CREATES_PER_MINUTE", .value),
        EnvironmentOption("shared-rate-limits", "STOREPLATFORM_SHARED_RATE_LIMITS", .value),
        EnvironmentOption("replica-id", "STOREPLATFORM_REPLICA_ID", .value),
        EnvironmentOption("lease-ttl", "STOREPLATFORM_LEASE_TTL", .value),
        EnvironmentOption("max-concurrent-provisions", "STOREPLATFORM_MAX_CONCURRENT_PROVISIONS", .value),
        EnvironmentOption("provision-deadline", "STOREPLATFORM_PROVISION_DEADLINE", .value),
        EnvironmentOption("readiness-poll-ms", "STOREPLATFORM_READINESS_POLL_MS", .value),
        EnvironmentOption("reconcile-interval", "STOREPLATFORM_RECONCILE_INTERVAL", .value),
        EnvironmentOption("delete-orphans", "STOREPLATFORM_DELETE_ORPHANS", .flag),
        EnvironmentOption("store-domain", "STOREPLATFORM_STORE_DOMAIN", .value),
        EnvironmentOption("sim-install-delay", "STOREPLATFORM_SIM_INSTALL_DELAY", .value),
        EnvironmentOption("sim-ready-delay", "STOREPLATFORM_SIM_READY_DELAY", .value),
        EnvironmentOption("sim-uninstall-delay", "STOREPLATFORM_SIM_UNINSTALL_DELAY", .value),
        EnvironmentOption("sim-fault", "STOREPLATFORM_SIM_FAULTS", .list),
        EnvironmentOption("sim-seed", "STOREPLATFORM_SIM_SEED", .value),
        EnvironmentOption("sim-fault-attempts", "STOREPLATFORM_SIM_FAULT_ATTEMPTS", .value),
        EnvironmentOption("log-level", "STOREPLATFORM_LOG_LEVEL", .value),
        EnvironmentOption("log-format", "STOREPLATFORM_LOG_FORMAT", .value),
    ]

    /// The environment's options (for those `commandLine` does not give), then
    /// `commandLine`.
    ///
    /// - Throws: ``DaemonError`` for a flag's variable that is neither 1 nor 0.
    static func arguments(_ commandLine: [String], environment: [String: String]) throws -> [String] {
        var added: [String] = []
        for option in all {
            guard let value = environment[option.variable], !value.isEmpty else { continue }
            let long = "--" + option.flag
            guard !commandLine.contains(where: { $0 == long || $0.hasPrefix(long + "=") }) else { continue }
            switch option.form {
            case .value:
                added.append("\(long)=\(value)")
            case .list:
                added += value.split(separator: ",").filter { !$0.isEmpty }.map { "\(long)=\($0)" }
            case .flag:
                switch value {
                case "1": added.append(long)
                case "0": break
                default: throw DaemonError("\(option.variable)=\(value) is neither 1 nor 0")
                }
            }
        }
        return added + commandLine
    }

    /// The variable behind `flag` when it came from the environment, for an error
    /// about its value.
    static func variable(behind flag: String, in added: [String]) -> String? {
        guard added.contains(where: { $0 == "--" + flag || $0.hasPrefix("--" + flag + "=") }) else { return nil }
        return all.first { $0.flag == flag }?.variable
    }
}
