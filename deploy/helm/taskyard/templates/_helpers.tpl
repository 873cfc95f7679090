{{/*
Name of the chart, for the app.kubernetes.io/name label.
*/}}
{{- define "taskyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: the release name (DESIGN.md names worker Deployments
<release>-<type>-worker-<priority>), or fullnameOverride.
Longest suffix added to it is "-email-worker-normal" (20), so it is cut at 43.
*/}}
{{- define "taskyard.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 43 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "taskyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. Call with (dict "root" $ "component" "api").
*/}}
{{- define "taskyard.labels" -}}
helm.sh/chart: {{ include "taskyard.chart" .root }}
{{ include "taskyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: taskyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels. Call with (dict "root" $ "component" "api").
*/}}
{{- define "taskyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount of the Taskyard pods.
*/}}
{{- define "taskyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Reference of a Taskyard image. Call with (dict "root" $ "name" "api").
*/}}
{{- define "taskyard.image" -}}
{{- $image := .root.Values.image }}
{{- $repository := printf "%s/%s" $image.repository .name }}
{{- if $image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" $image.registry) $repository }}
{{- end }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $image.tag | toString) }}
{{- end }}

{{/*
Reference of a third-party image from {registry, repository, tag}.
*/}}
{{- define "taskyard.thirdPartyImage" -}}
{{- if .registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .registry) .repository (toString .tag) }}
{{- else }}
{{- printf "%s:%s" .repository (toString .tag) }}
{{- end }}
{{- end }}

