import Foundation
import ProcessTestSupport
import Testing

@testable import Provisioning

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fake `helm` and `kubectl` executables (bash scripts) in a temp directory, for
/// ``HelmCLIDriver`` tests with no cluster and no helm.
///
/// Each call appends its argv to `calls.log` (one line per call: the tool name,
/// then each argument, separated by U+001F). Input read from stdin is saved to
/// `stdin/N.json`. State lives in files — `state/ns/NAME.json` (the namespace
/// object), `state/secrets/NS/NAME.json`, `state/releases/NS/NAME` (its helm
/// status) — so a second create really finds the first one. Answers are in the
/// real tools' formats. Control files in `control/` change behaviour:
/// `fail-TOOL-SUBCOMMAND` (its content is printed to stderr, exit 1),
/// `hang-TOOL-SUBCOMMAND` (writes `hang.pid`, starts `sleep 300`, writes
/// `hang-child.pid`, waits), `pods` (ready | progressing | crashloop | imagepull),
/// `install-status` (the status a new release gets; deployed by default).
final class FakeTools {
    let directory: String
    var helmPath: String { directory + "/bin/helm" }
    var kubectlPath: String { directory + "/bin/kubectl" }
    var chartDirectory: String { directory + "/charts" }

    init() throws {
        directory = temporaryPath("sphelm")
        let fileManager = FileManager.default
        for sub in ["bin", "control", "stdin", "state/ns", "state/secrets", "state/releases", "charts/store"] {
            try fileManager.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        try Self.write(Self.prelude(directory: directory, tool: "kubectl") + Self.kubectlBody, to: kubectlPath, executable: true)
        try Self.write(Self.prelude(directory: directory, tool: "helm") + Self.helmBody, to: helmPath, executable: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A driver over these fakes.
    func driver(
        timeout: Duration = .seconds(30), kubeconfig: String? = nil, context: String? = nil, outputLimit: Int = 64 * 1024
    ) -> HelmCLIDriver {
        HelmCLIDriver(configuration: .init(
            helmPath: helmPath, kubectlPath: kubectlPath, kubeconfig: kubeconfig, context: context,
            chartDirectory: chartDirectory, commandTimeout: timeout, outputLimit: outputLimit, terminationGracePeriod: .seconds(2)
        ))
    }

    // MARK: What the fakes saw

    /// Every call so far, oldest first: [tool, arg1, arg2, …].
    func calls() throws -> [[String]] {
        guard let log = try? String(contentsOfFile: directory + "/calls.log", encoding: .utf8) else { return [] }
        return log.split(separator: "\n").map { $0.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The raw argv log, as written.
    func callLog() -> String {
        (try? String(contentsOfFile: directory + "/calls.log", encoding: .utf8)) ?? ""
    }

    /// Everything the fakes read on stdin, oldest first.
    func inputs() throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/stdin")
            .sorted { Int($0.split(separator: ".")[0])! < Int($1.split(separator: ".")[0])! }
        return try names.map { try String(contentsOfFile: directory + "/stdin/" + $0, encoding: .utf8) }
    }

    func clearCalls() throws {
        try? FileManager.default.removeItem(atPath: directory + "/calls.log")
    }

    // MARK: Control

    func set(_ control: String, _ content: String = "") throws {
        try Self.write(content, to: directory + "/control/" + control)
    }

    func clear(_ control: String) {
        try? FileManager.default.removeItem(atPath: directory + "/control/" + control)
    }

    // MARK: State

    func seedNamespace(_ name: String, labels: [String: String], terminating: Bool = false) throws {
        var object: [String: Any] = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "labels": labels]]
        if terminating { object["status"] = ["phase": "Terminating"] }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        try data.write(to: URL(fileURLWithPath: directory + "/state/ns/\(name).json"))
    }

    func seedRelease(namespace: String, name: String, status: String = "deployed") throws {
        try FileManager.default.createDirectory(atPath: directory + "/state/releases/" + namespace, withIntermediateDirectories: true)
        try Self.write(status + "\n", to: directory + "/state/releases/\(namespace)/\(name)")
    }

    func namespaceObject(_ name: String) -> String? {
        try? String(contentsOfFile: directory + "/state/ns/\(name).json", encoding: .utf8)
    }

    func secretExists(namespace: String, name: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/state/secrets/\(namespace)/\(name).json")
    }

    func releaseStatus(namespace: String, name: String) -> String? {
        (try? String(contentsOfFile: directory + "/state/releases/\(namespace)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A pid the fake wrote (`hang.pid`, `hang-child.pid`).
    func pid(_ file: String) -> pid_t? {
        (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// True while `pid` runs (a zombie waiting for its parent does not count).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    // MARK: Scripts

    private static func write(_ text: String, to path: String, executable: Bool = false) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
    }

    /// Logging, fail and hang switches, global flags stripped, `opt` helper.
    private static func prelude(directory: String, tool: String) -> String {
        """
        #!/usr/bin/env bash
        # Fake \(tool) for the HelmCLIDriver tests. See FakeTools.swift.
        D='\(directory)'
        S="$D/state"
        TOOL=\(tool)
        line="$TOOL"
        for a in "$@"; do line+=$'\\x1f'"$a"; done
        printf '%s\\n' "$line" >> "$D/calls.log"

        args=()
        while (($#)); do
          case "$1" in
            --kubeconfig|--context|--kube-context) shift 2 ;;
            *) args+=("$1"); shift ;;
          esac
        done
        set -- "${args[@]}"

        # opt FLAG: the value after FLAG among the arguments.
        opt() {
          local i
          for ((i = 0; i < ${#args[@]}; i++)); do
            if [[ "${args[$i]}" == "$1" ]]; then printf '%s' "${args[$((i + 1))]}"; return; fi
          done
        }

        # save_input: read stdin into $input and keep a copy in stdin/N.json.
        save_input() {
          input=$(cat)
          local n
          n=$(ls "$D/stdin" | wc -l)
          printf '%s' "$input" > "$D/stdin/$((n + 1)).json"
        }

        # field KEY: the first "KEY":"value" string in $input.
        field() {
          grep -o "\\"$1\\":\\"[^\\"]*\\"" <<<"$input" | head -1 | cut -d'"' -f4
        }

        if [[ -f "$D/control/hang-$TOOL-$1" ]]; then
          echo $$ > "$D/hang.pid"
          sleep 300 &
          echo $! > "$D/hang-child.pid"
          wait
          exit 0
        fi
        if [[ -f "$D/control/fail-$TOOL-$1" ]]; then
          cat "$D/control/fail-$TOOL-$1" >&2
          exit 1
        fi

        """
    }

    private static let kubectlBody = #"""
        case "$1 $2" in
          "get namespace")
            f="$S/ns/$3.json"
            if [[ -f "$f" ]]; then cat "$f"; echo
            else echo "Error from server (NotFound): namespaces \"$3\" not found" >&2; exit 1; fi ;;

          "get namespaces")
            sel=$(opt -l); key="${sel%%=*}"; val="${sel#*=}"
            printf '{"apiVersion":"v1","items":['
            first=1
            for f in "$S"/ns/*.json; do
              [[ -e "$f" ]] || continue
              grep -qF "\"$key\":\"$val\"" "$f" || continue
              ((first)) || printf ','
              first=0
              cat "$f"
            done
            printf '],"kind":"List","metadata":{"resourceVersion":""}}\n' ;;

          "apply -f")
            save_input
            kind=$(field kind); name=$(field name)
            if [[ "$kind" != Namespace ]]; then echo "error: the fake kubectl applies namespaces only, not $kind" >&2; exit 1; fi
            if [[ -f "$S/ns/$name.json" ]]; then verb=configured; else verb=created; fi
            printf '%s' "$input" > "$S/ns/$name.json"
            echo "namespace/$name $verb" ;;

          "create -f")
            save_input
            kind=$(field kind); name=$(field name); ns=$(field namespace)
            if [[ "$kind" == Namespace ]]; then
              if [[ -f "$S/ns/$name.json" ]]; then
                echo "Error from server (AlreadyExists): error when creating \"STDIN\": namespaces \"$name\" already exists" >&2; exit 1
              fi
              printf '%s' "$input" > "$S/ns/$name.json"
              echo "namespace/$name created"; exit 0
            fi
            if [[ "$kind" != Secret ]]; then echo "error: the fake kubectl creates namespaces and secrets only, not $kind" >&2; exit 1; fi
            if [[ ! -f "$S/ns/$ns.json" ]]; then
              echo "Error from server (NotFound): error when creating \"STDIN\": namespaces \"$ns\" not found" >&2; exit 1
            fi
            if [[ -f "$S/secrets/$ns/$name.json" ]]; then
              echo "Error from server (AlreadyExists): error when creating \"STDIN\": secrets \"$name\" already exists" >&2; exit 1
            fi
            mkdir -p "$S/secrets/$ns"
            printf '%s' "$input" > "$S/secrets/$ns/$name.json"
            echo "secret/$name created" ;;

          "get secret")
            ns=$(opt -n)
            if [[ -f "$S/secrets/$ns/$3.json" ]]; then echo "secret/$3"
            else echo "Error from server (NotFound): secrets \"$3\" not found" >&2; exit 1; fi ;;

          "get deployments,statefulsets,pods")
            ns=$(opt -n); sel=$(opt -l); rel="${sel#*=}"
            if [[ ! -f "$S/releases/$ns/$rel" ]]; then
              echo '{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}'; exit 0
            fi
            mode=$(cat "$D/control/pods" 2>/dev/null || echo ready)
            web_ready=0; db_ready=1; restarts=0; last='{}'
            case "$mode" in
              ready) web_ready=1; state='{"running":{"startedAt":"2025-01-01T10:00:30Z"}}' ;;
              progressing) db_ready=0; state='{"waiting":{"reason":"ContainerCreating"}}' ;;
              crashloop) restarts=3; last='{"terminated":{"exitCode":1,"reason":"Error"}}'
                state="{\"waiting\":{\"message\":\"back-off 40s restarting failed container=wordpress pod=$rel-wordpress-5d4f9c7b8-x2kq9\",\"reason\":\"CrashLoopBackOff\"}}" ;;
              imagepull) state='{"waiting":{"message":"Back-off pulling image \"wordpress:6.6-apache\"","reason":"ImagePullBackOff"}}' ;;
            esac
            ready_field() { (($1)) && printf ',"readyReplicas":1'; }
            cat <<JSON
        {"apiVersion":"v1","items":[
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app.kubernetes.io/instance":"$rel"},"name":"$rel-wordpress","namespace":"$ns"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"wordpress"}}},"status":{"observedGeneration":1,"replicas":1$(ready_field $web_ready)}},
        {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"labels":{"app.kubernetes.io/instance":"$rel"},"name":"$rel-mysql","namespace":"$ns"},"spec":{"replicas":1,"serviceName":"$rel-mysql"},"status":{"currentReplicas":1,"replicas":1$(ready_field $db_ready)}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"app.kubernetes.io/instance":"$rel"},"name":"$rel-wordpress-5d4f9c7b8-x2kq9","namespace":"$ns"},"spec":{"containers":[{"image":"wordpress:6.6-apache","name":"wordpress"}]},"status":{"containerStatuses":[{"image":"wordpress:6.6-apache","lastState":$last,"name":"wordpress","ready":$( ((web_ready)) && echo true || echo false),"restartCount":$restarts,"started":false,"state":$state}],"phase":"Running"}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"app.kubernetes.io/instance":"$rel"},"name":"$rel-mysql-0","namespace":"$ns"},"spec":{"containers":[{"image":"mysql:8.4","name":"mysql"}]},"status":{"containerStatuses":[{"image":"mysql:8.4","lastState":{},"name":"mysql","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2025-01-01T10:00:20Z"}}}],"phase":"Running"}}
        ],"kind":"List","metadata":{"resourceVersion":""}}
        JSON
            ;;

          "get events")
            ns=$(opt -n)
            rel=$(ls "$S/releases/$ns" 2>/dev/null | head -1)
            pod="$rel-wordpress-5d4f9c7b8-x2kq9"
            ev() { # type reason kind name message lastTimestamp [eventTime]
              local last="null"; [[ -n "$6" ]] && last="\"$6\""
              printf '{"apiVersion":"v1","eventTime":%s,"firstTimestamp":%s,"involvedObject":{"kind":"%s","name":"%s","namespace":"%s"},"kind":"Event","lastTimestamp":%s,"message":"%s","metadata":{"name":"%s.%s","namespace":"%s"},"reason":"%s","type":"%s"}' \
                "${7:-null}" "$last" "$3" "$4" "$ns" "$last" "$5" "$4" "$RANDOM" "$ns" "$2" "$1"
            }
            printf '{"apiVersion":"v1","items":['
            ev Normal Started Pod "$pod" "Started container wordpress" "2025-01-01T10:00:07Z"; printf ','
            ev Warning BackOff Pod "$pod" "Back-off restarting failed container wordpress in pod $pod" "2025-01-01T10:02:30Z"; printf ','
            ev Normal Scheduled Pod "$pod" "Successfully assigned $ns/$pod to node-1" "" '"2025-01-01T10:00:00.000000Z"'; printf ','
            ev Normal Pulled Pod "$pod" "Container image \\\"wordpress:6.6-apache\\\" already present on machine" "2025-01-01T10:01:40Z"; printf ','
            ev Normal SuccessfulCreate ReplicaSet "$rel-wordpress-5d4f9c7b8" "Created pod: $pod" "2025-01-01T09:59:59Z"; printf ','
            ev Normal Created Pod "$pod" "Created container wordpress" "" '"2025-01-01T10:00:06.500000Z"'; printf ','
            ev Normal Pulling Pod "$pod" "Pulling image \\\"wordpress:6.6-apache\\\"" "2025-01-01T10:00:01Z"
            printf '],"kind":"List","metadata":{"resourceVersion":""}}\n' ;;

          "delete namespace")
            if [[ -f "$S/ns/$3.json" ]]; then
              rm -f "$S/ns/$3.json"; rm -rf "$S/secrets/$3" "$S/releases/$3"
              echo "namespace \"$3\" deleted"
            fi ;;

          *)
            echo "error: the fake kubectl does not know \"$*\"" >&2; exit 1 ;;
        esac

        """#

    private static let helmBody = #"""
        case "$1" in
          version)
            echo "v3.17.2+gfake" ;;
          status)
            ns=$(opt -n); f="$S/releases/$ns/$2"
            if [[ ! -f "$f" ]]; then echo "Error: release: not found" >&2; exit 1; fi
            printf '{"name":"%s","info":{"first_deployed":"2025-01-01T10:00:00.000000Z","last_deployed":"2025-01-01T10:00:00.000000Z","deleted":"","description":"Install complete","status":"%s","notes":"WooCommerce store"},"chart":{"metadata":{"name":"store","version":"0.1.0"}},"config":{"store":{"name":"%s"}},"manifest":"---\\n","version":1,"namespace":"%s"}\n' \
              "$2" "$(cat "$f")" "$2" "$ns" ;;

          install)
            ns=$(opt -n)
            if [[ ! -f "$S/ns/$ns.json" ]]; then
              echo "Error: INSTALLATION FAILED: create: failed to create: namespaces \"$ns\" not found" >&2; exit 1
            fi
            if [[ -f "$S/releases/$ns/$2" ]]; then
              echo "Error: INSTALLATION FAILED: cannot re-use a name that is still in use" >&2; exit 1
            fi
            status=$(cat "$D/control/install-status" 2>/dev/null || echo deployed)
            mkdir -p "$S/releases/$ns"
            echo "$status" > "$S/releases/$ns/$2"
            printf 'NAME: %s\nLAST DEPLOYED: Wed Jan  1 10:00:00 2025\nNAMESPACE: %s\nSTATUS: %s\nREVISION: 1\nTEST SUITE: None\n' "$2" "$ns" "$status" ;;

          uninstall)
            ns=$(opt -n); f="$S/releases/$ns/$2"
            if [[ ! -f "$f" ]]; then echo "Error: uninstall: Release not loaded: $2: release: not found" >&2; exit 1; fi
            rm -f "$f"
            echo "release \"$2\" uninstalled" ;;

          list)
            printf '['
            first=1
            for f in "$S"/releases/*/*; do
              [[ -e "$f" ]] || continue
              ((first)) || printf ','
              first=0
              printf '{"name":"%s","namespace":"%s","revision":"1","updated":"2025-01-01 10:00:00.000000 +0000 UTC","status":"%s","chart":"store-0.1.0","app_version":"6.6"}' \
                "$(basename "$f")" "$(basename "$(dirname "$f")")" "$(cat "$f")"
            done
            printf ']\n' ;;

          *)
            echo "Error: unknown command \"$1\" for \"helm\"" >&2; exit 1 ;;
        esac

        """#
}
