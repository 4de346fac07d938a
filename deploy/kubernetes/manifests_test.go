// Package kubernetes_test checks the DaemonSet and its companions by decoding
// them strictly into the Kubernetes API types: a misspelt or misplaced field
// fails here instead of being dropped by the API server. It is a module of
// its own so that k8s.io/api stays out of the recorder's dependencies.
package kubernetes_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// strictDecode decodes as the API server does: YAML to JSON (duplicate keys
// fail), then case-sensitive JSON with unknown fields failing. (encoding/json,
// which yaml.UnmarshalStrict uses, matches field names case-insensitively and
// would take "hostPid" for "hostPID".)
func strictDecode(b []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, into)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

func decode(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictDecode(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestStrictDecodingRejectsUnknownFields shows the check can fail.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	b, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"      hostPid: true\n", "      hostPIDs: true\n", "      hostPID: true\n      hostPID: true\n"} {
		mangled := bytes.Replace(b, []byte("      hostPID: true\n"), []byte(bad), 1)
		if bytes.Equal(mangled, b) {
			t.Fatal("daemonset.yaml has no hostPID line to mangle")
		}
		var ds appsv1.DaemonSet
		if err := strictDecode(mangled, &ds); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestManifests(t *testing.T) {
	var ns corev1.Namespace
	decode(t, "namespace.yaml", &ns)
	var sa corev1.ServiceAccount
	decode(t, "serviceaccount.yaml", &sa)
	var cm corev1.ConfigMap
	decode(t, "configmap.yaml", &cm)
	var ds appsv1.DaemonSet
	decode(t, "daemonset.yaml", &ds)

	for _, tm := range []struct{ file, kind, apiVersion string }{
		{"namespace.yaml", ns.Kind, ns.APIVersion}, {"serviceaccount.yaml", sa.Kind, sa.APIVersion},
		{"configmap.yaml", cm.Kind, cm.APIVersion}, {"daemonset.yaml", ds.Kind, ds.APIVersion},
	} {
		want := map[string]string{"namespace.yaml": "v1/Namespace", "serviceaccount.yaml": "v1/ServiceAccount",
			"configmap.yaml": "v1/ConfigMap", "daemonset.yaml": "apps/v1/DaemonSet"}[tm.file]
		if got := tm.apiVersion + "/" + tm.kind; got != want {
			t.Errorf("%s: %s, want %s", tm.file, got, want)
		}
	}
	for _, m := range []struct{ what, ns string }{{"service account", sa.Namespace}, {"config map", cm.Namespace}, {"daemon set", ds.Namespace}} {
		if m.ns != ns.Name {
			t.Errorf("%s in namespace %q, want %q", m.what, m.ns, ns.Name)
		}
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Error("namespace does not admit privileged pods")
	}

	spec := ds.Spec.Template.Spec
	if ds.Spec.Selector == nil || !subset(ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the template's labels %v", ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels)
	}
	if spec.ServiceAccountName != sa.Name {
		t.Errorf("pod runs as %q, want the service account %q", spec.ServiceAccountName, sa.Name)
	}
	if !spec.HostPID {
		t.Error("no hostPID: callers' /proc entries would be invisible")
	}
	if !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
	}) {
		t.Error("no toleration of every taint: tainted nodes would go unrecorded")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("container not privileged: BPF tracing programs cannot be loaded")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	for _, p := range []string{"/sys/kernel/btf", "/sys/fs/bpf", "/var/lib/kexecrec", "/etc/machine-id"} {
		found := false
		for name, mp := range mounts {
			if mp == p && hostPaths[name] == p {
				found = true
			}
		}
		if !found {
			t.Errorf("host %s is not mounted at %s", p, p)
		}
	}
	// Every $(VAR) in the arguments comes from the config map.
	args := strings.Join(c.Args, " ")
	for _, key := range []string{"KEXECREC_ROTATE_SIZE", "KEXECREC_ROTATE_EVERY", "KEXECREC_MAX_FILES", "KEXECREC_MAX_TOTAL", "KEXECREC_UPLOAD"} {
		if !strings.Contains(args, "$("+key+")") {
			t.Errorf("args do not use %s", key)
		}
		if _, ok := cm.Data[key]; !ok {
			t.Errorf("args use %s, which the config map does not set", key)
		}
	}
	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name
	}) {
		t.Error("container does not take its environment from the config map")
	}
	if c.Args[0] != "record" || !slices.Contains(c.Args, "--max-files") || !slices.Contains(c.Args, "--max-total") {
		t.Errorf("args %q: want a bounded rotating record", c.Args)
	}
	// The manifests are all of deploy/kubernetes: a new one must be added here.
	files, _ := filepath.Glob("*.yaml")
	if len(files) != 4 {
		t.Errorf("manifests %v: this test checks 4", files)
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
