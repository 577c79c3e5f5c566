{{/*
The webhook's command line (the image's entrypoint is offload-webhook). The flags are the
webhook's contract; each could also come from a BATCH_OFFLOAD_<FLAG> environment variable, but
flags win and keep `kubectl describe pod` showing the whole configuration in one place.
*/}}
{{- define "batch-offload.webhookArgs" -}}
- --listen=0.0.0.0:8443
- --tls-cert=/etc/batch-offload/tls/tls.crt
- --tls-key=/etc/batch-offload/tls/tls.key
- --offloader-image={{ include "batch-offload.image" (dict "image" .Values.offloader.image "context" .) }}
- --credentials-secret={{ .Values.credentials.secretName }}
{{- with .Values.offload.defaultPool }}
- --default-pool={{ . }}
{{- end }}
{{- with .Values.offload.allowedPools }}
- --allowed-pools={{ join "," . }}
{{- end }}
- --max-completions={{ int .Values.offload.maxCompletions }}
- --secret-env={{ .Values.offload.secretEnv }}
{{- with .Values.offload.defaultStorageContainer }}
- --default-storage-container={{ . }}
{{- end }}
{{- with .Values.offload.defaultVmSize }}
- --default-vm-size={{ . }}
{{- end }}
{{- with .Values.offload.namespaces }}
- --allowed-namespaces={{ join "," . }}
{{- end }}
{{- $apiAccess := include "batch-offload.offloaderApiAccess" . }}
{{- if or $apiAccess .Values.credentials.workloadIdentity.enabled }}
- --offloader-service-account={{ include "batch-offload.offloaderServiceAccountName" . }}
{{- end }}
{{- if .Values.credentials.workloadIdentity.enabled }}
- --workload-identity
{{- end }}
{{- if $apiAccess }}
- --offloader-api-access
{{- end }}
{{- with .Values.offload.offloaderAuth }}
- --offloader-auth={{ . }}
{{- end }}
{{- with .Values.offload.autoPool }}
{{- with .image }}
- --pool-image={{ . }}
{{- end }}
{{- with .nodeAgentSku }}
- --node-agent-sku={{ . }}
{{- end }}
{{- if .taskSlotsPerNode }}
- --task-slots-per-node={{ int .taskSlotsPerNode }}
{{- end }}
{{- with .nodeFillType }}
- --node-fill-type={{ . }}
{{- end }}
{{- with .autoscaleFormula }}
- --autoscale-formula={{ . }}
{{- end }}
{{- if .maxNodes }}
- --max-nodes={{ int .maxNodes }}
{{- end }}
{{- with .spotFallback }}
- --spot-fallback={{ . }}
{{- end }}
{{- if .spotFallbackSeconds }}
- --spot-fallback-seconds={{ int .spotFallbackSeconds }}
{{- end }}
{{- end }}
{{- with .Values.offload.gpu }}
{{- with .pool }}
- --gpu-pool={{ . }}
{{- end }}
{{- with .vmSize }}
- --gpu-vm-size={{ . }}
{{- end }}
{{- with .image }}
- --gpu-pool-image={{ . }}
{{- end }}
{{- with .nodeAgentSku }}
- --gpu-node-agent-sku={{ . }}
{{- end }}
{{- end }}
- --offloader-backoff-limit={{ int .Values.offloader.backoffLimit }}
- --threads={{ int .Values.webhook.server.threads }}
- --max-connections={{ int .Values.webhook.server.maxConnections }}
- --max-body-bytes={{ int .Values.webhook.server.maxBodyBytes }}
- --max-buffered-bytes={{ int .Values.webhook.server.maxBufferedBytes }}
- --shutdown-delay={{ int .Values.webhook.shutdownDelaySeconds }}
- --drain-timeout={{ int .Values.webhook.drainTimeoutSeconds }}
- --log-level={{ .Values.webhook.logLevel }}
{{- end }}
