/// The steps of a provisioning attempt, in order; each checks before it acts.
/// Watchers of this replica's operations hear each as it begins (a "progress"
/// event); they are not stored.
public enum ProvisioningStep: String, Sendable, CaseIterable {
    /// The store's namespace, labelled as the platform's.
    case namespace
    /// The store's Secret with its generated passwords.
    case secret
    /// The Helm release, installed when absent.
    case install
    /// Waiting until the store's pods are ready, up to the deadline.
    case readiness
}
