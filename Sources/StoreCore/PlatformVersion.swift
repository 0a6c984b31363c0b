/// The platform's release version, reported by Health and `--version`.
public enum PlatformVersion {
    public static let current = "0.1.0"
}
