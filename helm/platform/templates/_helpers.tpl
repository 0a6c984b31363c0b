{{- define "platform.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.selectorLabels" -}}
app.kubernetes.io/name: storeplatformd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "platform.labels" -}}
helm.sh/chart: {{ include "platform.chart" . }}
{{ include "platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storeplatform
app.kubernetes.io/component: control-plane
{{- end -}}

{{- define "platform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "platform.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "platform.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The ClusterRole bound once per store namespace (by the RoleBinding "storeplatform"
the driver creates there), never cluster-wide. Passed to the daemon as
--store-cluster-role and named by the admission policy.
*/}}
{{- define "platform.storeRoleName" -}}
{{- printf "%s-store" (include "platform.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{/* The user name the API server gives requests made with the platform's token. */}}
{{- define "platform.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "platform.serviceAccountName" .) -}}
{{- end -}}

{{/*
The host part of a HOST:PORT listener value ("[::1]:7070" gives "::1"), or "off".
*/}}
{{- define "platform.listenHost" -}}
{{- if eq . "off" -}}
off
{{- else if hasPrefix "[" . -}}
{{- regexReplaceAll "^\\[([^]]*)\\]:.*$" . "${1}" -}}
{{- else -}}
{{- regexReplaceAll ":[^:]*$" . "" -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the RPC listener (daemon.tcp) is reachable from outside the pod, that is
bound to anything but "off" or a loopback address; "" otherwise.
*/}}
{{- define "platform.rpcExposed" -}}
{{- $host := include "platform.listenHost" (toString .Values.daemon.tcp) -}}
{{- if not (or (eq $host "off") (eq $host "localhost") (eq $host "::1") (hasPrefix "127." $host)) -}}
true
{{- end -}}
{{- end -}}

{{/*
Refuses to render an RPC listener that other pods can reach without a bearer token:
daemon.tcp on a non-loopback address needs tokenFile.enabled, or an explicit
daemon.allowUnauthenticatedTCP (a throwaway cluster only).
*/}}
{{- define "platform.checkRPCAuthentication" -}}
{{- if and (include "platform.rpcExposed" .) (not .Values.tokenFile.enabled) (not .Values.daemon.allowUnauthenticatedTCP) -}}
{{- fail (printf "daemon.tcp=%s accepts RPC calls from other pods, and tokenFile.enabled is false: every caller that reaches the port could create and delete stores. Enable tokenFile (see values-prod.yaml), bind daemon.tcp to 127.0.0.1:7070, or set daemon.allowUnauthenticatedTCP=true for a throwaway cluster." (toString .Values.daemon.tcp)) -}}
{{- end -}}
{{- end -}}

{{/*
Bearer tokens travel only over TLS or loopback: the daemon refuses a token sent in
clear from another pod. A reachable RPC listener or an Ingress with tokens needs
tls.enabled, or daemon.allowPlainTokens (tokens in clear on the pod network).
*/}}
{{- define "platform.checkTokenTransport" -}}
{{- if and .Values.tokenFile.enabled (or (include "platform.rpcExposed" .) .Values.ingress.enabled) (not .Values.tls.enabled) (not .Values.daemon.allowPlainTokens) -}}
{{- fail "tokenFile.enabled with a reachable daemon.tcp or the Ingress: the daemon refuses bearer tokens sent in clear from other pods. Enable tls (a kubernetes.io/tls Secret), or set daemon.allowPlainTokens=true to accept tokens in clear on the pod network." -}}
{{- end -}}
{{- if and .Values.tls.enabled (not (has (toString .Values.tls.clientCertificates) (list "" "optional"))) -}}
{{- fail (printf "tls.clientCertificates=%s: use \"\" or optional (the kubelet's probes present no client certificate, so required would fail them)" (toString .Values.tls.clientCertificates)) -}}
{{- end -}}
{{- end -}}

{{/*
The same for the HTTP gateway behind the Ingress: with the Ingress on and no token
file, anyone who reaches the host could create and delete stores (POST and DELETE
need a bearer token only when --token-file is set).
*/}}
{{- define "platform.checkHTTPAuthentication" -}}
{{- if and .Values.ingress.enabled (not .Values.tokenFile.enabled) (not .Values.daemon.allowUnauthenticatedHTTP) -}}
{{- fail "ingress.enabled publishes the HTTP API, and tokenFile.enabled is false: anyone who reaches the host could create and delete stores. Enable tokenFile (POST and DELETE then need a bearer token), or set daemon.allowUnauthenticatedHTTP=true for a throwaway cluster." -}}
{{- end -}}
{{- end -}}

{{/*
The store database: SQLite serves one replica (a file on one ReadWriteOnce volume);
several need database.type=postgresql, whose connection comes from a Secret.
*/}}
{{- define "platform.checkDatabase" -}}
{{- $type := toString .Values.database.type -}}
{{- if not (has $type (list "sqlite" "postgresql")) -}}
{{- fail (printf "database.type=%s: use sqlite (one replica) or postgresql" $type) -}}
{{- end -}}
{{- if eq $type "sqlite" -}}
{{- $replicas := ternary (int .Values.autoscaling.maxReplicas) (int .Values.replicaCount) (and .Values.autoscaling.enabled true) -}}
{{- if gt $replicas 1 -}}
{{- fail (printf "database.type=sqlite serves one replica, and this release would run up to %d (replicaCount, autoscaling.maxReplicas): set database.type=postgresql with database.secretName (see values-prod.yaml), or run one replica" $replicas) -}}
{{- end -}}
{{- else if not .Values.database.secretName -}}
{{- fail "database.type=postgresql needs database.secretName: a Secret with the connection URL (key database.urlKey, without the password) and the password (key database.passwordKey)" -}}
{{- end -}}
{{- end -}}

{{/*
The port of a HOST:PORT listener value. The probes, the Service and the Ingress
need the HTTP gateway, so daemon.http cannot be "off" here.
*/}}
{{- define "platform.listenPort" -}}
{{- if not (regexMatch "^.*:[0-9]+$" (toString .)) -}}
{{- fail (printf "%q is not HOST:PORT (daemon.http and a reachable daemon.tcp need a port)" (toString .)) -}}
{{- end -}}
{{- regexReplaceAll "^.*:([0-9]+)$" (toString .) "${1}" -}}
{{- end -}}
