// Package tools pins the helm command (go.mod's tool directive) and tests
// the chart in ../hookrelay: scripts/helm-test.sh builds helm from this
// module and runs these tests with HELM set to it.
package tools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
var chartDir = filepath.Join("..", "hookrelay")

// helmBin returns the helm binary the tests run: $HELM, which
// scripts/helm-test.sh sets, else helm on PATH.
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		t.Skip("no helm: run scripts/helm-test.sh, which builds it from this module")
	}
	return h
}

// rendered is what helm template made of the chart, decoded strictly
// into the Kubernetes API types (an unknown field is an error).
type rendered struct {
	deployments     []*appsv1.Deployment
	statefulSets    []*appsv1.StatefulSet
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	secrets         []*corev1.Secret
	pvcs            []*corev1.PersistentVolumeClaim
	serviceAccounts []*corev1.ServiceAccount
	serviceMonitors []map[string]any
}

// render runs helm template on the chart with the --set values given.
func render(t *testing.T, set ...string) (*rendered, error) {
	t.Helper()
	args := []string{"template", "rel", chartDir, "--namespace", "hooks"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(helmBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template %v: %w: %s", set, err, stderr.String())
	}
	return decode(stdout.Bytes())
}

// decode splits a multi-document YAML stream and decodes each document by
// its kind.
func decode(b []byte) (*rendered, error) {
	r := &rendered{}
	for doc := range strings.SplitSeq("\n"+string(b), "\n---") {
		if strings.TrimSpace(strings.ReplaceAll(doc, "# Source:", "")) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("document %q: %w", doc, err)
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			r.deployments, err = appendStrict(r.deployments, doc)
		case "apps/v1 StatefulSet":
			r.statefulSets, err = appendStrict(r.statefulSets, doc)
		case "v1 Service":
			r.services, err = appendStrict(r.services, doc)
		case "policy/v1 PodDisruptionBudget":
			r.pdbs, err = appendStrict(r.pdbs, doc)
		case "v1 Secret":
			r.secrets, err = appendStrict(r.secrets, doc)
		case "v1 PersistentVolumeClaim":
			r.pvcs, err = appendStrict(r.pvcs, doc)
		case "v1 ServiceAccount":
			r.serviceAccounts, err = appendStrict(r.serviceAccounts, doc)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			var m map[string]any
			err = yaml.Unmarshal([]byte(doc), &m)
			r.serviceMonitors = append(r.serviceMonitors, m)
		default:
			err = errors.New("unexpected kind")
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w\n%s", head.APIVersion, head.Kind, err, doc)
		}
	}
	return r, nil
}

func appendStrict[T any](list []*T, doc string) ([]*T, error) {
	v := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		return list, err
	}
	return append(list, v), nil
}

// workload is what the chart's one Deployment or StatefulSet has in common.
type workload struct {
	kind     string
	replicas *int32
	selector *metav1.LabelSelector
	template corev1.PodTemplateSpec
	strategy string // Deployment's strategy or StatefulSet's updateStrategy
	d        *appsv1.Deployment
	s        *appsv1.StatefulSet
}

// workload returns the chart's one workload, failing the test unless there
// is exactly one.
func (r *rendered) workload(t *testing.T) workload {
	t.Helper()
	switch {
	case len(r.deployments) == 1 && len(r.statefulSets) == 0:
		d := r.deployments[0]
		return workload{kind: "Deployment", replicas: d.Spec.Replicas, selector: d.Spec.Selector,
			template: d.Spec.Template, strategy: string(d.Spec.Strategy.Type), d: d}
	case len(r.statefulSets) == 1 && len(r.deployments) == 0:
		s := r.statefulSets[0]
		return workload{kind: "StatefulSet", replicas: s.Spec.Replicas, selector: s.Spec.Selector,
			template: s.Spec.Template, strategy: string(s.Spec.UpdateStrategy.Type), s: s}
	}
	t.Fatalf("%d Deployments and %d StatefulSets, want one workload", len(r.deployments), len(r.statefulSets))
	return workload{}
}

// A keys Secret and a database URL: what several replicas need.
var shared = []string{"keys.existingSecret=hookrelay-keys", "database.existingSecret=hookrelay-db"}

