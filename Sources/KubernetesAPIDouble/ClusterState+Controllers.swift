import Foundation

/// Stand-ins for the controllers and kubelets of a cluster: workloads get pods,
/// pods reach the outcome ``Behavior`` gives them, Jobs finish, StatefulSets get
/// their claims. All of it happens inside the double; nothing runs.
extension ClusterState {
    static let deployments = APIResource.all.first { $0.name == "deployments" }!
    static let statefulSets = APIResource.all.first { $0.name == "statefulsets" }!

    func startControllers(_ state: inout State, _ resource: APIResource, _ object: JSON) {
        switch resource.name {
        case "deployments", "statefulsets":
            startPods(&state, resource, object)
        case "jobs":
            startJob(&state, object)
        default:
            break
        }
    }

    /// A workload whose pod template changed (an upgrade) gets new pods.
    func workloadChanged(_ state: inout State, _ resource: APIResource, _ object: JSON) {
        guard resource == Self.deployments || resource == Self.statefulSets else { return }
        let uid = object[path: "metadata.uid"]?.string
        let owned = (state.objects[Self.pods] ?? [:]).values.filter { Self.owner(of: $0) == uid }
        let template = object[path: "spec.template"]
        if owned.allSatisfy({ $0[path: "metadata.annotations"]?["storeplatform.test/template"] == .string(template?.text ?? "") }),
            owned.count == (object[path: "spec.replicas"]?.int ?? 1)
        {
            return
        }
        for pod in owned { remove(&state, Self.pods, pod, orphan: true) }
        startPods(&state, resource, object)
    }

    private func startPods(_ state: inout State, _ resource: APIResource, _ workload: JSON) {
        let namespace = workload[path: "metadata.namespace"]?.string ?? "default"
        let name = workload[path: "metadata.name"]?.string ?? ""
        let replicas = workload[path: "spec.replicas"]?.int ?? 1
        let hash = Self.randomSuffix(10)
        for index in 0..<replicas {
            let podName = resource == Self.statefulSets ? "\(name)-\(index)" : "\(name)-\(hash)-\(Self.randomSuffix(5))"
            if resource == Self.statefulSets { createClaims(&state, workload, index: index) }
            let pod = Self.pod(podName, namespace: namespace, from: workload, kind: resource.kind)
            let stored = Self.put(&state, Self.pods, pod, type: "ADDED")
            let outcome = state.behavior.podOutcome(namespace: namespace, component: pod[path: "metadata.labels"]?["app.kubernetes.io/component"]?.string)
            scheduleOutcome(stored, outcome, after: state.behavior.podStartDelay)
        }
        refreshWorkload(&state, resource, workload)
    }

    /// The claims of a StatefulSet's volumeClaimTemplates, owned by it when its
    /// retention policy deletes them with it.
    private func createClaims(_ state: inout State, _ workload: JSON, index: Int) {
        let namespace = workload[path: "metadata.namespace"]?.string ?? "default"
        let name = workload[path: "metadata.name"]?.string ?? ""
        let deletes = workload[path: "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"]?.string == "Delete"
        for template in workload[path: "spec.volumeClaimTemplates"]?.array ?? [] {
            let claimName = "\(template[path: "metadata.name"]?.string ?? "data")-\(name)-\(index)"
            guard state.objects[Self.claims]?[Self.key(namespace, claimName)] == nil else { continue }
            var labels = template[path: "metadata.labels"]?.stringMap ?? [:]
            labels.merge(workload[path: "spec.selector.matchLabels"]?.stringMap ?? [:]) { $1 }
            var metadata: [String: JSON] = [
                "name": .string(claimName), "namespace": .string(namespace), "labels": .stringMap(labels),
                "uid": .string(UUID().uuidString.lowercased()), "creationTimestamp": .string(Self.now()),
                "finalizers": ["kubernetes.io/pvc-protection"],
            ]
            if deletes { metadata["ownerReferences"] = [Self.ownerReference(workload)] }
            let claim: JSON = [
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": .object(metadata),
                "spec": template["spec"] ?? [:], "status": ["phase": "Bound"],
            ]
            Self.put(&state, Self.claims, claim, type: "ADDED")
        }
    }

