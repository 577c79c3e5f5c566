{{/*
Rules between values that values.schema.json cannot express; rendering fails with the reason.
Included once, from deployment.yaml (always rendered).
*/}}
{{- define "batch-offload.validateValues" -}}
{{- $webhook := .Values.webhook }}
{{- $stopping := add (int $webhook.shutdownDelaySeconds) (int $webhook.drainTimeoutSeconds) }}
{{- if ge (int $stopping) (int $webhook.terminationGracePeriodSeconds) }}
{{- fail (printf "webhook.shutdownDelaySeconds (%d) + webhook.drainTimeoutSeconds (%d) = %d must be less than webhook.terminationGracePeriodSeconds (%d): the kubelet kills the pod when the grace period ends, cutting off reviews still being served or drained" (int $webhook.shutdownDelaySeconds) (int $webhook.drainTimeoutSeconds) (int $stopping) (int $webhook.terminationGracePeriodSeconds)) }}
{{- end }}
{{- $server := $webhook.server }}
{{- if lt (int64 $server.maxBufferedBytes) (add (int64 $server.maxBodyBytes) 16384) }}
{{- fail (printf "webhook.server.maxBufferedBytes (%d) must hold at least one review of webhook.server.maxBodyBytes (%d) and its head (16384 bytes): the webhook refuses to start otherwise" (int64 $server.maxBufferedBytes) (int64 $server.maxBodyBytes)) }}
{{- end }}
{{- if has .Release.Namespace .Values.offload.namespaces }}
{{- fail (printf "offload.namespaces must not contain the release namespace %q: the webhook never admits Jobs of its own namespace" .Release.Namespace) }}
{{- end }}
{{- if and (eq $webhook.selectorMode "matchConditions") (semverCompare "<1.28-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "webhook.selectorMode matchConditions needs Kubernetes 1.28 or later (this is %s): use webhook.selectorMode=objectSelector" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if eq .Values.certificates.mode "provided" }}
{{- $_ := include "batch-offload.tlsSecretName" . }}{{/* fails when secretName is missing */}}
{{- if not .Values.certificates.provided.caBundle }}
{{- fail "certificates.provided.caBundle is required when certificates.mode is provided: the base64 PEM of the CA that signed the serving certificate (e.g. the line make-certs.sh prints)" }}
{{- end }}
{{- end }}
{{- $identity := .Values.credentials.workloadIdentity }}
{{- if and $identity.createServiceAccount (not $identity.enabled) }}
{{- fail "credentials.workloadIdentity.createServiceAccount needs credentials.workloadIdentity.enabled=true" }}
{{- end }}
{{- if and $identity.createServiceAccount (not $identity.clientId) }}
{{- fail "credentials.workloadIdentity.clientId is required to create the offloader ServiceAccount (its azure.workload.identity/client-id annotation)" }}
{{- end }}
{{- if and .Values.gc.enabled $identity.enabled (not $identity.clientId) }}
{{- fail "credentials.workloadIdentity.clientId is required for gc's ServiceAccount (its azure.workload.identity/client-id annotation): gc signs in to Batch with the same identity as offloader pods (or set gc.enabled=false)" }}
{{- end }}
{{- $offloader := .Values.offloader }}
{{- if and $identity.enabled $offloader.kubernetesAccess (ne $identity.serviceAccountName $offloader.serviceAccountName) }}
{{- fail (printf "credentials.workloadIdentity.serviceAccountName (%s) and offloader.serviceAccountName (%s) must be the same: offloader pods run as one ServiceAccount, which carries both the workload identity and the offloader's Role (or set offloader.kubernetesAccess=false)" $identity.serviceAccountName $offloader.serviceAccountName) }}
{{- end }}
{{- end }}
