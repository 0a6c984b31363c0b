/// A kind of store the platform can provision: the strategy that says which Helm chart
/// installs it and whether it can be created yet.
///
/// Conforming types are immutable values; ``StoreEngines`` holds the known ones.
public protocol StoreEngine: Sendable {
    /// The engine's name as users type it and the database stores it; lower case.
    var name: String { get }
    /// Whether stores of this engine can be created now.
    var isAvailable: Bool { get }
    /// The Helm chart that installs a store of this engine, relative to the repository.
    var chart: String { get }
    /// The versions a store of this engine can run, oldest first (``EngineVersion``);
    /// empty for an engine that cannot be created yet.
    var versions: [EngineVersion] { get }
    /// The version a new store runs; nil when there are no ``versions``.
    var defaultVersion: EngineVersion? { get }
}

/// WordPress + MySQL + WooCommerce; the default engine.
public struct WooCommerceEngine: StoreEngine {
    public var name: String { "woocommerce" }
    public var isAvailable: Bool { true }
    public var chart: String { "helm/store" }

    /// WordPress 6.8 with WooCommerce 9.8, and WordPress 6.9 (the chart's own
    /// image, helm/store/values.yaml) with WooCommerce 10.3, the default.
    public var versions: [EngineVersion] {
        [
            EngineVersion(name: "6.8-wc9.8", wordPressImage: "wordpress:6.8-php8.3-apache", wooCommerceVersion: "9.8.5", chartVersion: "0.2.2"),
            EngineVersion(name: "6.9-wc10.3", wordPressImage: "wordpress:6.9-php8.3-apache", wooCommerceVersion: "10.3.5", chartVersion: "0.2.2"),
        ]
    }

    public var defaultVersion: EngineVersion? { versions.last }

    public init() {}
}

/// Medusa: known to the platform but not implemented yet, so creating one is refused
/// with ``ErrorCode/engineUnavailable``.
public struct MedusaEngine: StoreEngine {
    public var name: String { "medusa" }
    public var isAvailable: Bool { false }
    /// Where its chart will live; the chart does not exist yet.
    public var chart: String { "helm/medusa" }
    public var versions: [EngineVersion] { [] }
    public var defaultVersion: EngineVersion? { nil }

    public init() {}
}

/// The registry of known engines and the one place a requested engine name is resolved.
public enum StoreEngines {
    /// The engine used when a request names none.
    public static let `default`: any StoreEngine = WooCommerceEngine()

    /// Every known engine, available or not, in the order messages list them.
    public static let all: [any StoreEngine] = [WooCommerceEngine(), MedusaEngine()]

    /// The engine a request asks for. Empty (or only whitespace) means ``default``;
    /// otherwise the name is matched case-insensitively, ignoring surrounding whitespace.
    ///
    /// - Returns: an available engine.
    /// - Throws: ``PlatformError`` with ``ErrorCode/engineUnavailable`` for a known engine
    ///   that cannot be created yet (medusa), or ``ErrorCode/invalidEngine`` for an unknown
    ///   name; both messages list the engines to use instead.
    public static func resolve(_ raw: String) throws -> any StoreEngine {
        let requested = raw.trimmingWhitespace().lowercased()
        if requested.isEmpty {
            return `default`
        }
        guard let engine = all.first(where: { $0.name == requested }) else {
            throw PlatformError(
                .invalidEngine,
                "unknown engine \(raw.quotedForMessage); known engines: \(all.map(\.name).joined(separator: ", "))"
            )
        }
        guard engine.isAvailable else {
            let available = all.filter(\.isAvailable).map { "\"\($0.name)\"" }.joined(separator: " or ")
            throw PlatformError(
                .engineUnavailable,
                "engine \"\(engine.name)\" is not available yet; use \(available)"
            )
        }
        return engine
    }
}

extension String {
    /// This string without leading and trailing whitespace (no Foundation needed).
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
