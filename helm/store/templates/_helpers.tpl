{{/*
Base of every resource name: the release name, short enough that the longest
suffix ("-wp-content") and the StatefulSet's pod and revision names stay within
Kubernetes' 63-character limits.
*/}}
{{- define "store.base" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "store.mysql.name" -}}{{ include "store.base" . }}-mysql{{- end -}}
{{- define "store.wordpress.name" -}}{{ include "store.base" . }}-wordpress{{- end -}}
{{- define "store.wpcontent.name" -}}{{ include "store.base" . }}-wp-content{{- end -}}
{{- define "store.setup.name" -}}{{ include "store.base" . }}-setup{{- end -}}
{{- define "store.serviceAccountName" -}}{{ include "store.base" . }}-store{{- end -}}

{{- define "store.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels on every resource.

app.kubernetes.io/instance is what the driver selects on (kubectl get ... -l
app.kubernetes.io/instance=RELEASE). app.kubernetes.io/managed-by is Helm's own
value: Helm stamps managed-by=Helm on everything it installs and refuses to adopt
resources labelled otherwise, so the platform's ownership is carried by
storeplatform.io/store-id and app.kubernetes.io/part-of instead. The namespace's
labels (managed-by=storeplatform, store-id) belong to the driver: this chart never
creates or changes the namespace.
*/}}
{{- define "store.labels" -}}
helm.sh/chart: {{ include "store.chart" . }}
app.kubernetes.io/name: woocommerce
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storeplatform
storeplatform.io/store-id: {{ .Values.store.id | quote }}
{{- end -}}

{{/* Selector labels of one component (wordpress, mysql, setup). */}}
{{- define "store.selectorLabels" -}}
app.kubernetes.io/name: woocommerce
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Full labels of one component: common labels plus the component. */}}
{{- define "store.componentLabels" -}}
{{ include "store.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The driver's Secret: credentials.secretName, else "<release>-credentials". */}}
{{- define "store.secretName" -}}
{{- .Values.credentials.secretName | default (printf "%s-credentials" .Release.Name) -}}
{{- end -}}

{{- define "store.scheme" -}}
{{- if .Values.ingress.tls.enabled -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{- define "store.url" -}}
{{ include "store.scheme" . }}://{{ .Values.ingress.host }}
{{- end -}}

{{- define "store.adminEmail" -}}
{{- .Values.store.adminEmail | default (printf "admin@%s" .Values.ingress.host) -}}
{{- end -}}

{{- define "store.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* MySQL's address as WordPress's wp-config.php expects it. */}}
{{- define "store.dbHost" -}}
{{ include "store.mysql.name" . }}:3306
{{- end -}}

{{/*
Container security context shared by every container: no privilege escalation,
no capabilities, the runtime's default seccomp profile, non-root.
*/}}
{{- define "store.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Environment shared by WordPress and the setup Job: the database connection that
the image's wp-config-docker.php reads, with the password from the driver's Secret.
*/}}
{{- define "store.wordpressDatabaseEnv" -}}
- name: WORDPRESS_DB_HOST
  value: {{ include "store.dbHost" . | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ .Values.mysql.database | quote }}
- name: WORDPRESS_DB_USER
  value: {{ .Values.mysql.user | quote }}
- name: WORDPRESS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "store.secretName" . }}
      key: {{ .Values.credentials.keys.mysqlPassword }}
{{- if .Values.credentials.optionalSalts }}
{{- range $name := list "AUTH_KEY" "SECURE_AUTH_KEY" "LOGGED_IN_KEY" "NONCE_KEY" "AUTH_SALT" "SECURE_AUTH_SALT" "LOGGED_IN_SALT" "NONCE_SALT" }}
- name: WORDPRESS_{{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "store.secretName" $ }}
      key: wordpress-{{ $name | lower | replace "_" "-" }}
      optional: true
{{- end }}
{{- end }}
{{- if .Values.wordpress.configExtra }}
- name: WORDPRESS_CONFIG_EXTRA
  value: {{ .Values.wordpress.configExtra | quote }}
{{- end }}
{{- end -}}

{{- define "store.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
