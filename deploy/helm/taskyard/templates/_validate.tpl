{{/*
Validation: value combinations the schema cannot express.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Fails the render on a value combination values.schema.json cannot express; included by
the ConfigMap, which every install renders.
Usage: {{ include "taskyard.validate" $ }}
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
