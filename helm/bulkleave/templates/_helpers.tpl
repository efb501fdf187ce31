{{/* Names ------------------------------------------------------------------------------ */}}

{{- define "bulkleave.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bulkleave.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: <fullname>-<component>, within 63 characters. */}}
{{- define "bulkleave.componentName" -}}
{{- printf "%s-%s" (include "bulkleave.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component -}}
{{- end -}}

{{- define "bulkleave.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bulkleave.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bulkleave.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------- */}}

{{/* Selector labels of a component: (dict "root" $ "component" "worker"). */}}
{{- define "bulkleave.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bulkleave.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels: (dict "root" $ "component" "worker"). */}}
{{- define "bulkleave.labels" -}}
helm.sh/chart: {{ include "bulkleave.chart" .root }}
{{ include "bulkleave.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: bulkleave
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "bulkleave.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Configuration ---------------------------------------------------------------------- */}}

{{/* A TOML value. Numbers arrive as float64 from YAML: whole ones are written as integers. */}}
{{- define "bulkleave.tomlValue" -}}
{{- if kindIs "string" . -}}
{{- toJson . -}}
{{- else if kindIs "bool" . -}}
{{- . -}}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- if eq (float64 (int64 .)) (float64 .) }}{{ int64 . }}{{ else }}{{ . }}{{ end -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) (kindIs "int32" .) (kindIs "uint64" .) -}}
{{- . -}}
{{- else if kindIs "slice" . -}}
[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "bulkleave.tomlValue" $e }}{{ end }}]
{{- else -}}
{{- fail (printf "cannot write %v (%s) in the configuration" . (kindOf .)) -}}
{{- end -}}
{{- end -}}

{{/* A TOML key: bare when TOML allows it, else quoted. */}}
{{- define "bulkleave.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end -}}
{{- end -}}

{{/* A TOML table and its sub-tables, keys sorted: (dict "table" $map "path" (list ...)). */}}
{{- define "bulkleave.tomlTable" -}}
{{- $table := .table -}}
{{- $path := .path -}}
{{- $scalars := list -}}
{{- $tables := list -}}
{{- range $key := keys $table | sortAlpha -}}
{{- $value := get $table $key -}}
{{- if kindIs "map" $value -}}
{{- $tables = append $tables $key -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- $scalars = append $scalars $key -}}
{{- end -}}
{{- end -}}
{{- if and $path $scalars }}
[{{ range $i, $p := $path }}{{ if $i }}.{{ end }}{{ include "bulkleave.tomlKey" $p }}{{ end }}]
{{- end }}
{{- range $scalars }}
{{ include "bulkleave.tomlKey" . }} = {{ include "bulkleave.tomlValue" (get $table .) }}
{{- end }}
{{- range $tables }}
{{- include "bulkleave.tomlTable" (dict "table" (get $table .) "path" (append $path .)) }}
{{- end }}
{{- end -}}

{{/* The file a credential is mounted at: (dict "root" $ "kind" "accounts" "name" NAME). */}}
{{- define "bulkleave.credentialPath" -}}
{{- printf "%s/%s/%s" (trimSuffix "/" .root.Values.secret.mountPath) .kind .name -}}
{{- end -}}

{{/* The whole configuration file: `config` plus what the chart derives from its values. */}}
{{- define "bulkleave.config" -}}
{{- $v := .Values -}}
{{- $c := deepCopy ($v.config | default dict) -}}
{{- $redis := dict "key_prefix" $v.redis.keyPrefix -}}
{{- if not $v.redis.urlSecret.key -}}
{{- $_ := set $redis "url" (required "redis.url is required when redis.urlSecret.key is empty" $v.redis.url) -}}
{{- end -}}
{{- $_ := set $c "redis" $redis -}}
{{- $db := dict "max_connections" $v.database.maxConnections "migrate_on_start" $v.database.migrateOnStart -}}
{{- if not $v.database.urlSecret.key -}}
{{- $_ := set $db "url" (required "database.url is required when database.urlSecret.key is empty" $v.database.url) -}}
{{- end -}}
{{- $_ := set $c "database" $db -}}
{{- $_ := set $c "worker" (dict "concurrency" $v.worker.concurrency "drain_timeout" (printf "%ds" (int $v.worker.drainTimeoutSeconds))) -}}
{{- $_ := set $c "metrics" (dict "enabled" true "listen" (printf "0.0.0.0:%d" (int $v.worker.metricsPort))) -}}
{{- $api := deepCopy (get $c "api" | default dict) -}}
{{- $_ := set $api "listen" (printf "0.0.0.0:%d" (int $v.api.port)) -}}
{{- $tokens := dict -}}
{{- range $caller, $_ := $v.apiTokens -}}
{{- $_ := set $tokens $caller (dict "file" (include "bulkleave.credentialPath" (dict "root" $ "kind" "tokens" "name" $caller))) -}}
{{- end -}}
{{- if $tokens -}}
{{- $_ := set $api "tokens" $tokens -}}
{{- end -}}
{{- $_ := set $c "api" $api -}}
{{- $accounts := dict -}}
{{- range $name, $account := $v.accounts -}}
{{- $a := omit $account "credentialSecret" -}}
{{- $_ := set $a "credential" (dict "file" (include "bulkleave.credentialPath" (dict "root" $ "kind" "accounts" "name" $name))) -}}
{{- $_ := set $accounts $name $a -}}
{{- end -}}
{{- if $accounts -}}
{{- $_ := set $c "accounts" $accounts -}}
{{- end -}}
# bulkleave configuration, rendered by the Helm chart from its values (see values.yaml).
# Credentials are not here: accounts and API tokens read files mounted from a Secret, the
# Redis and PostgreSQL URLs come from the environment when they carry a password.
{{- include "bulkleave.tomlTable" (dict "table" $c "path" list) }}
{{ end -}}

{{/* Pods ------------------------------------------------------------------------------- */}}

{{/* An env var from a Secret key: (dict "root" $ "name" VAR "secret" {name, key}). */}}
{{- define "bulkleave.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ default .root.Values.secret.name .secret.name }}
      key: {{ .secret.key }}
{{- end -}}

{{/* The database URL's variable, when a Secret holds it (the migration Job needs only this). */}}
{{- define "bulkleave.databaseEnv" -}}
{{- if .Values.database.urlSecret.key }}
{{ include "bulkleave.secretEnv" (dict "root" . "name" "BULKLEAVE__DATABASE__URL" "secret" .Values.database.urlSecret) }}
{{- end }}
{{- end -}}

{{/* The OpenTelemetry variables of a component's container. */}}
{{- define "bulkleave.otelEnv" -}}
{{- with .Values.otel }}
{{- if .endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | quote }}
{{- $attributes := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" }}
{{- range $k := keys .resourceAttributes | sortAlpha }}
{{- $attributes = append $attributes (printf "%s=%s" $k (get $.Values.otel.resourceAttributes $k)) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- if .sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- end }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
{{- if .headersSecret.key }}
{{ include "bulkleave.secretEnv" (dict "root" $ "name" "OTEL_EXPORTER_OTLP_HEADERS" "secret" .headersSecret) }}
{{- end }}
{{- range $k := keys .extraEnv | sortAlpha }}
- name: {{ $k }}
  value: {{ get $.Values.otel.extraEnv $k | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The environment of the worker and API containers. */}}
{{- define "bulkleave.env" -}}
- name: BULKLEAVE_CONFIG
  value: /etc/bulkleave/bulkleave.toml
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.redis.urlSecret.key }}
{{ include "bulkleave.secretEnv" (dict "root" . "name" "BULKLEAVE__REDIS__URL" "secret" .Values.redis.urlSecret) }}
{{- end }}
{{- include "bulkleave.databaseEnv" . }}
{{- include "bulkleave.otelEnv" . }}
{{- end -}}

{{/* Whether any credential file is mounted. */}}
{{- define "bulkleave.hasCredentials" -}}
{{- if or .Values.accounts .Values.apiTokens }}true{{ end -}}
{{- end -}}

{{/* Volumes of the worker and API pods: the ConfigMap, the credentials (one projected volume
     over the Secrets they name), a small /tmp (the root file system is read-only). */}}
{{- define "bulkleave.volumes" -}}
- name: config
  configMap:
    name: {{ include "bulkleave.fullname" . }}
{{- if include "bulkleave.hasCredentials" . }}
- name: credentials
  projected:
    defaultMode: 0440
    sources:
{{- range $name := keys .Values.accounts | sortAlpha }}
{{- $secret := get (get $.Values.accounts $name) "credentialSecret" }}
      - secret:
          name: {{ default $.Values.secret.name $secret.name }}
          items:
            - key: {{ $secret.key }}
              path: accounts/{{ $name }}
{{- end }}
{{- range $caller := keys .Values.apiTokens | sortAlpha }}
{{- $secret := get $.Values.apiTokens $caller }}
      - secret:
          name: {{ default $.Values.secret.name $secret.name }}
          items:
            - key: {{ $secret.key }}
              path: tokens/{{ $caller }}
{{- end }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "bulkleave.volumeMounts" -}}
- name: config
  mountPath: /etc/bulkleave
  readOnly: true
{{- if include "bulkleave.hasCredentials" . }}
- name: credentials
  mountPath: {{ .Values.secret.mountPath }}
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Probes on `port` (a container port name): (dict "values" .Values.worker "port" "metrics"
     "ready" "/readyz"). */}}
{{- define "bulkleave.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .values.startupProbe | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .values.livenessProbe | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  {{- toYaml .values.readinessProbe | nindent 2 }}
{{- end -}}

{{/* What every pod of a component shares: (dict "root" $ "values" .Values.worker). */}}
{{- define "bulkleave.podScheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "bulkleave.podSecurity" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Autoscaling and disruption ------------------------------------------------------------ */}}

{{/* A CPU HorizontalPodAutoscaler: (dict "root" $ "component" "api" "values" .Values.api). */}}
{{- define "bulkleave.hpa" -}}
{{- $a := .values.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "bulkleave.componentName" . }}
  labels:
    {{- include "bulkleave.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "bulkleave.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
{{- end -}}

{{/* A PodDisruptionBudget: (dict "root" $ "component" "api" "values" .Values.api). */}}
{{- define "bulkleave.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "bulkleave.componentName" . }}
  labels:
    {{- include "bulkleave.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "bulkleave.selectorLabels" . | nindent 6 }}
{{- end -}}
