#!/usr/bin/env python3
"""Static checks on the files under deploy/, run by .ci/run (needs PyYAML).

    python3 deploy/check.py [--extract DIR]

1. Every YAML file parses (all its documents) and the Grafana dashboard is valid JSON.
2. Every gatehouse_* metric named by the alerts, their tests and the dashboard exists in
   src/metrics.rs (histograms also as _bucket, _sum, _count), so a renamed metric fails CI.
3. Alerts have `for`, a severity label, a summary and a description; dashboard targets use the
   ${DS_PROMETHEUS} input.
4. The Kubernetes manifests agree with each other: selectors match the pod labels, the
   ConfigMaps, Secret keys and ports they name exist, the probes hit /healthz and /readyz on
   the metrics port, the drain fits in terminationGracePeriodSeconds, the hardening is there.

With --extract DIR, writes the ConfigMap's gatehouse.toml to DIR/gatehouse.toml and its
environment to DIR/gatehouse.env (NAME=value lines), for `gatehouse check`.
Exits 1 listing every problem found.
"""

import json
import pathlib
import re
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11: the grace period check is skipped
    tomllib = None

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def rel(path):
    return str(path.relative_to(ROOT))


# --- 1. parsing -------------------------------------------------------------------------------
documents = {}
for path in sorted(list(DEPLOY.rglob("*.yaml")) + list(DEPLOY.rglob("*.yml"))):
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        problem(rel(path), f"invalid YAML: {e}")
        continue
    if not docs:
        problem(rel(path), "no YAML document")
    documents[path] = docs

dashboard_path = DEPLOY / "grafana" / "gatehouse-dashboard.json"
try:
    dashboard = json.loads(dashboard_path.read_text())
except (OSError, json.JSONDecodeError) as e:
    problem(rel(dashboard_path), f"invalid JSON: {e}")
    dashboard = None

# --- 2. metric names --------------------------------------------------------------------------
metrics_rs = (ROOT / "src" / "metrics.rs").read_text()
exported = set(re.findall(r'"(gatehouse_[a-z0-9_]+)"', metrics_rs))
if not exported:
    problem("src/metrics.rs", "no gatehouse_* metric names found")


def known(name):
    if name in exported:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in exported:
            return True
    return False


def check_metric_names(where, expr):
    for name in set(re.findall(r"\bgatehouse_[a-z0-9_]+", expr)):
        if not known(name):
            problem(where, f"{name} is not exported by src/metrics.rs")


# --- 3. alerts and dashboard ------------------------------------------------------------------
alerts_path = DEPLOY / "prometheus" / "alerts.yml"
alert_names = set()
for doc in documents.get(alerts_path, []):
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            where = f"{rel(alerts_path)} {name}"
            check_metric_names(where, rule.get("expr", ""))
            if "alert" not in rule:
                continue
            alert_names.add(name)
            if not rule.get("for"):
                problem(where, "no `for`")
            if not rule.get("labels", {}).get("severity"):
                problem(where, "no severity label")
            annotations = rule.get("annotations", {})
            for key in ("summary", "description"):
                if not annotations.get(key):
                    problem(where, f"no {key} annotation")
if not alert_names:
    problem(rel(alerts_path), "no alerts")

tests_path = DEPLOY / "prometheus" / "alerts.test.yml"
tested = set()
for doc in documents.get(tests_path, []):
    for test in doc.get("tests", []):
        for series in test.get("input_series", []):
            check_metric_names(f"{rel(tests_path)} {test.get('name')}", series.get("series", ""))
        for case in test.get("alert_rule_test", []):
            tested.add(case.get("alertname"))
for name in sorted(alert_names - tested):
    problem(rel(tests_path), f"alert {name} has no test")

