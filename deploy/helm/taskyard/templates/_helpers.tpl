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
Labels of the pod templates of RabbitMQ and Redis: the common labels without the chart
and app versions, so a chart bump alone does not restart them. Call with
(dict "root" $ "component" "rabbitmq").
*/}}
{{- define "taskyard.stablePodLabels" -}}
{{ include "taskyard.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: taskyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Checksum of a ConfigMap template's data only (its labels carry the chart version, which
must not roll the pods). Call with (list $ "/rabbitmq/configmap.yaml").
*/}}
{{- define "taskyard.configChecksum" -}}
{{- $root := index . 0 }}
{{- $configMap := include (print $root.Template.BasePath (index . 1)) $root | fromYaml }}
{{- $configMap.data | toJson | sha256sum }}
{{- end }}

{{/*
Bytes of a Kubernetes quantity (512Mi, 1Gi, 1G, 1073741824), as an integer; fails on
anything else. Sizes derived from container limits are computed with it.
*/}}
{{- define "taskyard.bytes" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- int64 . }}
{{- else }}
{{- $quantity := toString . }}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $quantity }}
{{- $unit := trimPrefix $number $quantity }}
{{- if or (not $number) (not (hasKey $units $unit)) }}
{{- fail (printf "%q is not a memory quantity (e.g. 512Mi, 1Gi)" $quantity) }}
{{- end }}
{{- mulf (float64 $number) (index $units $unit) | int64 }}
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

{{/*
The rabbitmq.conf key of the quorum queues' WAL size for rabbitmq.image.tag: RabbitMQ up to
4.2 sizes it with raft.wal_max_size_bytes; from 4.3 the quorum queues' Ra system reads
quorum_queue.wal_max_size_bytes (which 4.2 and older reject as unknown) and raft.* no longer
applies to it. A tag without a version (a digest, "latest") is taken as the newest.
*/}}
{{- define "taskyard.rabbitmq.walSizeKey" -}}
{{- $version := regexFind "^[0-9]+\\.[0-9]+" (toString .Values.rabbitmq.image.tag) }}
{{- if and $version (semverCompare "<4.3.0-0" (printf "%s.0" $version)) -}}
raft.wal_max_size_bytes
{{- else -}}
quorum_queue.wal_max_size_bytes
{{- end }}
{{- end }}

{{- define "taskyard.rabbitmq.secretName" -}}
{{- default (include "taskyard.rabbitmq.fullname" .) .Values.rabbitmq.auth.existingSecret }}
{{- end }}

{{/*
"true" when the chart's RabbitMQ is a cluster (replicas > 1), else empty.
*/}}
{{- define "taskyard.rabbitmq.clustered" -}}
{{- if gt (int .Values.rabbitmq.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
A cluster needs an odd number of nodes (a majority survives the loss of a minority) and
RabbitMQ 4.1 or later, whose Kubernetes peer discovery joins every pod to the one with
ordinal 0 without calling the Kubernetes API (earlier versions listed Endpoints).
*/}}
{{- define "taskyard.rabbitmq.validateCluster" -}}
{{- $replicas := int .Values.rabbitmq.replicas }}
{{- if and (gt $replicas 1) (eq (mod $replicas 2) 0) }}
{{- fail (printf "rabbitmq.replicas must be 1 or odd (3, 5, ...): with %d nodes, losing half of them stops every quorum queue" $replicas) }}
{{- end }}
{{- if and (gt $replicas 1) (regexMatch "^(3\\.|4\\.0([.-]|$))" (toString .Values.rabbitmq.image.tag)) }}
{{- fail (printf "rabbitmq.replicas > 1 needs RabbitMQ 4.1 or later (rabbitmq.image.tag is %v): the chart forms the cluster with the Kubernetes peer discovery of 4.1+, which needs no Kubernetes API access" .Values.rabbitmq.image.tag) }}
{{- end }}
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

{{/*
The Secret key holding one key alone, for a client (NOTES, the ServiceMonitor): the first
generated name's; with existingSecret, the keys file itself (one bare key expected there).
*/}}
{{- define "taskyard.apiKeys.clientSecretKey" -}}
{{- if .Values.api.apiKeys.existingSecret }}{{ .Values.api.apiKeys.existingSecretKey }}{{ else }}key-{{ first .Values.api.apiKeys.generatedNames }}{{ end }}
{{- end }}

{{/*
TASKYARD_ADMIN_API_KEYS. Admin names the chart's own keys do not have would stop the API
at start-up: refused here instead.
*/}}
{{- define "taskyard.apiKeys.adminNames" -}}
{{- $keys := .Values.api.apiKeys }}
{{- if not $keys.existingSecret }}
{{- range $keys.adminNames }}
{{- if not (has . $keys.generatedNames) }}
{{- fail (printf "api.apiKeys.adminNames: %q is not in api.apiKeys.generatedNames" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- join "," $keys.adminNames }}
{{- end }}

{{- define "taskyard.flower.fullname" -}}
{{- printf "%s-flower" (include "taskyard.fullname" .) }}
{{- end }}

{{- define "taskyard.console.secretName" -}}
{{- default (printf "%s-console" (include "taskyard.fullname" .)) .Values.api.console.existingSecret }}
{{- end }}

{{- define "taskyard.console.secretKey" -}}
{{- if .Values.api.console.existingSecret }}{{ .Values.api.console.existingSecretKey }}{{ else }}session-secret{{ end }}
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
DNS name of a Service of this release, fully qualified to the cluster: <service>.<namespace>.svc.
Every address the chart writes uses it, because some readers resolve it from another
namespace (KEDA's operator reads the management URL from the `keda` namespace, where a
short name does not resolve). Leaves the cluster domain to the resolver's search path.
Call with (list $ "<service name>"), e.g. (list $ (include "taskyard.rabbitmq.fullname" $)).
*/}}
{{- define "taskyard.serviceHost" -}}
{{- $root := index . 0 }}
{{- printf "%s.%s.svc" (index . 1) $root.Release.Namespace }}
{{- end }}

