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
{{- define "store.cron.name" -}}{{ include "store.base" . }}-cron{{- end -}}
{{/*
The pods' service account. helm/platform's admission policy requires exactly this
name, "<app.kubernetes.io/instance>-store", on every pod storeplatform creates
(release names are store names of at most 40 characters, so "store.base" is the
release name itself).
*/}}
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

{{/*
"true" when TLS is on. The driver sets ingress.tls.enabled with --set-string, so
the string "true" counts like the boolean; "false" and "" do not.
*/}}
{{- define "store.tlsEnabled" -}}
{{- if eq (toString .Values.ingress.tls.enabled) "true" -}}true{{- end -}}
{{- end -}}

{{- define "store.tlsSecretName" -}}
{{- .Values.ingress.tls.secretName | default (printf "%s-tls" .Release.Name) -}}
{{- end -}}

{{- define "store.scheme" -}}
{{- if include "store.tlsEnabled" . -}}https{{- else -}}http{{- end -}}
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

{{/* Where every pod mounts its files of the driver's Secret. */}}
{{- define "store.secretsDir" -}}/run/secrets/store{{- end -}}

{{/*
The salts' keys in the driver's Secret (credentials.optionalSalts), as
"WORDPRESS_<NAME> file-name" pairs.
*/}}
{{- define "store.saltNames" -}}
{{- range $name := list "AUTH_KEY" "SECURE_AUTH_KEY" "LOGGED_IN_KEY" "NONCE_KEY" "AUTH_SALT" "SECURE_AUTH_SALT" "LOGGED_IN_SALT" "NONCE_SALT" }}
{{ $name }} wordpress-{{ $name | lower | replace "_" "-" }}
{{- end }}
{{- end -}}

{{/*
A volume with the listed keys of the driver's Secret as files named after the keys
(items: list of Secret keys; optional: list of keys that may be absent). Readable
by the pod's group (fsGroup) and nobody else: the images read them through their
*_FILE variables, so no password is ever in an environment variable.
*/}}
{{- define "store.credentialsVolume" -}}
- name: credentials
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ include "store.secretName" .context }}
          items:
            {{- range .items }}
            - key: {{ . }}
              path: {{ . }}
            {{- end }}
      {{- with .optional }}
      # Present only when the driver's Secret has them: a missing key is skipped.
      - secret:
          name: {{ include "store.secretName" $.context }}
          optional: true
          items:
            {{- range . }}
            - key: {{ . }}
              path: {{ . }}
            {{- end }}
      {{- end }}
{{- end -}}

{{/* wp-config.php's extra PHP: the operator's, plus DISABLE_WP_CRON with cron.enabled. */}}
{{- define "store.configExtra" -}}
{{- $parts := list -}}
{{- with .Values.wordpress.configExtra }}{{ $parts = append $parts (trim .) }}{{ end -}}
{{- if .Values.cron.enabled }}{{ $parts = append $parts "define('DISABLE_WP_CRON', true);" }}{{ end -}}
{{- join "\n" $parts -}}
{{- end -}}

{{/*
Environment shared by WordPress, the setup Job and the cron runs: the database
connection that the image's wp-config-docker.php reads, the password as a file
(WORDPRESS_DB_PASSWORD_FILE) from the credentials volume.
*/}}
{{- define "store.wordpressDatabaseEnv" -}}
- name: WORDPRESS_DB_HOST
  value: {{ include "store.dbHost" . | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ .Values.mysql.database | quote }}
- name: WORDPRESS_DB_USER
  value: {{ .Values.mysql.user | quote }}
- name: WORDPRESS_DB_PASSWORD_FILE
  value: {{ printf "%s/%s" (include "store.secretsDir" .) .Values.credentials.keys.mysqlPassword | quote }}
{{- with include "store.configExtra" . }}
- name: WORDPRESS_CONFIG_EXTRA
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
An init container that puts WordPress core and a wp-config.php into the pod's
scratch docroot (/var/www/html, an emptyDir) for wp-cli, taken from the very image
the site runs, so core and database schema versions always match. With
.seedContent it also copies the image's default themes and plugins into
wp-content without overwriting anything there (as the image's own entrypoint
does).
*/}}
{{- define "store.wordpressCoreInitContainer" -}}
{{- $ := .context -}}
- name: wordpress-core
  image: {{ include "store.image" $.Values.wordpress.image | quote }}
  imagePullPolicy: {{ $.Values.wordpress.image.pullPolicy }}
  command:
    - /bin/sh
    - -c
    - |
      set -eu
      cd /usr/src/wordpress
      tar --create --file - --exclude ./wp-content . \
        | tar --extract --file - --directory /var/www/html --no-overwrite-dir
      {{- if .seedContent }}
      tar --create --file - ./wp-content \
        | tar --extract --file - --directory /var/www/html --no-overwrite-dir --skip-old-files
      {{- end }}
      cp wp-config-docker.php /var/www/html/wp-config.php
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- include "store.containerSecurityContext" $ | nindent 4 }}
    readOnlyRootFilesystem: true
  volumeMounts:
    - name: docroot
      mountPath: /var/www/html
    - name: wp-content
      mountPath: /var/www/html/wp-content
{{- end -}}

{{/*
A ReadWriteOnce wp-content volume is attached to one node at a time: pods other
than WordPress's that mount it run next to the WordPress pod that holds it.
*/}}
{{- define "store.wpContentAffinity" -}}
{{- if has "ReadWriteOnce" .Values.wordpress.persistence.accessModes }}
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels:
            {{- include "store.selectorLabels" (dict "context" . "component" "wordpress") | nindent 12 }}
        topologyKey: kubernetes.io/hostname
{{- end }}
{{- end -}}

{{- define "store.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* An egress rule: HTTPS to networkPolicy.setupEgress's CIDR, minus its exceptions. */}}
{{- define "store.httpsEgress" -}}
- to:
    - ipBlock:
        cidr: {{ .Values.networkPolicy.setupEgress.cidr }}
        {{- with .Values.networkPolicy.setupEgress.except }}
        except:
          {{- toYaml . | nindent 10 }}
        {{- end }}
  ports:
    - protocol: TCP
      port: 443
{{- end -}}
