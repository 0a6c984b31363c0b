// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StorePlatform",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "storeplatformd", targets: ["storeplatformd"]),
        .executable(name: "storectl", targets: ["storectl"]),
        .executable(name: "storeplatform-bench", targets: ["storeplatform-bench"]),
        .library(name: "StoreRPC", targets: ["StoreRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Generated from proto/ by scripts/generate-protos. Never edited by hand. The
        // envelope (frames, statuses, codes), which is all the transport needs:
        .target(
            name: "StorePlatformEnvelope",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // … and the services: their messages, and a typed descriptor of each method.
        .target(
            name: "StorePlatformProto",
            dependencies: ["StoreRPC", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Domain: statuses, names, errors and their code table, limits, access. No I/O,
        // and nothing else of the project.
        .target(
            name: "StoreCore"
        ),
        // Wire protocol: frame codec, RPC server and client, peer identity. Knows nothing of stores.
        .target(
            name: "StoreRPC",
            dependencies: [
                "StorePlatformEnvelope",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // SQLite through GRDB: migrations, records, queries. A status change and its
        // audit row are one transaction.
        // A stand-in for a Kubernetes API server (not a cluster) that the real helm and
        // kubectl talk to in tests and benchmarks: objects in memory, recorded requests.
        .target(
            name: "KubernetesAPIDouble",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The storage seams (the store database, the simulated cluster's state) and
        // their SQLite implementations through GRDB.
        .target(
            name: "StoreDatabase",
            dependencies: ["StoreCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The StoreDatabase on PostgreSQL through postgres-nio, for several replicas:
        // migrations under an advisory lock, a bounded connection pool.
        .target(
            name: "PostgresStoreDatabase",
            dependencies: [
                "StoreCore", "StoreDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // For tests only: a throwaway PostgreSQL server (initdb + pg_ctl in a temporary
        // directory), or the reason the tests that need one are skipped.
        .target(
            name: "PostgresTestSupport",
            dependencies: ["ProcessTestSupport", .product(name: "Subprocess", package: "swift-subprocess")],
            path: "Tests/PostgresTestSupport"
        ),
        // For tests only: a deterministic random number generator.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        // For tests only: a provisioner's service run for a test's lifetime.
        .target(
            name: "ProvisioningTestSupport",
            dependencies: ["Provisioning", "StoreCore", "StoreDatabase", .product(name: "Logging", package: "swift-log")],
            path: "Tests/ProvisioningTestSupport"
        ),
        // For tests and benchmarks only: a blocking socket that sends raw frames, for
        // the echo floor and for bytes no well-behaved client would send.
        .target(
            name: "RPCTestSupport",
            dependencies: ["StoreRPC"],
            path: "Tests/RPCTestSupport"
        ),
        // For tests only: programs started with posix_spawn (ChildProcess), their
        // output collected and their exit awaited.
        .target(
            name: "ProcessTestSupport",
            path: "Tests/ProcessTestSupport"
        ),
        // The only code that talks to a cluster: Provisioner, ClusterDriver and its
        // drivers, Reconciler.
        .target(
            name: "Provisioning",
            dependencies: [
                "StoreCore", "StoreDatabase",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        // The service layer: one handler per RPC.
        .target(
            name: "ControlPlane",
            dependencies: [
                "StoreCore", "StoreRPC", "StorePlatformEnvelope", "StorePlatformProto", "StoreDatabase", "Provisioning",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The HTTP gateway: REST routes over the same ControlPlane handlers, Server-Sent
        // Events, Prometheus /metrics and the dashboard's static files.
        .target(
            name: "HTTPGateway",
            dependencies: [
                "ControlPlane", "StoreCore", "StorePlatformProto", "StoreRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "storeplatformd",
            dependencies: [
                "ControlPlane", "HTTPGateway", "StoreRPC", "StoreCore", "StoreDatabase", "PostgresStoreDatabase", "Provisioning",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "storectl",
            dependencies: [
                "StoreRPC", "StorePlatformProto",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "storeplatform-bench",
            dependencies: [
                "StoreRPC", "KubernetesAPIDouble", "ControlPlane", "StorePlatformEnvelope", "StorePlatformProto", "StoreCore", "StoreDatabase", "Provisioning",
                "PostgresStoreDatabase", "PostgresTestSupport", "ProcessTestSupport", "RPCTestSupport", "HTTPGateway",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "StoreCoreTests",
            dependencies: ["StoreCore", "TestSupport"]
        ),
        .testTarget(
            name: "StoreDatabaseTests",
            dependencies: [
                "StoreDatabase", "StoreCore", "PostgresStoreDatabase", "PostgresTestSupport", "ProcessTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ProvisioningTests",
            dependencies: [
                "Provisioning", "StoreDatabase", "StoreCore", "KubernetesAPIDouble", "ProcessTestSupport", "ProvisioningTestSupport",
                "PostgresStoreDatabase", "PostgresTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "StoreRPCTests",
            dependencies: [
                "StoreRPC", "StorePlatformEnvelope", "StorePlatformProto", "ProcessTestSupport", "RPCTestSupport", "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HTTPGatewayTests",
            dependencies: [
                "HTTPGateway", "ControlPlane", "Provisioning", "StoreDatabase", "StoreCore", "StorePlatformEnvelope", "StorePlatformProto", "StoreRPC",
                "ProcessTestSupport", "ProvisioningTestSupport", "RPCTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // End-to-end: runs the built storeplatformd and storectl as processes.
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "StoreRPC", "StorePlatformEnvelope", "StorePlatformProto", "Provisioning", "storeplatformd", "storectl", "PostgresTestSupport", "ProcessTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