    private func startJob(_ state: inout State, _ job: JSON) {
        let namespace = job[path: "metadata.namespace"]?.string ?? "default"
        let name = job[path: "metadata.name"]?.string ?? ""
        var pod = Self.pod("\(name)-\(Self.randomSuffix(5))", namespace: namespace, from: job, kind: "Job")
        let labels = Patch.merge(pod[path: "metadata.labels"] ?? [:], ["job-name": .string(name), "batch.kubernetes.io/job-name": .string(name)])
        pod["metadata"]?["labels"] = labels
        pod["status"] = ["phase": "Running", "startTime": .string(Self.now())]
        Self.put(&state, Self.pods, pod, type: "ADDED")
        let outcome = state.behavior.jobOutcome(namespace: namespace)
        guard outcome != .hang else { return }
        let podName = pod[path: "metadata.name"]?.string ?? ""
        schedule(state.behavior.jobDuration) { [self] in
            self.state.withLock { state in
                guard var job = state.objects[Self.jobs]?[Self.key(namespace, name)] else { return }
                let now = Self.now()
                if outcome == .succeed {
                    job["status"] = [
                        "succeeded": 1, "ready": 0, "startTime": job[path: "status.startTime"] ?? .string(now), "completionTime": .string(now),
                        "conditions": [
                            ["type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": .string(now)],
                            ["type": "Complete", "status": "True", "lastTransitionTime": .string(now)],
                        ],
                    ]
                } else {
                    let limit = job[path: "spec.backoffLimit"]?.int ?? 6
                    job["status"] = [
                        "failed": .int(limit + 1), "ready": 0, "startTime": job[path: "status.startTime"] ?? .string(now),
                        "conditions": [
                            ["type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": .string(now)],
                            [
                                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                "message": "Job has reached the specified backoff limit", "lastTransitionTime": .string(now),
                            ],
                        ],
                    ]
                }
                Self.put(&state, Self.jobs, job, type: "MODIFIED")
                if var pod = state.objects[Self.pods]?[Self.key(namespace, podName)] {
                    pod["status"] = [
                        "phase": outcome == .succeed ? "Succeeded" : "Failed",
                        "containerStatuses": .array(Self.containerNames(pod).map { container in
                            [
                                "name": .string(container), "ready": false, "restartCount": 0,
                                "state": ["terminated": ["exitCode": outcome == .succeed ? 0 : 1, "reason": outcome == .succeed ? "Completed" : "Error"]],
                            ]
                        }),
                    ]
                    Self.put(&state, Self.pods, pod, type: "MODIFIED")
                }
            }
        }
    }

    private func scheduleOutcome(_ pod: JSON, _ outcome: Behavior.PodOutcome, after delay: Duration) {
        let namespace = pod[path: "metadata.namespace"]?.string ?? ""
        let name = pod[path: "metadata.name"]?.string ?? ""
        schedule(delay) { [self] in
            self.state.withLock { state in
                guard var pod = state.objects[Self.pods]?[Self.key(namespace, name)] else { return }
                pod["status"] = Self.podStatus(pod, outcome)
                Self.put(&state, Self.pods, pod, type: "MODIFIED")
                if let event = Self.event(for: pod, outcome) { Self.put(&state, Self.events, event, type: "ADDED") }
                if let ownerUID = Self.owner(of: pod) {
                    for resource in [Self.deployments, Self.statefulSets] {
                        if let workload = state.objects[resource]?.values.first(where: { $0[path: "metadata.uid"]?.string == ownerUID }) {
                            refreshWorkload(&state, resource, workload)
                        }
                    }
                }
            }
            if case .errImagePull(let recovery) = outcome {
                scheduleOutcome(pod, recovery == nil ? .imagePullBackOff : .ready, after: recovery ?? .milliseconds(200))
            }
        }
    }

    /// Sets the workload's replica counts from its pods.
    func refreshWorkload(_ state: inout State, _ resource: APIResource, _ workload: JSON) {
        let uid = workload[path: "metadata.uid"]?.string
        let pods = (state.objects[Self.pods] ?? [:]).values.filter { Self.owner(of: $0) == uid }
        let ready = pods.filter { pod in
            pod[path: "status.conditions"]?.array?.contains { $0["type"] == "Ready" && $0["status"] == "True" } == true
        }.count
        let namespace = workload[path: "metadata.namespace"]?.string
        guard var current = state.objects[resource]?[Self.key(namespace, workload[path: "metadata.name"]?.string ?? "")] else { return }
        let generation = current[path: "metadata.generation"] ?? 1
        var status: [String: JSON] = [
            "replicas": .int(pods.count), "readyReplicas": .int(ready), "availableReplicas": .int(ready),
            "updatedReplicas": .int(pods.count), "observedGeneration": generation,
        ]
        if resource == Self.statefulSets {
            status["currentReplicas"] = .int(pods.count)
            status["currentRevision"] = "r1"
            status["updateRevision"] = "r1"
        } else {
            let available = ready >= (current[path: "spec.replicas"]?.int ?? 1)
            status["conditions"] = [
                ["type": "Available", "status": available ? "True" : "False", "reason": available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"],
                ["type": "Progressing", "status": "True", "reason": available ? "NewReplicaSetAvailable" : "ReplicaSetUpdated"],
            ]
        }
        if current["status"] == .object(status) { return }
        current["status"] = .object(status)
        Self.put(&state, resource, current, type: "MODIFIED")
    }

    // MARK: Objects

    static func owner(of object: JSON) -> String? {
        object[path: "metadata.ownerReferences"]?.array?.first?["uid"]?.string
    }

    static func ownerReference(_ owner: JSON) -> JSON {
        [
            "apiVersion": owner["apiVersion"] ?? "v1", "kind": owner["kind"] ?? "", "name": owner[path: "metadata.name"] ?? "",
            "uid": owner[path: "metadata.uid"] ?? "", "controller": true, "blockOwnerDeletion": true,
        ]
    }

    static func pod(_ name: String, namespace: String, from owner: JSON, kind: String) -> JSON {
        let template = owner[path: "spec.template"] ?? [:]
        return [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": .string(name), "namespace": .string(namespace), "uid": .string(UUID().uuidString.lowercased()),
                "creationTimestamp": .string(now()), "labels": template[path: "metadata.labels"] ?? [:],
                "annotations": ["storeplatform.test/template": .string(template.text)],
                "ownerReferences": [ownerReference(owner)],
            ],
            "spec": template["spec"] ?? [:],
            "status": ["phase": "Pending", "conditions": [["type": "PodScheduled", "status": "True"]]],
        ]
    }

