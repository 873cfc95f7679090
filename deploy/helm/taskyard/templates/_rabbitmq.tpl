{{/*
RabbitMQ: its version-dependent settings and the checks of a cluster.
Calling convention: see _helpers.tpl.
*/}}

{{/*
The rabbitmq.conf key of the quorum queues' WAL size for rabbitmq.image.tag: RabbitMQ up to
4.2 sizes it with raft.wal_max_size_bytes; from 4.3 the quorum queues' Ra system reads
quorum_queue.wal_max_size_bytes (which 4.2 and older reject as unknown) and raft.* no longer
applies to it. A tag without a version (a digest, "latest") is taken as the newest.
Usage: {{ include "taskyard.rabbitmq.walSizeKey" $ }}
*/}}
{{- define "taskyard.rabbitmq.walSizeKey" -}}
{{- $version := regexFind "^[0-9]+\\.[0-9]+" (toString .Values.rabbitmq.image.tag) }}
{{- if and $version (semverCompare "<4.3.0-0" (printf "%s.0" $version)) -}}
raft.wal_max_size_bytes
{{- else -}}
quorum_queue.wal_max_size_bytes
{{- end }}
{{- end }}

{{/*
"true" when the chart's RabbitMQ is a cluster (replicas > 1), else empty.
Usage: {{ include "taskyard.rabbitmq.clustered" $ }}
*/}}
{{- define "taskyard.rabbitmq.clustered" -}}
{{- if gt (int .Values.rabbitmq.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
A cluster needs an odd number of nodes (a majority survives the loss of a minority) and
RabbitMQ 4.1 or later, whose Kubernetes peer discovery joins every pod to the one with
ordinal 0 without calling the Kubernetes API (earlier versions listed Endpoints).
Usage: {{ include "taskyard.rabbitmq.validateCluster" $ }}
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
