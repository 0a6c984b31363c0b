/// One version of an engine the platform can run: what a store's release installs
/// (the WordPress image, the WooCommerce version the setup hook installs, the chart's
/// version), named as users type it, for example `6.9-wc10.3`.
///
/// A store records the version it runs (``Store/version``); an upgrade moves it to
/// another of its engine's ``StoreEngine/versions`` (docs/ARCHITECTURE.md, "Upgrades
/// and rollbacks").
public struct EngineVersion: Sendable, Equatable, Hashable {
    /// The version's name: `<WordPress>-wc<WooCommerce>`, for example `6.9-wc10.3`.
    public var name: String
    /// The WordPress container image, `repository:tag`.
    public var wordPressImage: String
    /// The WooCommerce release the setup hook installs.
    public var wooCommerceVersion: String
    /// The version of the engine's chart that installs it.
    public var chartVersion: String

    public init(name: String, wordPressImage: String, wooCommerceVersion: String, chartVersion: String) {
        self.name = name
        self.wordPressImage = wordPressImage
        self.wooCommerceVersion = wooCommerceVersion
        self.chartVersion = chartVersion
    }

    /// The image's repository (before the last `:`).
    public var wordPressRepository: String {
        guard let colon = wordPressImage.lastIndex(of: ":") else { return wordPressImage }
        return String(wordPressImage[..<colon])
    }

    /// The image's tag (after the last `:`); `latest` when it names none.
    public var wordPressTag: String {
        guard let colon = wordPressImage.lastIndex(of: ":") else { return "latest" }
        return String(wordPressImage[wordPressImage.index(after: colon)...])
    }

    /// The chart values that pin this version, set explicitly on every install,
    /// upgrade and rollback (never carried over from the previous release).
    public var chartValues: [String: String] {
        [
            "wordpress.image.repository": wordPressRepository,
            "wordpress.image.tag": wordPressTag,
            "setup.woocommerceVersion": wooCommerceVersion,
        ]
    }
}

extension StoreEngine {
    /// The version named `raw` (surrounding whitespace ignored, case-insensitive).
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/unknownVersion`` naming the
    ///   versions there are.
    public func version(named raw: String) throws -> EngineVersion {
        let requested = raw.trimmingWhitespace().lowercased()
        guard let version = versions.first(where: { $0.name == requested }) else {
            let known = versions.map(\.name).joined(separator: ", ")
            throw PlatformError(
                .unknownVersion,
                "engine \"\(name)\" has no version \(raw.quotedForMessage); its versions: \(known.isEmpty ? "none" : known)"
            )
        }
        return version
    }

    /// The version a store records when it names none (rows from before versions
    /// were recorded): the default.
    public func recordedVersion(_ name: String) -> EngineVersion? {
        name.isEmpty ? defaultVersion : versions.first { $0.name == name }
    }
}