func TestChartRenders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		set      []string
		replicas int32
		postgres bool
	}{
		{name: "defaults", replicas: 1},
		{name: "sqlite with keys", set: []string{"keys.existingSecret=hookrelay-keys"}, replicas: 1},
		{name: "three on postgres", set: append([]string{"replicaCount=3"}, shared...), replicas: 3, postgres: true},
		{name: "url value", set: []string{"replicaCount=2", "keys.existingSecret=k", "database.url=postgres://u:p@db/hookrelay"}, replicas: 2, postgres: true},
		{name: "service monitor", set: append([]string{"metrics.serviceMonitor.enabled=true"}, shared...), replicas: 1, postgres: true},
		{name: "no metrics port", set: []string{"metrics.enabled=false", "persistence.enabled=false"}, replicas: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := render(t, tc.set...)
			if err != nil {
				t.Fatal(err)
			}
			w := r.workload(t)
			if w.replicas == nil || *w.replicas != tc.replicas {
				t.Errorf("replicas %v, want %d", w.replicas, tc.replicas)
			}
			checkPod(t, w)
			checkSelectors(t, r, w)
			env := envOf(w.template.Spec.Containers[0])
			if _, ok := env["HOOKRELAY_DATABASE_URL"]; ok != tc.postgres {
				t.Errorf("HOOKRELAY_DATABASE_URL set: %v, want %v", ok, tc.postgres)
			}
			if !tc.postgres {
				// One process on an SQLite file: replaced, never rolled.
				if w.kind != "Deployment" || w.strategy != string(appsv1.RecreateDeploymentStrategyType) || len(r.services) != 1 {
					t.Errorf("SQLite: %s with strategy %s and %d services, want a Recreate Deployment and 1 Service", w.kind, w.strategy, len(r.services))
				}
			} else {
				// Nodes keep their names, which are their node ids, so a
				// restarted node takes its own leases back at once.
				if w.kind != "StatefulSet" || w.strategy != string(appsv1.RollingUpdateStatefulSetStrategyType) {
					t.Errorf("PostgreSQL: %s with strategy %s, want a RollingUpdate StatefulSet", w.kind, w.strategy)
				}
				if w.s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
					t.Errorf("podManagementPolicy %q, want Parallel", w.s.Spec.PodManagementPolicy)
				}
				id := env["HOOKRELAY_NODE_ID"].ValueFrom
				if id == nil || id.FieldRef == nil || id.FieldRef.FieldPath != "metadata.name" {
					t.Errorf("HOOKRELAY_NODE_ID %+v, want the pod name", env["HOOKRELAY_NODE_ID"])
				}
				var governing *corev1.Service
				for _, svc := range r.services {
					if svc.Name == w.s.Spec.ServiceName {
						governing = svc
					}
				}
				if len(r.services) != 2 || governing == nil || governing.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("%d services, want 2 with a headless one named %q", len(r.services), w.s.Spec.ServiceName)
				}
			}
			if tc.postgres && len(r.pvcs) != 0 {
				t.Errorf("a PersistentVolumeClaim on PostgreSQL")
			}
			if len(r.pdbs) != 1 {
				t.Errorf("%d PodDisruptionBudgets, want 1", len(r.pdbs))
			}
			if slices.Contains(tc.set, "metrics.serviceMonitor.enabled=true") != (len(r.serviceMonitors) == 1) {
				t.Errorf("%d ServiceMonitors", len(r.serviceMonitors))
			}
			for _, m := range r.serviceMonitors {
				if !strings.Contains(fmt.Sprint(m["spec"]), "port:metrics") {
					t.Errorf("ServiceMonitor does not scrape the metrics port: %v", m["spec"])
				}
			}
		})
	}
}