    static func containerNames(_ pod: JSON) -> [String] {
        (pod[path: "spec.containers"]?.array ?? []).compactMap { $0["name"]?.string }
    }

    static func podStatus(_ pod: JSON, _ outcome: Behavior.PodOutcome) -> JSON {
        let containers = containerNames(pod)
        let image = pod[path: "spec.containers"]?.array?.first?["image"]?.string ?? ""
        let started = now()
        func waiting(_ reason: String, _ message: String, restarts: Int = 0, lastExit: Int? = nil) -> JSON {
            .array(containers.map { container in
                var status: [String: JSON] = [
                    "name": .string(container), "ready": false, "started": false, "restartCount": .int(restarts), "image": .string(image),
                    "state": ["waiting": ["reason": .string(reason), "message": .string(message)]],
                ]
                if let lastExit { status["lastState"] = ["terminated": ["exitCode": .int(lastExit), "reason": "Error"]] }
                return .object(status)
            })
        }
        func notReady(_ phase: String, _ statuses: JSON) -> JSON {
            [
                "phase": .string(phase), "startTime": .string(started),
                "conditions": [["type": "PodScheduled", "status": "True"], ["type": "Ready", "status": "False", "reason": "ContainersNotReady"]],
                "containerStatuses": statuses,
            ]
        }
        switch outcome {
        case .ready:
            return [
                "phase": "Running", "startTime": .string(started),
                "conditions": [
                    ["type": "PodScheduled", "status": "True"], ["type": "Initialized", "status": "True"],
                    ["type": "ContainersReady", "status": "True"], ["type": "Ready", "status": "True"],
                ],
                "containerStatuses": .array(containers.map { container in
                    [
                        "name": .string(container), "ready": true, "started": true, "restartCount": 0, "image": .string(image),
                        "state": ["running": ["startedAt": .string(started)]],
                    ]
                }),
            ]
        case .crashLoopBackOff:
            return notReady("Running", waiting("CrashLoopBackOff", "back-off 40s restarting failed container", restarts: 4, lastExit: 1))
        case .imagePullBackOff:
            return notReady("Pending", waiting("ImagePullBackOff", "Back-off pulling image \"\(image)\""))
        case .errImagePull:
            return notReady("Pending", waiting("ErrImagePull", "failed to pull and unpack image \"\(image)\": i/o timeout"))
        case .createContainerConfigError:
            return notReady("Pending", waiting("CreateContainerConfigError", "secret \"missing\" not found"))
        case .pending:
            return [
                "phase": "Pending",
                "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"]],
            ]
        }
    }

    static func event(for pod: JSON, _ outcome: Behavior.PodOutcome) -> JSON? {
        let (reason, message): (String, String)
        switch outcome {
        case .ready: return nil
        case .crashLoopBackOff: (reason, message) = ("BackOff", "Back-off restarting failed container")
        case .imagePullBackOff, .errImagePull: (reason, message) = ("Failed", "Failed to pull image: i/o timeout")
        case .createContainerConfigError: (reason, message) = ("Failed", "Error: secret \"missing\" not found")
        case .pending: (reason, message) = ("FailedScheduling", "0/1 nodes are available: 1 Insufficient memory")
        }
        let podName = pod[path: "metadata.name"]?.string ?? ""
        let time = now()
        return [
            "apiVersion": "v1", "kind": "Event",
            "metadata": [
                "name": .string("\(podName).\(randomSuffix(8))"), "namespace": pod[path: "metadata.namespace"] ?? "",
                "uid": .string(UUID().uuidString.lowercased()), "creationTimestamp": .string(time),
            ],
            "type": "Warning", "reason": .string(reason), "message": .string(message), "count": 1,
            "involvedObject": ["kind": "Pod", "name": .string(podName), "namespace": pod[path: "metadata.namespace"] ?? ""],
            "firstTimestamp": .string(time), "lastTimestamp": .string(time),
        ]
    }
}
