{{/*
Probes: the worker heartbeat that the liveness and startup probes check.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Where a worker's consumer loop touches its heartbeat (TASKYARD_WORKER_HEARTBEAT_PATH), in
the /tmp emptyDir.
Usage: {{ include "taskyard.worker.heartbeatPath" $ }}
*/}}
{{- define "taskyard.worker.heartbeatPath" -}}
/tmp/taskyard-worker/heartbeat
{{- end }}

{{/*
The worker probes' shell test: the heartbeat file exists and is at most maxAgeSeconds
old. It reads the path from the container's environment, so the same command checks a
worker started anywhere.
Usage: {{ include "taskyard.worker.heartbeatCheck" (dict "maxAgeSeconds" 60) }}
*/}}
{{- define "taskyard.worker.heartbeatCheck" -}}
{{- printf "f=\"$TASKYARD_WORKER_HEARTBEAT_PATH\"; [ -f \"$f\" ] && [ $(( $(date +%%s) - $(stat -c %%Y \"$f\") )) -le %d ]" (int .maxAgeSeconds) }}
{{- end }}