expressions = []
if dashboard is not None:
    where = rel(dashboard_path)
    inputs = [i.get("name") for i in dashboard.get("__inputs", [])]
    if "DS_PROMETHEUS" not in inputs:
        problem(where, "no DS_PROMETHEUS entry in __inputs")
    ids = []
    for panel in dashboard.get("panels", []):
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        title = panel.get("title")
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problem(where, f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
        if not panel.get("targets"):
            problem(where, f"panel {title!r}: no targets")
        for t in panel.get("targets", []):
            if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                problem(where, f"panel {title!r}: target datasource is not ${{DS_PROMETHEUS}}")
            expr = t.get("expr", "")
            if not expr:
                problem(where, f"panel {title!r}: target without expr")
            check_metric_names(f"{where} panel {title!r}", expr)
            expressions.append(expr)
    if len(ids) != len(set(ids)):
        problem(where, "panel ids are not unique")

# --- 4. Kubernetes ----------------------------------------------------------------------------
k8s = {}
for path, docs in documents.items():
    if path.parent != DEPLOY / "kubernetes":
        continue
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if not doc.get("apiVersion") or not kind or not name:
            problem(rel(path), "a document without apiVersion, kind or metadata.name")
            continue
        if (kind, name) in k8s:
            problem(rel(path), f"{kind}/{name} defined twice")
        k8s[(kind, name)] = doc


def need(kind, name):
    doc = k8s.get((kind, name))
    if doc is None:
        problem("deploy/kubernetes", f"no {kind}/{name}")
    return doc or {}


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


deployment = need("Deployment", "gatehouse")
service = need("Service", "gatehouse")
hpa = need("HorizontalPodAutoscaler", "gatehouse")
pdb = need("PodDisruptionBudget", "gatehouse")
secret = need("Secret", "gatehouse")
env_map = need("ConfigMap", "gatehouse-env")
config_map = need("ConfigMap", "gatehouse-config")

where = "deploy/kubernetes/deployment.yaml"
spec = deployment.get("spec", {})
template = spec.get("template", {})
pod_labels = template.get("metadata", {}).get("labels", {})
pod = template.get("spec", {})
containers = pod.get("containers", [])
container = containers[0] if containers else {}
if spec.get("replicas") != 2:
    problem(where, "replicas is not 2")
if not matches(spec.get("selector", {}).get("matchLabels"), pod_labels):
    problem(where, "selector does not match the pod labels")
if not matches(service.get("spec", {}).get("selector"), pod_labels):
    problem("service.yaml", "selector does not match the Deployment's pod labels")
if not matches(pdb.get("spec", {}).get("selector", {}).get("matchLabels"), pod_labels):
    problem("pdb.yaml", "selector does not match the Deployment's pod labels")
if pdb.get("apiVersion") != "policy/v1" or pdb.get("spec", {}).get("minAvailable") != 1:
    problem("pdb.yaml", "want policy/v1 with minAvailable 1")
target = hpa.get("spec", {}).get("scaleTargetRef", {})
if hpa.get("apiVersion") != "autoscaling/v2" or (target.get("kind"), target.get("name")) != (
    "Deployment",
    "gatehouse",
):
    problem("hpa.yaml", "want autoscaling/v2 scaling Deployment/gatehouse")
if not any(m.get("resource", {}).get("name") == "cpu" for m in hpa.get("spec", {}).get("metrics", [])):
    problem("hpa.yaml", "no CPU target")

ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
if ports != {"http": 8080, "metrics": 9090}:
    problem(where, f"container ports are {ports}, want http 8080 and metrics 9090")
for p in service.get("spec", {}).get("ports", []):
    if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
        problem("service.yaml", f"port {p.get('name')} targets {p.get('targetPort')}, not a container port")
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    get = container.get(probe, {}).get("httpGet", {})
    if get.get("path") != path or get.get("port") not in ("metrics", 9090):
        problem(where, f"{probe} is not GET {path} on the metrics port")
annotations = template.get("metadata", {}).get("annotations", {})
if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != str(
    ports.get("metrics")
):
    problem(where, "prometheus.io/scrape and prometheus.io/port annotations missing or not the metrics port")

resources = container.get("resources", {})
if not resources.get("requests", {}).get("cpu") or not resources.get("limits", {}).get("memory"):
    problem(where, "resources need a CPU request (for the HPA) and a memory limit")
sc = container.get("securityContext", {})
pod_sc = pod.get("securityContext", {})
if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
    problem(where, "runAsNonRoot is not set")
if sc.get("readOnlyRootFilesystem") is not True:
    problem(where, "readOnlyRootFilesystem is not true")
if sc.get("allowPrivilegeEscalation") is not False:
    problem(where, "allowPrivilegeEscalation is not false")
if sc.get("capabilities", {}).get("drop") != ["ALL"]:
    problem(where, "capabilities do not drop ALL")

env = {e.get("name"): e for e in container.get("env", [])}
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
for name in ("BETTER_AUTH_SECRET", "GATEHOUSE_DATABASE_URL"):
    ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
    if ref.get("name") != "gatehouse" or ref.get("key") not in secret_keys:
        problem(where, f"{name} is not a secretKeyRef to a key of Secret/gatehouse")
for value in secret.get("stringData", {}).values():
    if "REPLACE_ME" not in str(value):
        problem("secret.example.yaml", "every value must be a REPLACE_ME placeholder")
for source in container.get("envFrom", []):
    name = source.get("configMapRef", {}).get("name")
    if name and ("ConfigMap", name) not in k8s:
        problem(where, f"envFrom names ConfigMap/{name}, which is not defined")
for volume in pod.get("volumes", []):
    cm = volume.get("configMap")
    if cm:
        data = k8s.get(("ConfigMap", cm.get("name")), {}).get("data", {})
        for item in cm.get("items", []):
            if item.get("key") not in data:
                problem(where, f"volume {volume.get('name')} needs key {item.get('key')} of ConfigMap/{cm.get('name')}")
config_path = env.get("GATEHOUSE_CONFIG", {}).get("value", "")
mounted = [m.get("mountPath") for m in container.get("volumeMounts", [])]
if not any(config_path.startswith(f"{m}/") for m in mounted):
    problem(where, f"GATEHOUSE_CONFIG {config_path!r} is not under a mounted volume")

env_data = env_map.get("data", {})
for name, want in (("GATEHOUSE_LISTEN", ":8080"), ("GATEHOUSE_METRICS_LISTEN", ":9090")):
    value = env_data.get(name, "")
    if not value.startswith("0.0.0.0") or not value.endswith(want):
        problem("configmap.yaml", f"{name} should be 0.0.0.0{want} in a pod, is {value!r}")

toml_text = config_map.get("data", {}).get("gatehouse.toml", "")
if not toml_text:
    problem("configmap.yaml", "ConfigMap/gatehouse-config has no gatehouse.toml")
elif tomllib is not None:
    try:
        server = tomllib.loads(toml_text).get("server", {})
    except tomllib.TOMLDecodeError as e:
        problem("configmap.yaml", f"gatehouse.toml: {e}")
        server = {}
    drain = server.get("grace_period", 5) + server.get("graceful_shutdown_timeout", 5)
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] and len(pre_stop) == 2 else 0
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if not isinstance(drain, int):
        problem("configmap.yaml", "write grace_period and graceful_shutdown_timeout as whole seconds")
    elif grace <= drain + pause:
        problem(where, f"terminationGracePeriodSeconds {grace} does not exceed preStop {pause} s + drain {drain} s")

# --- report -----------------------------------------------------------------------------------
if "--extract" in sys.argv[1:]:
    out = pathlib.Path(sys.argv[sys.argv.index("--extract") + 1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "gatehouse.toml").write_text(toml_text)
    (out / "gatehouse.env").write_text("".join(f"{k}={v}\n" for k, v in env_data.items()))

if problems:
    for p in problems:
        print(f"deploy check: {p}", file=sys.stderr)
    sys.exit(1)
print(
    f"deploy check: ok: {len(documents)} YAML files, {len(k8s)} Kubernetes objects, "
    f"{len(alert_names)} alerts (all tested), {len(expressions)} dashboard queries, "
    f"{len(exported)} exported metric names"
)
