{{/* Names, labels and the values every template derives from the same way. */}}

{{- define "batch-offload.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-batch-offload, cut to 63 characters: the Service name must be a DNS label. */}}
{{- define "batch-offload.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "batch-offload.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batch-offload.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* The recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */}}
{{- define "batch-offload.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "batch-offload.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: batch-offload
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The recommended labels of a part other than the webhook, never matching the webhook's
selector (Service, PDB, NetworkPolicy); (dict "context" $ "component" "offloader"). */}}
{{- define "batch-offload.componentLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "batch-offload.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: batch-offload
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
{{- end }}

{{/* Labels for what the chart puts into the offload namespaces. */}}
{{- define "batch-offload.offloadLabels" -}}
{{ include "batch-offload.componentLabels" (dict "context" . "component" "offloader") }}
{{- end }}

{{/*
The one ServiceAccount offloader pods run as, in every offload namespace: it carries the Role of
offloader.kubernetesAccess and, with workload identity, the federation annotations. With access on
the two values that name it must agree (_validation.tpl); with access off, workload identity names
it as before.
*/}}
{{- define "batch-offload.offloaderServiceAccountName" -}}
{{- if and .Values.credentials.workloadIdentity.enabled (not .Values.offloader.kubernetesAccess) }}
{{- .Values.credentials.workloadIdentity.serviceAccountName }}
{{- else }}
{{- .Values.offloader.serviceAccountName }}
{{- end }}
{{- end }}

{{/*
"true" when offloader pods get Kubernetes API access: offloader.kubernetesAccess, and offload.namespaces
lists where the chart creates their ServiceAccount, Role and RoleBinding. Without the list the chart
cannot create them, and a pod naming a ServiceAccount its namespace lacks is never created: the Job
would not run at all, so access stays off (NOTES.txt says so).
*/}}
{{- define "batch-offload.offloaderApiAccess" -}}
{{- if and .Values.offloader.kubernetesAccess .Values.offload.namespaces }}true{{ end }}
{{- end }}

{{/* Whether the chart creates the offloader ServiceAccount in the offload namespaces: for API access,
unless workload identity is on and the platform brings the account (createServiceAccount false),
and for workload identity with createServiceAccount. */}}
{{- define "batch-offload.createOffloaderServiceAccount" -}}
{{- $identity := .Values.credentials.workloadIdentity }}
{{- if $identity.enabled }}
{{- if $identity.createServiceAccount }}true{{ end }}
{{- else if include "batch-offload.offloaderApiAccess" . }}true{{ end }}
{{- end }}

{{/* repository[:tag][@digest]; call with (dict "image" .Values.x.image "context" $). */}}
{{- define "batch-offload.image" -}}
{{- $tag := default .context.Chart.AppVersion .image.tag }}
{{- .image.repository }}:{{ $tag }}{{ if .image.digest }}@{{ .image.digest }}{{ end }}
{{- end }}

{{- define "batch-offload.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create }}
{{- default (include "batch-offload.fullname" .) .Values.webhook.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.webhook.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the serving certificate (tls.crt, tls.key) that the pods mount. */}}
{{- define "batch-offload.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" }}
{{- required "certificates.provided.secretName is required when certificates.mode is provided: the kubernetes.io/tls Secret (tls.crt, tls.key) in the release namespace" .Values.certificates.provided.secretName }}
{{- else }}
{{- printf "%s-tls" (include "batch-offload.fullname" .) }}
{{- end }}
{{- end }}

{{/* Every name the API server (or a user) may use for the Service: the certificate's SANs. */}}
{{- define "batch-offload.serviceDNSNames" -}}
{{- $service := include "batch-offload.fullname" . }}
{{- $namespace := .Release.Namespace }}
{{- list $service (printf "%s.%s" $service $namespace) (printf "%s.%s.svc" $service $namespace) (printf "%s.%s.svc.cluster.local" $service $namespace) | toJson }}
{{- end }}

{{/* Namespaces never sent to the webhook, as a JSON list. */}}
{{- define "batch-offload.excludedNamespaces" -}}
{{- concat (list "kube-system" "kube-node-lease" .Release.Namespace) .Values.webhook.namespaceSelector.excludeNamespaces | uniq | toJson }}
{{- end }}

{{/* Fails unless offload.namespaces lists where to create objects; (dict "context" $ "why" "...") */}}
{{- define "batch-offload.requireOffloadNamespaces" -}}
{{- if not .context.Values.offload.namespaces }}
{{- fail (printf "%s: list the namespaces in offload.namespaces, the chart creates objects in each of them" .why) }}
{{- end }}
{{- end }}

{{/* <fullname>-gc: the CronJob, its ServiceAccount, ClusterRole and ClusterRoleBinding. 52 characters
at most, a CronJob's limit (its Jobs' names add 11). */}}
{{- define "batch-offload.gcName" -}}
{{- printf "%s-gc" (include "batch-offload.fullname" . | trunc 49 | trimSuffix "-") }}
{{- end }}

{{/*
The Secret in the release namespace that gc reads the Batch account from: gc.credentialsSecret, else
the one the offload namespaces' Secrets come from (copy: credentials.copyFromSecret; values: the one
gc-credentials.yaml makes, <fullname>-gc-credentials), else credentials.secretName (external: the
platform puts it into the release namespace too).
*/}}
{{- define "batch-offload.gcCredentialsSecret" -}}
{{- $credentials := .Values.credentials }}
{{- if .Values.gc.credentialsSecret }}
{{- .Values.gc.credentialsSecret }}
{{- else if eq $credentials.source "copy" }}
{{- required "credentials.copyFromSecret is required when credentials.source is copy: the Secret in the release namespace to copy" $credentials.copyFromSecret }}
{{- else if eq $credentials.source "values" }}
{{- printf "%s-credentials" (include "batch-offload.gcName" .) }}
{{- else }}
{{- $credentials.secretName }}
{{- end }}
{{- end }}

{{/* The keys gc reads from that Secret: the Batch accounts and, unless workload identity injects them
(its webhook leaves a variable the container already names alone), the Entra settings. Never the
storage or registry keys: gc only lists and deletes Batch jobs. */}}
{{- define "batch-offload.gcCredentialKeys" -}}
{{- $keys := list "BATCHCONNECTIONSTRING" "BATCHNAME" "BATCHPASSWORD" "SECONDARY_BATCHCONNECTIONSTRING" "SECONDARY_BATCHNAME" "SECONDARY_BATCHPASSWORD" }}
{{- if not .Values.credentials.workloadIdentity.enabled }}
{{- $keys = concat $keys (list "AZURE_TENANT_ID" "AZURE_CLIENT_ID" "AZURE_CLIENT_SECRET" "AZURE_AUTHORITY_HOST") }}
{{- end }}
{{- toJson $keys }}
{{- end }}
