/// How the double's stand-in controllers behave: what pods do once started, how
/// Jobs end, how long deletions linger. Rules are matched by namespace prefix
/// (store namespaces are `store-<name>-…`, so a prefix picks a store by name).
public struct Behavior: Sendable {
    /// What a started pod does.
    public enum PodOutcome: Sendable, Equatable {
        /// Running and Ready.
        case ready
        /// Restarts forever (waiting reason CrashLoopBackOff, last exit code 1).
        case crashLoopBackOff
        /// Cannot pull its image (waiting reason ImagePullBackOff).
        case imagePullBackOff
        /// ErrImagePull first, then Ready after `recoversAfter` (a registry hiccup);
        /// nil: ErrImagePull and then ImagePullBackOff for good.
        case errImagePull(recoversAfter: Duration?)
        /// A container's configuration refers to something missing (waiting reason
        /// CreateContainerConfigError).
        case createContainerConfigError
        /// Stays Pending: never scheduled.
        case pending
    }

    public enum JobOutcome: Sendable, Equatable {
        case succeed
        case fail
        /// Never finishes.
        case hang
    }

    public struct PodRule: Sendable {
        public var namespacePrefix: String
        /// The pod's `app.kubernetes.io/component` label; nil matches every pod.
        public var component: String?
        public var outcome: PodOutcome
        public init(namespacePrefix: String, component: String? = nil, outcome: PodOutcome) {
            self.namespacePrefix = namespacePrefix
            self.component = component
            self.outcome = outcome
        }
    }

    public struct JobRule: Sendable {
        public var namespacePrefix: String
        public var outcome: JobOutcome
        public init(namespacePrefix: String, outcome: JobOutcome) {
            self.namespacePrefix = namespacePrefix
            self.outcome = outcome
        }
    }

    /// From a workload's creation until its pods reach their outcome.
    public var podStartDelay: Duration = .milliseconds(100)
    /// From a Job's creation until it succeeds or fails.
    public var jobDuration: Duration = .milliseconds(50)
    /// How long a deleted PersistentVolumeClaim stays Terminating (its
    /// kubernetes.io/pvc-protection finalizer) before it is gone.
    public var persistentVolumeClaimDeletion: Duration = .zero
    /// How long a deleted namespace stays Terminating; nil: for ever (a finalizer
    /// nobody removes).
    public var namespaceDeletion: Duration? = .milliseconds(20)
    /// How many of the next RoleBinding creates are refused as if the admission
    /// policy's namespace cache had not seen the new namespace yet.
    public var admissionCacheMisses = 0
    /// First match wins; a pod no rule matches becomes Ready.
    public var podRules: [PodRule] = []
    /// First match wins; a Job no rule matches succeeds.
    public var jobRules: [JobRule] = []

    public init() {}

    func podOutcome(namespace: String, component: String?) -> PodOutcome {
        podRules.first { namespace.hasPrefix($0.namespacePrefix) && ($0.component == nil || $0.component == component) }?.outcome ?? .ready
    }

    func jobOutcome(namespace: String) -> JobOutcome {
        jobRules.first { namespace.hasPrefix($0.namespacePrefix) }?.outcome ?? .succeed
    }
}
