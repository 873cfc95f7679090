{{/*
Storage and volumes: the files volume (PVC) or S3 credentials, and the /tmp emptyDirs.
Calling convention: see _helpers.tpl.
*/}}

{{/*
The PersistentVolumeClaim of the files (storage.type pvc).
Usage: {{ include "taskyard.storage.claimName" $ }}
*/}}
{{- define "taskyard.storage.claimName" -}}
{{- default (printf "%s-files" (include "taskyard.fullname" .)) .Values.storage.pvc.existingClaim }}
{{- end }}

{{/*
Storage environment of the API and worker containers: the S3 credentials, if any.
Usage: {{ include "taskyard.storageEnv" $ }}
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

{{/*
The files volume's mount of the API and worker containers (storage.type pvc).
Usage: {{ include "taskyard.storageVolumeMount" $ }}
*/}}
{{- define "taskyard.storageVolumeMount" -}}
{{- if eq .Values.storage.type "pvc" }}
- name: files
  mountPath: {{ .Values.storage.mountPath }}
{{- end }}
{{- end }}

{{/*
The files volume of the API and worker pods (storage.type pvc).
Usage: {{ include "taskyard.storageVolume" $ }}
*/}}
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
Usage: {{ include "taskyard.storage.singleNode" $ }}
*/}}
{{- define "taskyard.storage.singleNode" -}}
{{- if and (eq .Values.storage.type "pvc") (not (has "ReadWriteMany" .Values.storage.pvc.accessModes)) -}}
true
{{- end }}
{{- end }}

{{/*
Pod label naming the files claim a pod mounts; the podAffinity of taskyard.affinity
selects it. Empty unless taskyard.storage.singleNode.
Usage: {{ include "taskyard.storage.podLabel" $ }}
*/}}
{{- define "taskyard.storage.podLabel" -}}
{{- if include "taskyard.storage.singleNode" . }}
taskyard.io/files-claim: {{ include "taskyard.storage.claimName" . | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The writable /tmp of every container.
Usage: {{ include "taskyard.tmpVolume" $ }}
*/}}
{{- define "taskyard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/*
The mount of the /tmp volume.
Usage: {{ include "taskyard.tmpVolumeMount" $ }}
*/}}
{{- define "taskyard.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
The API's /tmp: werkzeug spools every multipart upload larger than 500 KB into a temporary
file there before it is streamed to storage, and each of the workers x threads request
slots of a pod may hold one of up to config.maxUploadBytes. Sized so that the largest
uploads, all at once, still fit, on top of tmpSizeLimit: an emptyDir over its sizeLimit
gets the pod evicted. In bytes.
Usage: {{ include "taskyard.api.tmpSizeBytes" $ }}
*/}}
{{- define "taskyard.api.tmpSizeBytes" -}}
{{- $slots := mul (int .Values.api.workers) (int .Values.api.threads) }}
{{- add (include "taskyard.bytes" (dict "quantity" .Values.tmpSizeLimit) | int64) (mul $slots (include "taskyard.bytes" (dict "quantity" .Values.config.maxUploadBytes) | int64)) }}
{{- end }}
