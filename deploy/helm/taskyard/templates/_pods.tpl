{{/*
Pods: settings every Taskyard pod shares, the connection environment, and scheduling.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Pod-level settings shared by the Taskyard pods.
Usage: {{ include "taskyard.podCommon" $ }}
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
Secret, each only when asked for.
Usage: {{ include "taskyard.connectionEnv" (dict "root" $ "broker" true "redis" true "management" true) }}
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
The affinity of a pod that mounts the files volume: the user's affinity, plus, for a
ReadWriteOnce claim, a required podAffinity to the other pods of the claim on the same
node. A ReadWriteOnce volume attaches to one node; a pod scheduled elsewhere would hang in
ContainerCreating (Multi-Attach error). The first pod matches its own term, which the
scheduler accepts while no other pod carries the label, so it may land on any node.
Renders `affinity:` or nothing.
Usage: {{ include "taskyard.affinity" (dict "root" $ "affinity" .Values.api.affinity) }}
*/}}
{{- define "taskyard.affinity" -}}
{{- $root := .root }}
{{- $affinity := deepCopy (.affinity | default dict) }}
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
