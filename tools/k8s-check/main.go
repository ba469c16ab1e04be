// k8s-check validates the Kubernetes manifests offline: every document is decoded into
// its Kubernetes API type with unknown fields refused, then the objects are checked
// against each other and against what the bridge needs (probes on its health
// endpoints, a grace period that covers its drain, a headless Service, a PDB and an
// autoscaler on its own Deployment). No cluster is contacted.
// Usage: k8s-check FILE... ; exit 1 listing every problem.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

type objects struct {
	configMaps  []corev1.ConfigMap
	deployments []appsv1.Deployment
	services    []corev1.Service
	pdbs        []policyv1.PodDisruptionBudget
	hpas        []autoscalingv2.HorizontalPodAutoscaler
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-check FILE...")
		os.Exit(2)
	}
	var problems []string
	var all objects
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			if err := decode(doc, &all); err != nil {
				problems = append(problems, fmt.Sprintf("%s, document %d: %v", path, i+1, err))
			}
		}
	}
	problems = append(problems, check(all)...)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "k8s-check:", p)
		}
		os.Exit(1)
	}
	fmt.Printf("k8s-check: ok (%d ConfigMap, %d Deployment, %d Service, %d PodDisruptionBudget, %d HorizontalPodAutoscaler)\n",
		len(all.configMaps), len(all.deployments), len(all.services), len(all.pdbs), len(all.hpas))
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// decode reads one document into the type its apiVersion and kind name, refusing
// unknown fields (a typo is an error, not a silently ignored setting).
func decode(doc []byte, all *objects) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	switch head.APIVersion + " " + head.Kind {
	case "v1 ConfigMap":
		return appendStrict(doc, &all.configMaps)
	case "apps/v1 Deployment":
		return appendStrict(doc, &all.deployments)
	case "v1 Service":
		return appendStrict(doc, &all.services)
	case "policy/v1 PodDisruptionBudget":
		return appendStrict(doc, &all.pdbs)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return appendStrict(doc, &all.hpas)
	default:
		return fmt.Errorf("unexpected object %q %q", head.APIVersion, head.Kind)
	}
}

// appendStrict decodes doc into a new T, refusing unknown fields, and appends it to list.
func appendStrict[T any](doc []byte, list *[]T) error {
	var o T
	if err := yaml.UnmarshalStrict(doc, &o); err != nil {
		return err
	}
	*list = append(*list, o)
	return nil
}

func check(all objects) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(all.deployments) != 1 {
		fail("want exactly one Deployment, found %d", len(all.deployments))
		return problems
	}
	deployment := all.deployments[0]
	podLabels := labels.Set(deployment.Spec.Template.Labels)
	selector := labels.SelectorFromSet(deployment.Spec.Selector.MatchLabels)
	if !selector.Matches(podLabels) {
		fail("Deployment %s: its selector does not match its pod labels", deployment.Name)
	}
	containers := deployment.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		fail("Deployment %s: want one container", deployment.Name)
		return problems
	}
	bridge := containers[0]
	env := map[string]string{}
	for _, from := range bridge.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		found := false
		for _, cm := range all.configMaps {
			if cm.Name == from.ConfigMapRef.Name {
				found = true
				for k, v := range cm.Data {
					env[k] = v
				}
			}
		}
		if !found {
			fail("Deployment %s: ConfigMap %s is not defined", deployment.Name, from.ConfigMapRef.Name)
		}
	}
	port := env["BRIDGE_PORT"]
	if port == "" {
		port = "9090"
	}
	containerPort := ""
	for _, p := range bridge.Ports {
		if p.Name == "rpc" {
			containerPort = strconv.Itoa(int(p.ContainerPort))
		}
	}
	if containerPort != port {
		fail("container port rpc is %q but BRIDGE_PORT is %q", containerPort, port)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			fail("%s: missing (want an HTTP GET of %s)", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			fail("%s: path %s, want %s", name, p.HTTPGet.Path, path)
		}
		if p.HTTPGet.Port.String() != "rpc" && p.HTTPGet.Port.String() != port {
			fail("%s: port %s, want rpc or %s", name, p.HTTPGet.Port.String(), port)
		}
	}
	probe("readinessProbe", bridge.ReadinessProbe, "/readyz")
	probe("livenessProbe", bridge.LivenessProbe, "/healthz")
	drainMs := msSetting(env, "PLAYBACK_DRAIN_MS", 10_000) + msSetting(env, "SHUTDOWN_TIMEOUT_MS", 10_000)
	grace := deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || *grace*1000 < int64(drainMs)+5_000 {
		fail("terminationGracePeriodSeconds must cover PLAYBACK_DRAIN_MS + SHUTDOWN_TIMEOUT_MS (%d ms) and 5 s more", drainMs)
	}
	if bridge.Resources.Requests.Cpu().IsZero() || bridge.Resources.Requests.Memory().IsZero() {
		fail("container %s: CPU and memory requests are required (size them from the benchmark)", bridge.Name)
	}
	headless := false
	for _, svc := range all.services {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone && labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			headless = true
		}
	}
	if !headless {
		fail("want a headless Service (clusterIP: None) selecting the bridge pods")
	}
	pdbOK := false
	for _, pdb := range all.pdbs {
		if pdb.Spec.Selector != nil && labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(podLabels) {
			pdbOK = true
		}
	}
	if !pdbOK {
		fail("want a PodDisruptionBudget selecting the bridge pods")
	}
	hpaOK := false
	for _, hpa := range all.hpas {
		ref := hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != deployment.Name {
			continue
		}
		for _, metric := range hpa.Spec.Metrics {
			if metric.Pods != nil && metric.Pods.Metric.Name == "bridge_sessions" {
				hpaOK = true
			}
		}
	}
	if !hpaOK {
		fail("want a HorizontalPodAutoscaler on the Deployment using the bridge_sessions metric")
	}
	return problems
}

func msSetting(env map[string]string, name string, fallback int) int {
	value, err := strconv.Atoi(strings.TrimSpace(env[name]))
	if err != nil {
		return fallback
	}
	return value
}
