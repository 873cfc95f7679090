{{/*
Images: Taskyard's own, and the third-party ones (RabbitMQ, Valkey) from their values.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Reference of a Taskyard image: image.registry/image.repository/<name>:<image.tag or
the chart's appVersion>.
Usage: {{ include "taskyard.image" (dict "root" $ "name" "api") }}
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
Reference of a third-party image from its {registry, repository, tag} values.
Usage: {{ include "taskyard.thirdPartyImage" (dict "image" .Values.rabbitmq.image) }}
*/}}
{{- define "taskyard.thirdPartyImage" -}}
{{- $image := .image }}
{{- if $image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $image.registry) $image.repository (toString $image.tag) }}
{{- else }}
{{- printf "%s:%s" $image.repository (toString $image.tag) }}
{{- end }}
{{- end }}