// checkPod asserts what every hookrelay pod must have: probes on /healthz,
// non-root, a read-only root, no capabilities, resource requests, and the
// three keys from a Secret when they are set.
func checkPod(t *testing.T, w workload) {
	t.Helper()
	pod := w.template.Spec
	if len(pod.Containers) == 0 {
		t.Fatal("no containers")
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("container %s: no %s probe", c.Name, name)
				continue
			}
			if p.HTTPGet.Path != "/healthz" || !ports[p.HTTPGet.Port.String()] {
				t.Errorf("container %s: %s probe on %s port %s, want /healthz on a declared port", c.Name, name, p.HTTPGet.Path, p.HTTPGet.Port.String())
			}
		}
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s: no securityContext", c.Name)
			continue
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil && pod.SecurityContext != nil {
			nonRoot = pod.SecurityContext.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
			t.Errorf("pod runs as uid 0 or an unset uid")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: root file system is writable", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: capabilities not dropped", c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("container %s: no cpu and memory requests", c.Name)
		}
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = true
		}
		if !mounts["/data"] || !mounts["/tmp"] {
			t.Errorf("container %s: /data and /tmp must be volumes on a read-only root, mounts %v", c.Name, c.VolumeMounts)
		}
		env := envOf(c)
		for _, k := range []string{"HOOKRELAY_ADMIN_KEY", "HOOKRELAY_SECRET_KEY", "HOOKRELAY_SESSION_KEY", "HOOKRELAY_DATABASE_URL"} {
			if v, ok := env[k]; ok && (v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("container %s: %s is not from a Secret", c.Name, k)
			}
		}
		if a := env["HOOKRELAY_ADDR"]; a.Value != "0.0.0.0:8080" {
			t.Errorf("container %s: HOOKRELAY_ADDR %q, want 0.0.0.0:8080", c.Name, a.Value)
		}
	}
}

// checkSelectors asserts that the Service and the PodDisruptionBudget
// select the workload's pods, and that the Services' target ports exist.
func checkSelectors(t *testing.T, r *rendered, w workload) {
	t.Helper()
	labels := w.template.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(w.selector.MatchLabels) {
		t.Errorf("%s selector %v does not match its pods %v", w.kind, w.selector.MatchLabels, labels)
	}
	ports := map[string]bool{}
	for _, p := range w.template.Spec.Containers[0].Ports {
		ports[p.Name] = true
	}
	for _, s := range r.services {
		if !matches(s.Spec.Selector) {
			t.Errorf("service %s selects %v, not the pods %v", s.Name, s.Spec.Selector, labels)
		}
		for _, p := range s.Spec.Ports {
			if !ports[p.TargetPort.String()] {
				t.Errorf("service %s: target port %s is not a container port", s.Name, p.TargetPort.String())
			}
		}
	}
	for _, p := range r.pdbs {
		if p.Spec.Selector == nil || !matches(p.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget %s does not select the pods", p.Name)
		}
	}
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

// TestChartRefuses: values that cannot work fail the rendering, with a
// message that says what to set.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		set  []string
		want string
	}{
		{"replicas without a database", []string{"replicaCount=2", "keys.existingSecret=k"}, "replicaCount > 1 needs PostgreSQL"},
		{"replicas without shared keys", []string{"replicaCount=2", "database.existingSecret=db"}, "replicaCount > 1 needs keys.existingSecret"},
		{"two database sources", []string{"database.url=postgres://db/h", "database.existingSecret=db"}, "not both"},
		{"not postgres", []string{"database.url=mysql://db/h"}, "postgres:// or postgresql://"},
		{"no replicas", []string{"replicaCount=0"}, "at least 1"},
		{"service monitor without metrics", []string{"metrics.enabled=false", "metrics.serviceMonitor.enabled=true"}, "needs metrics.enabled"},
		// values.schema.json
		{"misspelt keys setting", []string{"keys.existingSecrets=k"}, "additional properties 'existingSecrets' not allowed"},
		{"unknown log format", []string{"config.logFormat=xml"}, "value must be one of"},
		{"replicas not a number", []string{"replicaCount=three"}, "/replicaCount"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.set...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render %v: %v, want an error saying %q", tc.set, err, tc.want)
			}
		})
	}
}

// TestDatabaseURLSecret: a database.url value goes into a Secret of the
// chart's, which the pods read; it never appears in the pod spec.
func TestDatabaseURLSecret(t *testing.T) {
	t.Parallel()
	const url = "postgres://u:p4ss@db/hookrelay"
	r, err := render(t, "database.url="+url)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.secrets) != 1 || r.secrets[0].StringData["database-url"] != url {
		t.Fatalf("secrets %+v, want one holding the URL", r.secrets)
	}
	w := r.workload(t)
	ref := envOf(w.template.Spec.Containers[0])["HOOKRELAY_DATABASE_URL"].ValueFrom.SecretKeyRef
	if ref.Name != r.secrets[0].Name || ref.Key != "database-url" {
		t.Errorf("HOOKRELAY_DATABASE_URL from %s/%s, want %s/database-url", ref.Name, ref.Key, r.secrets[0].Name)
	}
	b, err := yaml.Marshal(w.template)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "p4ss") {
		t.Error("the database password is in the pod spec")
	}
}