{{/*
The URLs of the connections Secret, built from the generated passwords.
*/}}
{{- define "taskyard.brokerUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.rabbitmq.fullname" .) "password" 32) }}
{{- $vhost := .Values.rabbitmq.vhost | urlquery }}
{{- printf "amqp://%s:%s@%s:%d/%s" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.serviceHost" (list . (include "taskyard.rabbitmq.fullname" .))) (int .Values.rabbitmq.service.amqpPort) $vhost }}
{{- else }}
{{- required "externalRabbitmq.url is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.url }}
{{- end }}
{{- end }}

{{- define "taskyard.rabbitmqManagementUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.rabbitmq.fullname" .) "password" 32) }}
{{- printf "http://%s:%s@%s:%d" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.serviceHost" (list . (include "taskyard.rabbitmq.fullname" .))) (int .Values.rabbitmq.service.managementPort) }}
{{- else }}
{{- required "externalRabbitmq.managementUrl is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.managementUrl }}
{{- end }}
{{- end }}

{{- define "taskyard.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- $password := include "taskyard.generatedValue" (list . (include "taskyard.redis.fullname" .) "password" 32) }}
{{- printf "redis://:%s@%s:%d/%d" $password (include "taskyard.serviceHost" (list . (include "taskyard.redis.fullname" .))) (int .Values.redis.service.port) (int .Values.redis.database) }}
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
{{- $pvc := .Values.storage.pvc }}
{{- if and (eq .Values.storage.type "pvc") (has "ReadWriteMany" $pvc.accessModes) (not $pvc.storageClassName) (not $pvc.existingClaim) }}
{{- fail "storage.pvc.accessModes ReadWriteMany needs storage.pvc.storageClassName: the default StorageClass of kind (local-path) and of the big clouds binds only ReadWriteOnce, so the claim would stay Pending and no API or worker pod would start. Name a class that offers ReadWriteMany (NFS, EFS, Azure Files, CephFS), keep ReadWriteOnce (every pod on one node), or use storage.type s3" }}
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
"true" when the files volume attaches to one node at a time (a ReadWriteOnce claim), so
every pod that mounts it must run on the same node.
*/}}
{{- define "taskyard.storage.singleNode" -}}
{{- if and (eq .Values.storage.type "pvc") (not (has "ReadWriteMany" .Values.storage.pvc.accessModes)) -}}
true
{{- end }}
{{- end }}

{{/*
Pod label naming the files claim a pod mounts; the podAffinity of taskyard.affinity
selects it. Empty unless taskyard.storage.singleNode.
*/}}
{{- define "taskyard.storage.podLabel" -}}
{{- if include "taskyard.storage.singleNode" . }}
taskyard.io/files-claim: {{ include "taskyard.storage.claimName" . | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The affinity of a pod that mounts the files volume: the user's affinity, plus, for a
ReadWriteOnce claim, a required podAffinity to the other pods of the claim on the same
node. A ReadWriteOnce volume attaches to one node; a pod scheduled elsewhere would hang in
ContainerCreating (Multi-Attach error). The first pod matches its own term, which the
scheduler accepts while no other pod carries the label, so it may land on any node.
Call with (list $ <the user's affinity>); renders `affinity:` or nothing.
*/}}
{{- define "taskyard.affinity" -}}
{{- $root := index . 0 }}
{{- $affinity := deepCopy (index . 1 | default dict) }}
{{- if include "taskyard.storage.singleNode" $root }}
{{- $podAffinity := get $affinity "podAffinity" | default dict }}
{{- $required := get $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- $claim := include "taskyard.storage.podLabel" $root | fromYaml }}
{{- $term := dict "labelSelector" (dict "matchLabels" $claim) "topologyKey" "kubernetes.io/hostname" }}
{{- $_ := set $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) }}
{{- $_ := set $affinity "podAffinity" $podAffinity }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
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

{{/*
The API's /tmp: werkzeug spools every multipart upload larger than 500 KB into a temporary
file there before it is streamed to storage, and each of the workers x threads request
slots of a pod may hold one of up to config.maxUploadBytes. Sized so that the largest
uploads, all at once, still fit, on top of tmpSizeLimit: an emptyDir over its sizeLimit
gets the pod evicted. In bytes.
*/}}
{{- define "taskyard.api.tmpSizeBytes" -}}
{{- $slots := mul (int .Values.api.workers) (int .Values.api.threads) }}
{{- add (include "taskyard.bytes" .Values.tmpSizeLimit | int64) (mul $slots (include "taskyard.bytes" .Values.config.maxUploadBytes | int64)) }}
{{- end }}

{{- define "taskyard.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}
