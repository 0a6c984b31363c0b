/// The credentials of one store, made when its Secret is created. Drawn from
/// the system's cryptographic generator; they only ever travel to the cluster
/// driver, never to the database, a log, Helm values or an API response.
enum StoreSecrets {
    static let secretSuffix = "-credentials"
    private static let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    static func secretName(release: String) -> String {
        release + secretSuffix
    }

    /// WordPress's authentication keys and salts: stable per store, so sessions
    /// survive a pod restart (helm/store reads them when present).
    static let wordpressKeys = [
        "auth-key", "secure-auth-key", "logged-in-key", "nonce-key",
        "auth-salt", "secure-auth-salt", "logged-in-salt", "nonce-salt",
    ]

    static func generate() -> [String: String] {
        var values = [
            "mysql-root-password": password(),
            "mysql-password": password(),
            "wordpress-admin-password": password(),
        ]
        for key in wordpressKeys {
            values["wordpress-" + key] = password(length: 64)
        }
        return values
    }

    static func password(length: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
