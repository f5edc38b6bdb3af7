{{/* The chart's name, cut to the 63 characters of a DNS label. */}}
{{- define "hookrelay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects. */}}
{{- define "hookrelay.fullname" -}}
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

{{- define "hookrelay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookrelay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hookrelay.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hookrelay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hookrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookrelay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether the release runs on PostgreSQL. */}}
{{- define "hookrelay.postgres" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/* The Secret and key holding HOOKRELAY_DATABASE_URL. */}}
{{- define "hookrelay.databaseSecret" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecret }}{{ else }}{{ include "hookrelay.fullname" . }}-database{{ end }}
{{- end }}
{{- define "hookrelay.databaseKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.urlKey }}{{ else }}database-url{{ end }}
{{- end }}

{{/*
hookrelay.validate fails the rendering on values that cannot work: several
replicas on SQLite (one node's file), several replicas without shared keys
(each node would make its own), or a database URL that is not PostgreSQL's.
*/}}
{{- define "hookrelay.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if lt $replicas 1 }}
{{- fail "replicaCount must be at least 1" }}
{{- end }}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "set database.url or database.existingSecret, not both" }}
{{- end }}
{{- if and .Values.database.url (not (regexMatch "^postgres(ql)?://" .Values.database.url)) }}
{{- fail "database.url must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- if gt $replicas 1 }}
{{- if not (include "hookrelay.postgres" .) }}
{{- fail "replicaCount > 1 needs PostgreSQL: set database.url or database.existingSecret (HOOKRELAY_DATABASE_URL); SQLite serves one node" }}
{{- end }}
{{- if not .Values.keys.existingSecret }}
{{- fail "replicaCount > 1 needs keys.existingSecret: every node must have the same admin, secret and session keys" }}
{{- end }}
{{- end }}
{{- end }}