{{/*
Object names.
*/}}
{{- define "taskyard.configMapName" -}}
{{- printf "%s-config" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.connectionsSecretName" -}}
{{- default (printf "%s-connections" (include "taskyard.fullname" .)) .Values.connections.existingSecret }}
{{- end }}

{{- define "taskyard.rabbitmq.fullname" -}}
{{- printf "%s-rabbitmq" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.rabbitmq.secretName" -}}
{{- default (include "taskyard.rabbitmq.fullname" .) .Values.rabbitmq.auth.existingSecret }}
{{- end }}

{{- define "taskyard.redis.fullname" -}}
{{- printf "%s-redis" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.redis.secretName" -}}
{{- default (include "taskyard.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{- define "taskyard.api.fullname" -}}
{{- printf "%s-api" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.apiKeys.secretName" -}}
{{- default (printf "%s-api-keys" (include "taskyard.fullname" .)) .Values.api.apiKeys.existingSecret }}
{{- end }}

{{- define "taskyard.apiKeys.secretKey" -}}
{{- if .Values.api.apiKeys.existingSecret }}{{ .Values.api.apiKeys.existingSecretKey }}{{ else }}api-keys{{ end }}
{{- end }}

{{- define "taskyard.flower.fullname" -}}
{{- printf "%s-flower" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.flower.secretName" -}}
{{- default (include "taskyard.flower.fullname" .) .Values.flower.auth.existingSecret }}
{{- end }}

{{- define "taskyard.storage.claimName" -}}
{{- default (printf "%s-files" (include "taskyard.fullname" .)) .Values.storage.pvc.existingClaim }}
{{- end }}

{{- define "taskyard.s3.secretName" -}}
{{- default (printf "%s-s3" (include "taskyard.fullname" .)) .Values.storage.s3.existingSecret }}
{{- end }}

{{- define "taskyard.smtp.secretName" -}}
{{- default (printf "%s-smtp" (include "taskyard.fullname" .)) .Values.smtp.existingSecret }}
{{- end }}

{{/*
"true" when ScaledObjects are rendered: keda.enabled and the cluster serves KEDA's API
(or keda.checkCrds is false).
*/}}
{{- define "taskyard.keda.active" -}}
{{- if and .Values.keda.enabled (or (not .Values.keda.checkCrds) (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject")) -}}
true
{{- end }}
{{- end }}

{{/*
"true" when a Prometheus Operator kind is rendered: the cluster serves
monitoring.coreos.com/v1 (or monitoring.checkCrds is false). Call with (list $ "ServiceMonitor").
*/}}
{{- define "taskyard.monitoring.crdServed" -}}
{{- $root := index . 0 }}
{{- if or (not $root.Values.monitoring.checkCrds) ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" (index . 1))) -}}
true
{{- end }}
{{- end }}

{{/*
The NetworkPolicy peer of Prometheus (monitoring.prometheusSelector), as a list item;
empty unless monitoring.networkPolicy.allowPrometheus.
*/}}
{{- define "taskyard.prometheusPeer" -}}
{{- if .Values.monitoring.networkPolicy.allowPrometheus }}
{{- toYaml (list .Values.monitoring.prometheusSelector) }}
{{- end }}
{{- end }}

{{/*
"true" when at least one worker Deployment serves metrics (workers.*.metrics.port > 0).
*/}}
{{- define "taskyard.workers.metricsEnabled" -}}
{{- $found := false }}
{{- range $type, $typeValues := .Values.workers.types }}
{{- if $typeValues.enabled }}
{{- range $priority, $_ := $.Values.workers.priorities }}
{{- $w := include "taskyard.worker.settings" (dict "root" $ "type" $type "priority" $priority) | fromJson }}
{{- if gt (int $w.metrics.port) 0 }}
{{- $found = true }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $found -}}
true
{{- end }}
{{- end }}

{{/*
A value of a Secret the chart generates: the value already stored in the cluster
(lookup, so `helm upgrade` keeps it), else a new random one. Memoized per render,
so every template that needs the same value (a password and the URL built from
it) gets the same one. Call with (list $ "secret-name" "key" length).
*/}}
{{- define "taskyard.generatedValue" -}}
{{- $root := index . 0 }}
{{- $secretName := index . 1 }}
{{- $key := index . 2 }}
{{- $length := index . 3 }}
{{- if not (hasKey $root "taskyardGenerated") }}
{{- $_ := set $root "taskyardGenerated" (dict) }}
{{- end }}
{{- $cache := index $root "taskyardGenerated" }}
{{- $cacheKey := printf "%s/%s" $secretName $key }}
{{- if not (hasKey $cache $cacheKey) }}
{{- $value := "" }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace $secretName }}
{{- if and $existing (hasKey $existing "data") (hasKey (get $existing "data") $key) }}
{{- $value = index $existing.data $key | b64dec }}
{{- else }}
{{- $value = randAlphaNum (int $length) }}
{{- end }}
{{- $_ := set $cache $cacheKey $value }}
{{- end }}
{{- index $cache $cacheKey }}
{{- end }}

{{/*
Annotations of a generated Secret.
*/}}
{{- define "taskyard.generatedSecretAnnotations" -}}
{{- if .Values.secrets.keep }}
annotations:
  helm.sh/resource-policy: keep
{{- end }}
{{- end }}

{{/*
The URLs of the connections Secret, built from the generated passwords.
*/}}
{{- define "taskyard.brokerUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.rabbitmq.fullname" .) "password" 32) }}
{{- $vhost := .Values.rabbitmq.vhost | urlquery }}
{{- printf "amqp://%s:%s@%s:%d/%s" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.rabbitmq.fullname" .) (int .Values.rabbitmq.service.amqpPort) $vhost }}
{{- else }}
{{- required "externalRabbitmq.url is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.url }}
{{- end }}
{{- end }}

{{- define "taskyard.rabbitmqManagementUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.rabbitmq.fullname" .) "password" 32) }}
{{- printf "http://%s:%s@%s:%d" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.rabbitmq.fullname" .) (int .Values.rabbitmq.service.managementPort) }}
{{- else }}
{{- required "externalRabbitmq.managementUrl is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.managementUrl }}
{{- end }}
{{- end }}

{{- define "taskyard.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.redis.fullname" .) "password" 32) }}
{{- printf "redis://:%s@%s:%d/%d" $password (include "taskyard.redis.fullname" .) (int .Values.redis.service.port) (int .Values.redis.database) }}
{{- else }}
{{- required "externalRedis.url is required when redis.enabled is false (or set connections.existingSecret)" .Values.externalRedis.url }}
{{- end }}
{{- end }}

{{- define "taskyard.vhost" -}}
{{- if .Values.rabbitmq.enabled }}{{ .Values.rabbitmq.vhost }}{{ else }}{{ .Values.externalRabbitmq.vhost }}{{ end }}
{{- end }}

{{/*
Checks of value combinations the schema cannot express; included by the ConfigMap,
which every install renders.
*/}}
{{- define "taskyard.validate" -}}
{{- if and (not .Values.connections.existingSecret) (or .Values.rabbitmq.auth.existingSecret .Values.redis.auth.existingSecret) }}
{{- if or .Values.rabbitmq.enabled .Values.redis.enabled }}
{{- fail "connections.existingSecret (keys broker-url, redis-url, rabbitmq-management-url) is required when rabbitmq.auth.existingSecret or redis.auth.existingSecret is set: the chart cannot read a password it does not own when rendering" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.storage.type "s3") (not .Values.storage.s3.bucket) }}
{{- fail "storage.s3.bucket is required when storage.type is s3" }}
{{- end }}
{{- if and (eq .Values.storage.type "s3") (or .Values.storage.s3.accessKeyId .Values.storage.s3.secretAccessKey) (not (and .Values.storage.s3.accessKeyId .Values.storage.s3.secretAccessKey)) }}
{{- fail "storage.s3.accessKeyId and storage.s3.secretAccessKey go together" }}
{{- end }}
{{- range $queue, $_ := .Values.workers.overrides }}
{{- $parts := splitList "." $queue }}
{{- if or (ne (len $parts) 2) (not (hasKey $.Values.workers.types (first $parts))) (not (hasKey $.Values.workers.priorities (last $parts))) }}
{{- fail (printf "workers.overrides: %q is not a queue <type>.<priority> of workers.types and workers.priorities" $queue) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Deep merge that, unlike mergeOverwrite, lets zero values (0, false, "") win.
Call with (list $dst $src); modifies $dst and returns it as JSON.
*/}}
{{- define "taskyard.deepMerge" -}}
{{- $dst := index . 0 }}
{{- $src := index . 1 }}
{{- range $key, $value := $src }}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) }}
{{- $_ := set $dst $key (include "taskyard.deepMerge" (list (get $dst $key) $value) | fromJson) }}
{{- else }}
{{- $_ := set $dst $key $value }}
{{- end }}
{{- end }}
{{- toJson $dst }}
{{- end }}

{{/*
Settings of one worker Deployment: workers.defaults, then the priority's, then the
type's, then workers.overrides["<type>.<priority>"]. Call with
(dict "root" $ "type" "data" "priority" "high"); returns JSON (fromJson it).
*/}}
{{- define "taskyard.worker.settings" -}}
{{- $w := .root.Values.workers }}
{{- $settings := deepCopy $w.defaults }}
{{- $settings = include "taskyard.deepMerge" (list $settings (deepCopy (index $w.priorities .priority | default dict))) | fromJson }}
{{- $settings = include "taskyard.deepMerge" (list $settings (omit (deepCopy (index $w.types .type | default dict)) "enabled")) | fromJson }}
{{- $settings = include "taskyard.deepMerge" (list $settings (deepCopy (index $w.overrides (printf "%s.%s" .type .priority) | default dict))) | fromJson }}
{{- toJson $settings }}
{{- end }}

{{/*
Where a worker's consumer loop touches its heartbeat (TASKYARD_WORKER_HEARTBEAT_PATH), in
the /tmp emptyDir.
*/}}
{{- define "taskyard.worker.heartbeatPath" -}}
/tmp/taskyard-worker/heartbeat
{{- end }}

{{/*
The worker probes' shell test: the heartbeat file exists and is at most N seconds old
(call with N). It reads the path from the container's environment, so the same command
checks a worker started anywhere.
*/}}
{{- define "taskyard.worker.heartbeatCheck" -}}
{{- printf "f=\"$TASKYARD_WORKER_HEARTBEAT_PATH\"; [ -f \"$f\" ] && [ $(( $(date +%%s) - $(stat -c %%Y \"$f\") )) -le %d ]" (int .) }}
{{- end }}

{{/*
Pod-level settings shared by the Taskyard pods.
*/}}
{{- define "taskyard.podCommon" -}}
serviceAccountName: {{ include "taskyard.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Environment of the Taskyard containers: the connection URLs from the connections
Secret. Call with (dict "root" $ "broker" true "redis" true "management" true).
*/}}
{{- define "taskyard.connectionEnv" -}}
{{- $secret := include "taskyard.connectionsSecretName" .root }}
{{- if .broker }}
- name: TASKYARD_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: broker-url
{{- end }}
{{- if .redis }}
- name: TASKYARD_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: redis-url
{{- end }}
{{- if .management }}
- name: TASKYARD_RABBITMQ_MANAGEMENT_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: rabbitmq-management-url
{{- end }}
{{- end }}

{{/*
Storage environment and volume of the API and worker containers.
*/}}
{{- define "taskyard.storageEnv" -}}
{{- if eq .Values.storage.type "s3" }}
{{- if or .Values.storage.s3.existingSecret .Values.storage.s3.accessKeyId }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "taskyard.s3.secretName" . }}
      key: {{ .Values.storage.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "taskyard.s3.secretName" . }}
      key: {{ .Values.storage.s3.secretAccessKeyKey }}
{{- end }}
{{- end }}
{{- end }}

{{- define "taskyard.storageVolumeMount" -}}
{{- if eq .Values.storage.type "pvc" }}
- name: files
  mountPath: {{ .Values.storage.mountPath }}
{{- end }}
{{- end }}

{{- define "taskyard.storageVolume" -}}
{{- if eq .Values.storage.type "pvc" }}
- name: files
  persistentVolumeClaim:
    claimName: {{ include "taskyard.storage.claimName" . }}
{{- end }}
{{- end }}

{{/*
The writable /tmp of every container.
*/}}
{{- define "taskyard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "taskyard.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}
