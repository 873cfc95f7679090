{{/*
Utilities: quantities, deep merges and config checksums, used by the other helpers.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Bytes of a Kubernetes quantity (512Mi, 1Gi, 1G, 1073741824), as an integer; fails on
anything else. Sizes derived from container limits are computed with it.
Usage: {{ include "taskyard.bytes" (dict "quantity" "512Mi") }}
*/}}
{{- define "taskyard.bytes" -}}
{{- $value := .quantity }}
{{- if or (kindIs "float64" $value) (kindIs "int64" $value) (kindIs "int" $value) }}
{{- int64 $value }}
{{- else }}
{{- $quantity := toString $value }}
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
Deep merge that, unlike mergeOverwrite, lets zero values (0, false, "") win. Modifies
"dst" and returns it as JSON (fromJson it).
Usage: {{ include "taskyard.deepMerge" (dict "dst" $settings "src" $layer) | fromJson }}
*/}}
{{- define "taskyard.deepMerge" -}}
{{- $dst := .dst }}
{{- $src := .src }}
{{- range $key, $value := $src }}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) }}
{{- $_ := set $dst $key (include "taskyard.deepMerge" (dict "dst" (get $dst $key) "src" $value) | fromJson) }}
{{- else }}
{{- $_ := set $dst $key $value }}
{{- end }}
{{- end }}
{{- toJson $dst }}
{{- end }}

{{/*
Checksum of a ConfigMap template's data only (its labels carry the chart version, which
must not roll the pods): a pod annotation that restarts the pods when the data changes.
Usage: {{ include "taskyard.configChecksum" (dict "root" $ "template" "/rabbitmq/configmap.yaml") }}
*/}}
{{- define "taskyard.configChecksum" -}}
{{- $root := .root }}
{{- $configMap := include (print $root.Template.BasePath .template) $root | fromYaml }}
{{- $configMap.data | toJson | sha256sum }}
{{- end }}
