import ArgumentParser
import ControlPlane
import Foundation
import HTTPGateway
import Provisioning
import StoreDatabase
import PostgresStoreDatabase
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StoreCore
import StoreRPC

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storeplatformd",
        abstract: "The StorePlatform control plane: serves RPCs on a Unix socket and TCP.",
        discussion: """
            Every option can also be set by an environment variable, named in its help. \
            Flags win over the environment. SIGTERM or SIGINT shuts down gracefully: no new \
            calls, running calls get the grace period to finish, then the socket file is removed.
            """,
        version: PlatformVersion.current
    )

    @Option(help: "Unix socket of the admin control plane (STOREPLATFORM_SOCKET).")
    var socket: String = DefaultPaths.socket

    @Option(help: "File mode of the socket, octal (STOREPLATFORM_SOCKET_MODE).")
    var socketMode: String = "0660"

    @Option(name: .customLong("admin-uid"), help: "uid that is an admin whatever the access file says; repeat for several. Default: this process's uid and root (STOREPLATFORM_ADMIN_UIDS, comma-separated).")
    var adminUIDs: [UInt32] = []

    @Option(help: "TCP listener host:port for internal services, or \"off\" (STOREPLATFORM_TCP).")
    var tcp: String = DefaultPaths.tcp

    @Option(help: "File of bearer tokens, one per line as NAME TOKEN (the caller is token:NAME) or TOKEN (token:N), required on TCP when set (STOREPLATFORM_TOKEN_FILE).")
    var tokenFile: String = ""

    @Option(help: "File of callers' roles, one \"PRINCIPAL ROLE [own-stores]\" per line (viewer, operator, admin); without one, other uids are operators of their own stores and TCP/HTTP callers operators of every store; re-read on SIGHUP (STOREPLATFORM_ACCESS_FILE).")
    var accessFile: String = ""

    @Option(help: "PEM certificate chain (server certificate first): the TCP RPC listener and the HTTP gateway speak TLS only; re-read on SIGHUP (STOREPLATFORM_TLS_CERT).")
    var tlsCert: String = ""

    @Option(help: "PEM private key of --tls-cert; re-read on SIGHUP (STOREPLATFORM_TLS_KEY).")
    var tlsKey: String = ""

    @Option(help: "PEM CA certificates that sign client certificates; turns client certificates on; re-read on SIGHUP (STOREPLATFORM_TLS_CLIENT_CA).")
    var tlsClientCA: String = ""

    @Option(help: "With --tls-client-ca: optional (a client may present a certificate) or required (STOREPLATFORM_TLS_CLIENT_CERTS).")
    var tlsClientCerts: String = "required"

    @Flag(help: "Accept bearer tokens over plain TCP/HTTP from peers that are not loopback (STOREPLATFORM_ALLOW_PLAIN_TOKENS=1).")
    var allowPlainTokens = false

    @Option(help: "HTTP gateway (REST API, event stream, /metrics, dashboard) host:port, or \"off\" (STOREPLATFORM_HTTP).")
    var http: String = "127.0.0.1:8080"

    @Option(name: .customLong("http-trusted-proxy"), help: "Peer address whose X-Forwarded-For the gateway believes; repeat for several (STOREPLATFORM_HTTP_TRUSTED_PROXIES, comma-separated).")
    var httpTrustedProxies: [String] = []

    @Option(name: .customLong("cors-origin"), help: "Origin allowed to call the gateway from a browser; repeat for several; CORS is off when none (STOREPLATFORM_CORS_ORIGINS, comma-separated).")
    var corsOrigins: [String] = []

    @Option(help: "Open connections on the HTTP gateway; more get 503 (STOREPLATFORM_HTTP_MAX_CONNECTIONS).")
    var httpMaxConnections: Int = 256

    @Option(help: "Open event streams (GET /api/events) at once; more get 503. Each holds at most 64 chunks for a client that does not read (STOREPLATFORM_HTTP_MAX_EVENT_STREAMS).")
    var httpMaxEventStreams: Int = 256

    @Option(help: "Transitions held for one watcher (WatchStores, event stream) that does not keep up; past them it is told it fell behind and resumes from the audit log (STOREPLATFORM_EVENT_BUFFER).")
    var eventBuffer: Int = 1000

    @Option(help: "Transitions one resumed watch (after_audit_id, Last-Event-ID) replays at most; a watcher further behind is told it fell behind after them and resumes from there (STOREPLATFORM_WATCH_REPLAY_LIMIT).")
    var watchReplayLimit: Int = ControlPlane.defaultReplayLimit

    @Option(help: "Seconds an HTTP connection may send nothing while no response of it is being written before it is closed; 0 never (STOREPLATFORM_HTTP_IDLE_TIMEOUT).")
    var httpIdleTimeout: Double = 60

    @Option(help: "Seconds an HTTP request head may take to arrive whole once its first byte is in; slower ones get 408 and the connection is closed; 0 no limit (STOREPLATFORM_HTTP_HEADER_TIMEOUT).")
    var httpHeaderTimeout: Double = 10

    @Option(help: "Seconds an HTTP request body may take to arrive whole once the head is in; slower ones get 408 and the connection is closed; 0 no limit (STOREPLATFORM_HTTP_BODY_TIMEOUT).")
    var httpBodyTimeout: Double = 30

    @Option(help: "Largest HTTP request body accepted, bytes (STOREPLATFORM_HTTP_MAX_BODY_BYTES).")
    var httpMaxBodyBytes: Int = 65_536

    @Option(help: "Most header fields an HTTP request may have; more get 431 (STOREPLATFORM_HTTP_MAX_HEADER_COUNT).")
    var httpMaxHeaderCount: Int = 100

    @Option(help: "Most bytes of header names and values an HTTP request may have; more get 431 (STOREPLATFORM_HTTP_MAX_HEADER_BYTES).")
    var httpMaxHeaderBytes: Int = 16_384

    @Option(help: "Directory of the dashboard's static files, read into memory at start and served at / (STOREPLATFORM_DASHBOARD_DIR).")
    var dashboardDir: String = "clients/dashboard"

    @Option(help: "Largest frame accepted, bytes (STOREPLATFORM_MAX_FRAME_BYTES).")
    var maxFrameBytes: Int = FrameDecoder.defaultMaxFrameLength

    @Option(help: "Calls in flight per connection (STOREPLATFORM_MAX_IN_FLIGHT).")
    var maxInFlight: Int = 256

    @Option(help: "Open connections on the admin socket (STOREPLATFORM_MAX_UNIX_CONNECTIONS).")
    var maxUnixConnections: Int = 128

    @Option(help: "Of those, how many only admin uids may take (STOREPLATFORM_RESERVED_ADMIN_CONNECTIONS).")
    var reservedAdminConnections: Int = 16

    @Option(help: "Open connections on the TCP listener (STOREPLATFORM_MAX_TCP_CONNECTIONS).")
    var maxTCPConnections: Int = 384

    @Option(help: "Seconds an RPC connection may send nothing while none of its calls runs before it is closed; 0 never (STOREPLATFORM_IDLE_TIMEOUT).")
    var idleTimeout: Double = 300

    @Option(help: "Seconds an RPC frame may take to arrive whole once its first byte is in; slower ones get the connection closed; 0 no limit (STOREPLATFORM_FRAME_TIMEOUT).")
    var frameTimeout: Double = 10

    @Option(help: "Seconds running calls get to finish at shutdown (STOREPLATFORM_GRACE_PERIOD).")
    var gracePeriod: Double = 10

    @Option(help: "Directory for the SQLite database and the simulated cluster's state (STOREPLATFORM_DATA_DIR).")
    var dataDir: String = DaemonCommand.defaultDataDir

    @Option(
        help: """
            The store database: sqlite:PATH, or postgres://USER@HOST:PORT/DATABASE[?sslmode=require] for several \
            replicas on one database. Default: sqlite:DATA-DIR/storeplatform.sqlite (STOREPLATFORM_DATABASE_URL).
            """
    )
    var database: String = ""

    @Option(help: "A file holding the PostgreSQL password, kept out of the URL and the process list (STOREPLATFORM_DATABASE_PASSWORD_FILE).")
    var databasePasswordFile: String = ""

    @Option(help: "Cluster driver: simulated (embedded, no Kubernetes) or helm (runs helm and kubectl against a real cluster) (STOREPLATFORM_CLUSTER).")
    var cluster: String = "simulated"

    @Option(help: "helm driver: the helm executable, a name on PATH or a path (STOREPLATFORM_HELM).")
    var helm: String = "helm"

    @Option(help: "helm driver: the kubectl executable (STOREPLATFORM_KUBECTL).")
    var kubectl: String = "kubectl"

    @Option(help: "helm driver: kubeconfig file; in-cluster credentials when unset (STOREPLATFORM_KUBECONFIG).")
    var kubeconfig: String = ""

    @Option(help: "helm driver: kubeconfig context (STOREPLATFORM_KUBE_CONTEXT).")
    var kubeContext: String = ""

    @Option(help: "helm driver: directory holding the store chart as store/ (STOREPLATFORM_CHART_DIR).")
    var chartDir: String = "helm"

    @Option(name: .customLong("store-values"), help: "helm driver: operator values file for every store (storage class, registry, ingress class, resources), passed to helm install with -f under the platform's own values; repeatable (STOREPLATFORM_STORE_VALUES, comma-separated).")
    var storeValues: [String] = []

    @Option(help: "cert-manager ClusterIssuer that gives each store's Ingress a certificate; store URLs become https (STOREPLATFORM_STORE_TLS_ISSUER).")
    var storeTLSIssuer: String = ""

    @Option(help: "helm driver: ClusterRole bound in each store namespace to --platform-service-account (STOREPLATFORM_STORE_CLUSTER_ROLE).")
    var storeClusterRole: String = ""

    @Option(help: "helm driver: the daemon's service account as NAMESPACE/NAME, the subject of each store namespace's RoleBinding (STOREPLATFORM_PLATFORM_SERVICE_ACCOUNT).")
    var platformServiceAccount: String = ""

    @Option(help: "helm driver: seconds helm install may take (its --timeout, which covers the setup Job); must be shorter than --provision-deadline (STOREPLATFORM_INSTALL_TIMEOUT).")
    var installTimeout: Double = 300

    @Option(help: "Seconds a reinstall waits for the old release's pods and claims, and a delete for the namespace, to be gone (STOREPLATFORM_CLEANUP_TIMEOUT).")
    var cleanupTimeout: Double = 300

    @Option(help: "Maximum live (not deleted) stores (STOREPLATFORM_MAX_LIVE_STORES).")
    var maxLiveStores: Int = 10

    @Option(help: "Requests per minute per caller (STOREPLATFORM_REQUESTS_PER_MINUTE).")
    var requestsPerMinute: Int = 30

    @Option(help: "Creates per minute per caller (STOREPLATFORM_CREATES_PER_MINUTE).")
    var createsPerMinute: Int = 5

    @Option(
        help: """
            Whether the rate limits count a caller's requests on every replica together, in the database: on, off, \
            or auto (on with PostgreSQL, off with SQLite, where one replica runs) (STOREPLATFORM_SHARED_RATE_LIMITS).
            """
    )
    var sharedRateLimits: String = "auto"

    @Option(
        help: """
            This daemon's name among replicas sharing one database, the owner of its store leases; unique per replica, \
            the same across restarts; default: the host name, a pod's name in Kubernetes (STOREPLATFORM_REPLICA_ID).
            """
    )
    var replicaID: String = DaemonCommand.hostName

    @Option(help: "Seconds a store's lease lasts unless renewed; a replica that dies holds its stores this long (STOREPLATFORM_LEASE_TTL).")
    var leaseTTL: Double = 30

    @Option(help: "Provisioning operations at once; the rest stay queued (STOREPLATFORM_MAX_CONCURRENT_PROVISIONS).")
    var maxConcurrentProvisions: Int = 4

    @Option(help: "Seconds a provisioning attempt may take (STOREPLATFORM_PROVISION_DEADLINE).")
    var provisionDeadline: Double = 600

    @Option(help: "Milliseconds between readiness checks while provisioning, each one LIST of the store's pods (STOREPLATFORM_READINESS_POLL_MS).")
    var readinessPollMs: Int = 2000

    @Option(help: "Seconds between reconcile passes, jittered ±10% (STOREPLATFORM_RECONCILE_INTERVAL).")
    var reconcileInterval: Double = 30

    @Flag(help: "Delete managed namespaces that belong to no live store (STOREPLATFORM_DELETE_ORPHANS=1).")
    var deleteOrphans = false

    @Option(help: "Stores are served at http(s)://<name>.<domain> (STOREPLATFORM_STORE_DOMAIN).")
    var storeDomain: String = "stores.localhost"

    @Option(help: "Simulated cluster: seconds a helm install takes (STOREPLATFORM_SIM_INSTALL_DELAY).")
    var simInstallDelay: Double = 1

    @Option(help: "Simulated cluster: seconds after install until pods are ready (STOREPLATFORM_SIM_READY_DELAY).")
    var simReadyDelay: Double = 4

    @Option(help: "Simulated cluster: seconds a helm uninstall takes (STOREPLATFORM_SIM_UNINSTALL_DELAY).")
    var simUninstallDelay: Double = 0.3

    @Option(name: .customLong("sim-fault"), help: "Simulated cluster fault, FAULT or FAULT=PROBABILITY, or FAULT@STORE-NAME for one store; repeatable. Faults: install-error, crashloop, imagepull, never-ready, delete-failure, upgrade-error, migration-error, upgrade-never-ready (STOREPLATFORM_SIM_FAULTS, comma-separated).")
    var simFaults: [String] = []

    @Option(help: "Simulated cluster: seed that decides which releases get faults (STOREPLATFORM_SIM_SEED).")
    var simSeed: UInt64 = 0

    @Option(help: "Simulated cluster: faults hit only the first N attempts of a release (STOREPLATFORM_SIM_FAULT_ATTEMPTS).")
    var simFaultAttempts: Int = 1

    @Option(help: "trace, debug, info, notice, warning, error or critical (STOREPLATFORM_LOG_LEVEL).")
    var logLevel: String = "info"

    @Option(help: "text, or json for one JSON object per line (STOREPLATFORM_LOG_FORMAT).")
    var logFormat: String = "text"

    /// This machine's host name (a pod's name in Kubernetes), from the kernel: no
    /// name lookup.
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "storeplatformd" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static var defaultDataDir: String {
        if getuid() == 0 { return "/var/lib/storeplatform" }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        return home + "/.local/share/storeplatform"
    }

    func validate() throws {
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode \(socketMode) is not an octal file mode such as 0660")
        }
        if tcp != "off" {
            do { _ = try RPCEndpoint.tcp(tcp) } catch { throw ValidationError("--tcp: \(error); use host:port or off") }
        }
        guard tlsCert.isEmpty == tlsKey.isEmpty else {
            throw ValidationError("--tls-cert and --tls-key go together: set both or neither")
        }
        if !tlsClientCA.isEmpty && tlsCert.isEmpty {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: client certificates are part of TLS")
        }
        guard tlsClientCerts == "optional" || tlsClientCerts == "required" else {
            throw ValidationError("--tls-client-certs \(tlsClientCerts) is not optional or required")
        }
        if http != "off" {
            do { _ = try HostAndPort(parsing: http) } catch { throw ValidationError("--http: \(error); use host:port or off") }
        }
        guard httpMaxBodyBytes >= 1 else { throw ValidationError("--http-max-body-bytes must be at least 1") }
        // Room for what every browser sends (Host, Accept, User-Agent, cookies, …).
        guard httpMaxHeaderCount >= 16 else { throw ValidationError("--http-max-header-count must be at least 16") }
        guard httpMaxHeaderBytes >= 1024 else { throw ValidationError("--http-max-header-bytes must be at least 1024") }
        guard (16...(256 * 1024 * 1024)).contains(maxFrameBytes) else {
            throw ValidationError("--max-frame-bytes must be between 16 and 268435456")
        }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        guard maxUnixConnections >= 1, maxTCPConnections >= 1 else {
            throw ValidationError("--max-unix-connections and --max-tcp-connections must be at least 1")
        }
        guard (0..<maxUnixConnections).contains(reservedAdminConnections) else {
            throw ValidationError("--reserved-admin-connections must be at least 0 and less than --max-unix-connections (\(maxUnixConnections))")
        }
        guard idleTimeout >= 0, httpIdleTimeout >= 0 else { throw ValidationError("--idle-timeout and --http-idle-timeout must not be negative") }
        for (flag, seconds) in [("--frame-timeout", frameTimeout), ("--http-header-timeout", httpHeaderTimeout), ("--http-body-timeout", httpBodyTimeout)] {
            guard seconds.isFinite, seconds >= 0 else {
                throw ValidationError("\(flag) must be a number of seconds, 0 or more (0: no limit); got \(seconds)")
            }
        }
        guard httpMaxConnections >= 1 else { throw ValidationError("--http-max-connections must be at least 1") }
        guard httpMaxEventStreams >= 1 else { throw ValidationError("--http-max-event-streams must be at least 1") }
        guard eventBuffer >= 1 else { throw ValidationError("--event-buffer must be at least 1") }
        guard watchReplayLimit >= 1 else { throw ValidationError("--watch-replay-limit must be at least 1") }
        guard gracePeriod >= 0 else { throw ValidationError("--grace-period must not be negative") }
        guard !replicaID.isEmpty, replicaID.utf8.count <= 253, !replicaID.contains(where: \.isWhitespace) else {
            throw ValidationError("--replica-id must be 1 to 253 characters without spaces; got \(replicaID.debugDescription)")
        }
        guard ["auto", "on", "off"].contains(sharedRateLimits) else {
            throw ValidationError("--shared-rate-limits must be auto, on or off; got \(sharedRateLimits.debugDescription)")
        }
        guard leaseTTL >= 1, leaseTTL.isFinite else { throw ValidationError("--lease-ttl must be at least 1 second; got \(leaseTTL)") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard ["text", "json"].contains(logFormat) else {
            throw ValidationError("--log-format \(logFormat) is not text or json")
        }
        for (name, value) in [
            ("--max-live-stores", maxLiveStores), ("--requests-per-minute", requestsPerMinute),
            ("--creates-per-minute", createsPerMinute), ("--max-concurrent-provisions", maxConcurrentProvisions),
            ("--readiness-poll-ms", readinessPollMs),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        guard provisionDeadline > 0, reconcileInterval > 0, simInstallDelay >= 0, simReadyDelay >= 0, simUninstallDelay >= 0 else {
            throw ValidationError("--provision-deadline and --reconcile-interval must be positive, simulated delays not negative")
        }
        for fault in simFaults {
            do {
                if try SimulatedClusterConfiguration.parseStoreFault(fault) == nil { _ = try SimulatedClusterConfiguration.parseFault(fault) }
            } catch {
                throw ValidationError("--sim-fault: \(error)")
            }
        }
        guard ClusterDriverKind(rawValue: cluster) != nil else {
            throw ValidationError(
                "--cluster \(cluster) is not a cluster driver; use \(ClusterDriverKind.allCases.map(\.rawValue).listedAsAlternatives)"
            )
        }
        guard installTimeout > 0, cleanupTimeout > 0 else {
            throw ValidationError("--install-timeout and --cleanup-timeout must be positive")
        }
        // The deadline covers the install and then readiness: an install allowed the
        // whole deadline leaves readiness no time at all.
        guard cluster != "helm" || installTimeout < provisionDeadline else {
            throw ValidationError(
                "--install-timeout (\(Int(installTimeout)) s) must be shorter than --provision-deadline (\(Int(provisionDeadline)) s), which also covers waiting for readiness"
            )
        }
        guard storeClusterRole.isEmpty == platformServiceAccount.isEmpty else {
            throw ValidationError("--store-cluster-role and --platform-service-account go together: set both or neither")
        }
        if !platformServiceAccount.isEmpty {
            let parts = platformServiceAccount.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--platform-service-account \(platformServiceAccount) is not NAMESPACE/NAME")
            }
        }
        for file in storeValues where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--store-values \(file): no readable file there")
        }
        try validateDatabase()
    }

    func run() async throws {
        EarlySignals.install()
        let level = Logger.Level(rawValue: logLevel)!
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "storeplatformd")

        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        } catch {
            throw DaemonError("cannot create data directory \(dataDir): \(error.localizedDescription)")
        }

        var configuration = RPCServerConfiguration()
        var unix = RPCServerConfiguration.UnixSocket(path: socket)
        unix.mode = UInt32(socketMode, radix: 8)!
        if !adminUIDs.isEmpty { unix.adminUIDs = Set(adminUIDs) }
        let access = try loadAccessPolicy(adminUIDs: unix.adminUIDs)
        // The socket's reserved places are for every uid that is an admin.
        unix.adminUIDs = access.adminUIDsByName
        configuration.unixSocket = unix
        // One set of tokens and one of TLS material serve both TCP listeners; SIGHUP
        // reloads them (ReloadOnHangup).
        let tokens: ReloadableBearerTokens?
        let tls: ServerTLS?
        do {
            tokens = tokenFile.isEmpty ? nil : try ReloadableBearerTokens(contentsOfFile: tokenFile)
            tls = tlsCert.isEmpty ? nil : try ServerTLS(files: tlsFiles)
        } catch {
            throw DaemonError("cannot start: \(error)")
        }
        if tcp != "off", case .tcp(let host, let port) = try RPCEndpoint.tcp(tcp) {
            configuration.tcp = .init(host: host, port: port, tokens: tokens, tls: tls)
            configuration.tcp?.allowPlainTokens = allowPlainTokens
        }
        configuration.maxFrameLength = maxFrameBytes
        configuration.maxInFlightPerConnection = maxInFlight
        configuration.maxUnixConnections = maxUnixConnections
        configuration.reservedAdminConnections = reservedAdminConnections
        configuration.maxTCPConnections = maxTCPConnections
        configuration.idleTimeout = idleTimeout == 0 ? nil : .seconds(idleTimeout)
        configuration.frameTimeout = frameTimeout == 0 ? nil : .seconds(frameTimeout)
        let openFiles = try raiseOpenFileLimit()
        configuration.shutdownGracePeriod = .seconds(gracePeriod)

        // Nothing but the migrations is logged before the database and the cluster's
        // state are open: a daemon that cannot open them stops with one line on
        // stderr, that says why.
        let database = try await openDatabase(logger: logger)
        let driver: any ClusterDriver
        do {
            switch ClusterDriverKind(rawValue: cluster) ?? .simulated {
            case .helm:
                var helmConfiguration = HelmCLIDriver.Configuration()
                helmConfiguration.helmPath = helm
                helmConfiguration.kubectlPath = kubectl
                helmConfiguration.kubeconfig = kubeconfig.isEmpty ? nil : kubeconfig
                helmConfiguration.context = kubeContext.isEmpty ? nil : kubeContext
                helmConfiguration.chartDirectory = chartDir
                helmConfiguration.valuesFiles = storeValues
                helmConfiguration.storeClusterRole = storeClusterRole.isEmpty ? nil : storeClusterRole
                helmConfiguration.serviceAccount = platformServiceAccount.isEmpty ? nil : platformServiceAccount
                helmConfiguration.installTimeout = .seconds(installTimeout)
                driver = HelmCLIDriver(configuration: helmConfiguration)
            case .simulated:
                let state: any SimulatedClusterState
                do {
                    state = try await simulatedClusterState(beside: database, sqlitePath: dataDir + "/simulated-cluster.sqlite")
                } catch let error as PlatformError where database is PostgresStoreDatabase {
                    throw DaemonError("cannot make the simulated cluster's schema in the store database: \(error.message)")
                }
                driver = SimulatedCluster(state: state, configuration: try simulatedClusterConfiguration())
            }
        } catch let error as DaemonError {
            throw error
        } catch {
            // The message names the file and the system's reason; nothing more is logged.
            let reason = (error as? PlatformError)?.message ?? "\(error)"
            throw DaemonError(
                "cannot open the state in \(dataDir): \(reason); make the directory writable by this user, or choose another with --data-dir"
            )
        }
        let info = DaemonInfo(
            version: PlatformVersion.current,
            startedAtMilliseconds: Date().millisecondsSince1970,
            clusterDriver: driver.kind,
            database: database.backend
        )
        logger.info("open-file limit", metadata: openFiles)
        var provisioning = ProvisionerConfiguration()
        provisioning.maxConcurrentProvisions = maxConcurrentProvisions
        provisioning.logsTransitions = true
        provisioning.publishesProgress = true
        provisioning.replicaID = replicaID
        provisioning.leaseTTL = .seconds(leaseTTL)
        provisioning.deadline = .seconds(provisionDeadline)
        provisioning.pollInterval = .milliseconds(readinessPollMs)
        provisioning.storeDomain = storeDomain
        provisioning.tlsClusterIssuer = storeTLSIssuer.isEmpty ? nil : storeTLSIssuer
        provisioning.cleanupTimeout = .seconds(cleanupTimeout)
        // helm records how an install ended within its timeout; the driver kills it a
        // minute later. A release pending longer than that was abandoned.
        provisioning.pendingReleaseTimeout = .seconds(installTimeout + 60)
        var reconciling = Reconciler.Configuration()
        reconciling.interval = .seconds(reconcileInterval)
        reconciling.deleteOrphans = deleteOrphans
        let controlPlane = ControlPlane(
            info: info, database: database, driver: driver, provisioning: provisioning, reconciling: reconciling,
            eventBuffer: eventBuffer,
            rateLimiter: RateLimiter(
                limits: RateLimits(requestsPerMinute: requestsPerMinute, createsPerMinute: createsPerMinute),
                shared: sharesRateLimits(database) ? ReportedSharedRateBuckets(database, logger: logger) : nil
            ),
            access: access, maxLiveStores: maxLiveStores, replayLimit: watchReplayLimit, logger: logger
        )
        let server: RPCServer
        do {
            server = try await RPCServer.bind(configuration: configuration, router: controlPlane.makeRouter(), logger: logger)
        } catch {
            throw DaemonError("cannot start: \(error)")
        }

        var listening = ["unix:\(socket)"]
        if let port = server.tcpPort, let host = configuration.tcp?.host {
            listening.append(
                "tcp:\(host):\(port)" + (tls != nil ? " (tls)" : "") + (configuration.tcp?.tokens != nil ? " (bearer token required)" : "")
            )
        }
        var cluster = info.clusterDriver.rawValue
        if info.clusterSimulated {
            cluster += " (SimulatedCluster: embedded simulator, no real Kubernetes; \(try simulatedFaultsDescription()))"
        }
        logger.info(
            "storeplatformd \(info.version) serving",
            metadata: [
                "listening": "\(listening.joined(separator: ", "))",
                "cluster": "\(cluster)",
                "data-dir": "\(dataDir)",
                "database": "\(database.backend) \(database.location)",
                "replica": "\(replicaID)",
                "tls": "\(tls?.summary ?? "off")",
                "event-loops": "\(NIOSingletons.groupLoopCountSuggestion)",
            ]
        )

        // The control plane's services (ControlPlane.makeServices, the provisioner before
        // the reconciler) come first, so they stop last: calls still finishing in the RPC
        // server and the gateway may hand the provisioner work (or get a clear
        // UNAVAILABLE), and the reconciler resumes stores through it.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: EarlySignals(), successTerminationBehavior: .gracefullyShutdownGroup)]
            + controlPlane.makeServices().map { .init(service: $0) }
            + [.init(service: ReloadOnHangup(tls: tls, tokens: tokens, access: accessFile.isEmpty ? nil : (accessFile, controlPlane), logger: logger))]
        if http != "off" {
            let address = try HostAndPort(parsing: http)
            var gatewayConfiguration = GatewayConfiguration()
            gatewayConfiguration.host = address.host
            gatewayConfiguration.port = address.port
            gatewayConfiguration.trustedProxies = Set(httpTrustedProxies.filter { !$0.isEmpty })
            gatewayConfiguration.corsOrigins = Set(corsOrigins.filter { !$0.isEmpty })
            gatewayConfiguration.maxBodyBytes = httpMaxBodyBytes
            gatewayConfiguration.maxConnections = httpMaxConnections
            gatewayConfiguration.maxEventStreams = httpMaxEventStreams
            gatewayConfiguration.idleTimeout = httpIdleTimeout == 0 ? nil : .seconds(httpIdleTimeout)
            gatewayConfiguration.headerTimeout = httpHeaderTimeout == 0 ? nil : .seconds(httpHeaderTimeout)
            gatewayConfiguration.bodyTimeout = httpBodyTimeout == 0 ? nil : .seconds(httpBodyTimeout)
            gatewayConfiguration.maxHeaderCount = httpMaxHeaderCount
            gatewayConfiguration.maxHeaderBytes = httpMaxHeaderBytes
            gatewayConfiguration.dashboardDirectory = dashboardDir
            gatewayConfiguration.tokens = tokens
            gatewayConfiguration.tls = tls
            gatewayConfiguration.allowPlainTokens = allowPlainTokens
            let gateway = HTTPGateway(
                controlPlane: controlPlane, configuration: gatewayConfiguration, logger: logger,
                onListening: { [logger, hasTokens = tokens != nil, scheme = tls != nil ? "https" : "http"] host, port in
                    logger.info(
                        "http gateway listening",
                        metadata: [
                            "http": "\(host):\(port)\(hasTokens ? " (bearer token required for changes)" : "")",
                            "url": "\(scheme)://\(host):\(port)/",
                        ]
                    )
                }
            )
            services.append(.init(service: gateway, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        services.append(.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(
            configuration: .init(
                // Shut down in reverse: the RPC server stops taking calls, then the HTTP
                // gateway (ending its event streams), then the reconciler stops, then the
                // provisioner: its operations stop at a step boundary, their stores keep
                // their status and the next start's reconcile pass resumes them.
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("storeplatformd stopped")
    }
}

extension DaemonCommand {
    /// Checks `--database` and `--database-password-file` before anything starts. A
    /// mistake in them is a usage error (exit 64) printed as one line, without the
    /// usage text after it: the line says what is wrong and what to give instead.
    func validateDatabase() throws {
        do {
            switch try DatabaseOption(database, dataDir: dataDir) {
            case .sqlite:
                guard databasePasswordFile.isEmpty else {
                    throw ValidationError("--database-password-file is for a PostgreSQL --database; an SQLite file has no password")
                }
            case .postgres(let text):
                // A URL that cannot be right stops the daemon here, as a usage error,
                // before anything is created or connected.
                let url: PostgresDatabaseURL
                do {
                    url = try PostgresDatabaseURL(text)
                } catch {
                    let reason = (error as? PlatformError)?.message ?? "\(error)"
                    throw ValidationError("--database \(DatabaseOption.redacted(text).debugDescription): \(reason)")
                }
                guard url.password == nil || databasePasswordFile.isEmpty else {
                    throw ValidationError(
                        "--database carries a password and --database-password-file gives one too; keep one (the file keeps it out of the process list)"
                    )
                }
                _ = try DatabaseOption.password(fromFile: databasePasswordFile)
            }
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
            throw ExitCode.validationFailure
        }
    }

    /// Whether `--shared-rate-limits` (auto: with PostgreSQL) makes the rate limiter
    /// count every replica's calls in `database`.
    func sharesRateLimits(_ database: any StoreDatabase) -> Bool {
        sharedRateLimits == "on" || (sharedRateLimits == "auto" && database.backend == "postgresql")
    }

    /// Opens the database `--database` names and brings its schema up to date, or
    /// fails with one line saying what is wrong and what to do.
    func openDatabase(logger: Logger) async throws -> any StoreDatabase {
        let option = try DatabaseOption(database, dataDir: dataDir)
        let password = try DatabaseOption.password(fromFile: databasePasswordFile)
        switch option {
        case .sqlite(let path):
            do {
                return try SQLiteStoreDatabase.open(path: path)
            } catch {
                // The message names the file and the system's reason; nothing more is logged.
                let reason = (error as? PlatformError)?.message ?? "\(error)"
                throw DaemonError("\(reason); make its directory writable by this user, or choose another with --data-dir or --database")
            }
        case .postgres(let url):
            do {
                return try await PostgresStoreDatabase.connect(url: url, password: password, logger: logger)
            } catch {
                // The backend's messages name the database or its server and say what
                // to do; one that starts with "the store database" needs no prefix.
                let reason = (error as? PlatformError)?.message ?? "\(error)"
                throw DaemonError(reason.hasPrefix("the store database ") ? reason : "cannot open the store database: \(reason)")
            }
        }
    }

    var tlsFiles: ServerTLSFiles {
        ServerTLSFiles(
            certificateChain: tlsCert, privateKey: tlsKey, clientCA: tlsClientCA.isEmpty ? nil : tlsClientCA,
            clientCertificates: ServerTLSFiles.ClientCertificates(rawValue: tlsClientCerts) ?? .required
        )
    }

    /// The faults the simulated cluster injects, for the start-up line: "no injected
    /// faults", or "injected faults: crashloop p=0.5, install-error p=1 (seed 7, first
    /// 1 attempt of each release)".
    func simulatedFaultsDescription() throws -> String {
        let configuration = try simulatedClusterConfiguration()
        guard !configuration.faults.isEmpty || !configuration.storeFaults.isEmpty else { return "no injected faults" }
        let faults = configuration.faults.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key.rawValue) p=\($0.value == $0.value.rounded() ? String(Int($0.value)) : String($0.value))" }
            + configuration.storeFaults.sorted { $0.key < $1.key }.map { "\($0.value.rawValue)@\($0.key)" }
        let attempts = configuration.faultAttempts == 1 ? "first attempt" : "first \(configuration.faultAttempts) attempts"
        return "injected faults: \(faults.joined(separator: ", ")) (seed \(configuration.seed), \(attempts) of each release)"
    }

    func simulatedClusterConfiguration() throws -> SimulatedClusterConfiguration {
        var configuration = SimulatedClusterConfiguration()
        configuration.installDelay = .seconds(simInstallDelay)
        configuration.readyDelay = .seconds(simReadyDelay)
        configuration.uninstallDelay = .seconds(simUninstallDelay)
        configuration.seed = simSeed
        configuration.faultAttempts = simFaultAttempts
        for text in simFaults {
            if let (store, fault) = try SimulatedClusterConfiguration.parseStoreFault(text) {
                configuration.storeFaults[store] = fault
            } else {
                let (fault, probability) = try SimulatedClusterConfiguration.parseFault(text)
                configuration.faults[fault] = probability
            }
        }
        return configuration
    }
}

extension DaemonCommand {
    /// The access policy: `--admin-uid`s are admins, then the access file's lines
    /// (``AccessFile``), then the built-in defaults (``AccessPolicy``).
    func loadAccessPolicy(adminUIDs: Set<UInt32>) throws -> AccessPolicy {
        guard !accessFile.isEmpty else { return AccessPolicy(adminUIDs: adminUIDs) }
        return try Self.loadAccessPolicy(file: accessFile, adminUIDs: adminUIDs)
    }

    /// Reads and parses an access file; the error says what to fix.
    static func loadAccessPolicy(file: String, adminUIDs: Set<UInt32>) throws -> AccessPolicy {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw DaemonError("cannot read access file \(file): \(error.localizedDescription); fix the path given to --access-file")
        }
        do {
            return AccessPolicy(adminUIDs: adminUIDs, rules: try AccessFile.parse(text, path: file), file: file)
        } catch {
            throw DaemonError("access file \(error)")
        }
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension DaemonCommand {
    /// Open files the daemon needs besides its connections: the databases, the
    /// event loops, helm and kubectl's pipes, the dashboard's files.
    static let openFileHeadroom = 256

    /// Raises the soft open-file limit to the hard one and checks that the
    /// connection caps fit under it: running out of descriptors must never be what
    /// stops the daemon (it cannot even read /proc then), so a cap that does not fit
    /// is a start-up error that says what to change. Returns the limits, for the log.
    func raiseOpenFileLimit() throws -> Logger.Metadata {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return [:] }
        let before = limit.rlim_cur
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let httpConnections = http == "off" ? 0 : httpMaxConnections
        let tcpConnections = tcp == "off" ? 0 : maxTCPConnections
        let needed = maxUnixConnections + tcpConnections + httpConnections + Self.openFileHeadroom
        guard UInt64(needed) <= UInt64(limit.rlim_cur) else {
            throw DaemonError(
                "the connection caps need \(needed) open files (--max-unix-connections \(maxUnixConnections) + --max-tcp-connections \(tcpConnections) + --http-max-connections \(httpConnections) + \(Self.openFileHeadroom) for everything else), but the open-file limit is \(limit.rlim_cur) (hard limit \(limit.rlim_max)); lower the caps or raise the limit (ulimit -n, LimitNOFILE=)"
            )
        }
        return ["soft": "\(limit.rlim_cur)", "was": "\(before)", "hard": "\(limit.rlim_max)", "needed": "\(needed)"]
    }
}
