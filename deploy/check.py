#!/usr/bin/env python3
"""Cross-checks of the files under deploy/, run by .ci/run (needs PyYAML).

    python3 deploy/check.py [--extract DIR] [--metrics-text FILE]

It checks relations, not values: that the files agree with each other and with what the
gateway serves, whatever the values are (any replica count, port or path may change, as long
as everything that depends on it changes with it).

1. Every YAML file parses (all its documents) and the Grafana dashboard is valid JSON.
2. Metrics: every gatehouse_* series the alerts, their tests and the dashboard name is
   registered in src/metrics.rs (_bucket, _sum and _count only for histograms); every label
   they select or group by is one of that metric's labels (or job, instance, le); every label
   value they match exactly is a string the gateway's code sets (a string literal in src/);
   every le is one of the histogram's buckets. With --metrics-text FILE (a scrape of a live
   gateway's /metrics, as .ci/prometheus-scrape makes): every family and label the gateway
   exposes is one this reading of src/metrics.rs found, with the same type, so the checks
   above stand on what the gateway serves.
3. Alerts: each has `for`, a severity label, a summary and a description, and a test in
   alerts.test.yml; every job they (and the tests) select is a scrape job of prometheus.yml,
   whose rule_files load alerts.yml. prometheus.yml scrapes the path the gateway serves its
   metrics on, at the metrics port of config/gatehouse.toml.
4. Dashboard: every datasource is one of its __inputs, every $variable a templating variable
   or one of Grafana's; panel ids are unique.
5. Kubernetes: the Deployment's, Service's, PodDisruptionBudget's and spread constraint's
   selectors match the pod labels; the HPA scales the Deployment, whose replicas lie within
   the HPA's range, and the PDB lets a drain evict a pod; a CPU target has a CPU request;
   GATEHOUSE_CONFIG is the file the ConfigMap volume mounts; the listen addresses the pod
   ends up with (image ENV < ConfigMap < container env, over the mounted gatehouse.toml, over
   config/gatehouse.toml's defaults; overrides as src/config reads them) are not loopback and
   are the container ports; the Service targets container ports and serves the gateway's;
   the liveness and readiness probes hit the paths the operations listener
   (src/operations.rs) answers for "up" and "ready", on the metrics listener's port; the
   prometheus.io annotations name that port and the metrics path; the ConfigMaps and
   Secret keys referenced exist; with a read-only root
   filesystem, Pingora's pid file and upgrade socket (src/server.rs) are on a writable
   volume; runAsUser is the image's USER; terminationGracePeriodSeconds exceeds the preStop
   pause plus the drain (grace_period + graceful_shutdown_timeout).
6. Dockerfile and systemd unit: the image EXPOSEs its listen ports and its HEALTHCHECK hits
   the liveness path on the metrics port; the unit's TimeoutStopSec exceeds the default drain.

Not relations, so no longer checked: literal values such as the replica count, the port
numbers, API versions, the hardening settings and the Secret example's placeholders (the
README describes them; systemd-analyze in .ci/run rates the unit's hardening).

With --extract DIR, writes the ConfigMap's gatehouse.toml to DIR/gatehouse.toml and the
ConfigMap environment the container takes (envFrom) to DIR/gatehouse.env (NAME=value lines),
for `gatehouse check`.
Exits 1 listing every problem found.
"""

import ipaddress
import json
import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SRC = ROOT / "src"
problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def rel(path):
    return str(path.relative_to(ROOT))


def option(name):
    if name not in sys.argv[1:]:
        return None
    i = sys.argv.index(name)
    if i + 1 >= len(sys.argv):
        sys.exit(f"deploy check: {name} needs an argument")
    return sys.argv[i + 1]


def rust_source(path):
    """A Rust file without its test module (everything from the first #[cfg(test)] on)."""
    text = path.read_text()
    return text.split("#[cfg(test)]", 1)[0]


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

reference_path = ROOT / "config" / "gatehouse.toml"
try:
    reference = tomllib.loads(reference_path.read_text())
except (OSError, tomllib.TOMLDecodeError) as e:
    problem(rel(reference_path), f"cannot read the reference configuration: {e}")
    reference = {}


# --- what the gateway's code says -------------------------------------------------------------
sources = {path: rust_source(path) for path in sorted(SRC.rglob("*.rs"))}

# The metrics it registers (src/metrics.rs, the file that makes the Registry): name ->
# {"type", "labels", "buckets"}, read from each `"gatehouse_..."` name, the constructor before
# it and the `&["label", ...]` and `.buckets(CONST.to_vec())` after it.
metrics_file = next((p for p, text in sources.items() if "Registry::new(" in text), SRC / "metrics.rs")
METRICS_RS = rel(metrics_file)
metrics_rs = sources.get(metrics_file, "")
registered = {}
name_at = [(m.start(), m.group(1)) for m in re.finditer(r'"(gatehouse_[a-z0-9_]+)"', metrics_rs)]
for i, (start, name) in enumerate(name_at):
    if name in registered:
        continue
    end = name_at[i + 1][0] if i + 1 < len(name_at) else len(metrics_rs)
    before = metrics_rs[max(0, start - 80) : start]
    segment = metrics_rs[start:end]
    kind = "histogram" if re.search(r"HistogramOpts::new\(\s*$", before) else None
    if kind is None:
        kind = "gauge" if re.search(r"Gauge(Vec)?::new\(\s*(Opts::new\(\s*)?$", before) else "counter"
    labels = re.search(r'&\[\s*("[a-z_]+"(?:\s*,\s*"[a-z_]+")*)\s*,?\s*\]', segment)
    buckets = None
    if kind == "histogram":
        const = re.search(r"\.buckets\(\s*([A-Z_]+)\.to_vec\(\)\s*\)", segment)
        array = const and re.search(rf"const {const.group(1)}: &\[f64\] = &\[([^\]]*)\]", metrics_rs)
        if array:
            buckets = {float(b.replace("_", "")) for b in re.findall(r"[0-9][0-9_.e-]*", array.group(1))}
        else:
            problem(METRICS_RS, f"cannot find the buckets of {name}")
    registered[name] = {
        "type": kind,
        "labels": set(re.findall(r'"([a-z_]+)"', labels.group(1))) if labels else set(),
        "buckets": buckets,
    }
if not registered:
    problem(METRICS_RS, "no gatehouse_* metric registrations found")

# Every string literal in the gateway's code: the label values it can set.
literals = set()
for text in sources.values():
    literals.update(re.findall(r'"((?:[^"\\\n]|\\.)*)"', text))

# The operations listener's endpoints: the file of src/ whose match arms on paths answer
# metrics (`render(`), readiness (`readiness(`) and a constant 200 (liveness).
served, operations_rs = {}, None
for path, text in sources.items():
    arms = list(re.finditer(r'"(/[^"]*)"\s*=>', text))
    found = {}
    for i, arm in enumerate(arms):
        body = text[arm.end() : arms[i + 1].start() if i + 1 < len(arms) else len(text)]
        if "render(" in body:
            found.setdefault("metrics", arm.group(1))
        elif "readiness(" in body:
            found.setdefault("ready", arm.group(1))
        elif "StatusCode::OK" in body:
            found.setdefault("live", arm.group(1))
    if len(found) == 3:
        served, operations_rs = found, rel(path)
        break
if not served:
    problem("src/", "cannot find the operations endpoints (match arms answering metrics, readiness, liveness)")
metrics_path, live_path, ready_path = (served.get(r) for r in ("metrics", "live", "ready"))

# The environment variables that override config keys (src/config.rs):
# `if let Some(v) = env.var("GATEHOUSE_LISTEN") { file.server.listen = v; }`.
overrides = {}
for text in sources.values():
    for m in re.finditer(r'env\s*\.var\("([A-Z_]+)"\)[^{};]*?\{\s*file\.(\w+)\.(\w+)\s*=', text, re.S):
        overrides.setdefault((m.group(2), m.group(3)), m.group(1))
for key in (("server", "listen"), ("metrics", "listen")):
    if key not in overrides:
        problem("src/", f"cannot find the environment variable that overrides {'.'.join(key)}")

# Pingora's pid file and upgrade socket when the config names none (src/server.rs):
# `.pid_file.clone().unwrap_or_else(|| format!("/tmp/gatehouse-{port}.pid"))`.
default_paths = {}
for key in ("pid_file", "upgrade_sock"):
    pattern = rf'\.{key}\s*\.clone\(\)\s*\.unwrap_or_else\(\|\|\s*format!\("([^"]+)"'
    found = [m.group(1) for text in sources.values() for m in re.finditer(pattern, text)]
    default_paths[key] = found[0] if found else None
    if not found:
        problem("src/", f"cannot find the default server.{key} (`.{key}.clone().unwrap_or_else(|| format!(...))`)")


# --- helpers ----------------------------------------------------------------------------------
def split_addr(value):
    """"host:port" -> (host, port) or None."""
    m = re.fullmatch(r"\[?([^\]]*?)\]?:(\d+)", str(value))
    return (m.group(1), int(m.group(2))) if m else None


def loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def seconds(value):
    """A config duration (whole seconds, or "500ms", "30s", "15m", "2h", "7d", "1h 30m") in
    whole seconds, as Pingora gets it; None if unreadable."""
    if isinstance(value, int):
        return value
    parts = re.findall(r"(\d+)\s*(ms|s|m|h|d)", str(value))
    if not parts or re.sub(r"(\d+)\s*(ms|s|m|h|d)|\s", "", str(value)):
        return None
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(sum(int(n) * unit[u] for n, u in parts))


def systemd_seconds(value):
    m = re.fullmatch(r"\s*(\d+)\s*(s|sec|min|m)?\s*", value or "")
    if not m:
        return None
    return int(m.group(1)) * (60 if m.group(2) in ("min", "m") else 1)


# --- 2. metric names, labels and values -------------------------------------------------------
GLOBAL_LABELS = {"job", "instance"}


def base_metric(name):
    """(registered name, suffix) for a series name, or (None, None)."""
    if name in registered:
        return name, ""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and registered.get(base, {}).get("type") == "histogram":
            return base, suffix
    return None, None


def check_expr(where, expr):
    """Metric names, selector labels and values, and grouping labels of one PromQL expression
    (or one series of an alert test)."""
    used = set()
    for name in sorted(set(re.findall(r"\bgatehouse_[a-z0-9_]+", expr))):
        base, _ = base_metric(name)
        if base is None:
            problem(where, f"{name} is not registered in {METRICS_RS}")
        else:
            used.add(base)
    for m in re.finditer(r"\b(gatehouse_[a-z0-9_]+)\s*\{([^}]*)\}", expr):
        base, suffix = base_metric(m.group(1))
        if base is None:
            continue
        known = registered[base]["labels"] | GLOBAL_LABELS | ({"le"} if suffix == "_bucket" else set())
        for label, op, value in re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', m.group(2)):
            if label not in known:
                problem(where, f"{m.group(1)} has no label {label!r} ({METRICS_RS}: {sorted(known)})")
            elif label == "le":
                buckets = registered[base]["buckets"] or set()
                if value != "+Inf" and not (re.fullmatch(r"[0-9.e+-]+", value) and float(value) in buckets):
                    problem(where, f"{m.group(1)}: le={value!r} is not one of the buckets in {METRICS_RS}")
            elif label not in GLOBAL_LABELS:
                values = [value] if op in ("=", "!=") else value.split("|")
                for v in values:
                    if re.fullmatch(r"[A-Za-z0-9_+.-]+", v) and v not in literals:
                        problem(where, f"{m.group(1)}{{{label}={v!r}}}: the gateway's code never sets that value")
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        known = GLOBAL_LABELS | {"le"} | {label for base in used for label in registered[base]["labels"]}
        for label in re.findall(r"[a-zA-Z_]\w*", m.group(1)):
            if label not in known:
                problem(where, f"groups by {label!r}, a label none of {sorted(used) or 'its metrics'} has")


scrape_path = option("--metrics-text")
live_families = {}
if scrape_path:
    for line in pathlib.Path(scrape_path).read_text().splitlines():
        if m := re.match(r"# TYPE (\S+) (\S+)", line):
            live_families[m.group(1)] = {"type": m.group(2), "labels": set()}
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s", line)
            if m:
                base = next((f for f in live_families if m.group(1) in (f, f + "_bucket", f + "_sum", f + "_count")), None)
                if base:
                    live_families[base]["labels"].update(re.findall(r'(\w+)="', m.group(2) or ""))
    gatehouse_families = {k: v for k, v in live_families.items() if k.startswith("gatehouse_")}
    if not gatehouse_families:
        problem(scrape_path, "no gatehouse_* family in the scrape")
    for family, info in sorted(gatehouse_families.items()):
        mine = registered.get(family)
        if mine is None:
            problem(scrape_path, f"the gateway exposes {family}, which the reading of {METRICS_RS} did not find")
            continue
        if info["type"] != mine["type"]:
            problem(scrape_path, f"{family} is a {info['type']}; the reading of {METRICS_RS} says {mine['type']}")
        extra = info["labels"] - mine["labels"] - ({"le"} if info["type"] == "histogram" else set())
        if extra:
            problem(scrape_path, f"{family} has labels {sorted(extra)} the reading of {METRICS_RS} did not find")

# --- 3. alerts and prometheus.yml -------------------------------------------------------------
prometheus_path = DEPLOY / "prometheus" / "prometheus.yml"
alerts_path = DEPLOY / "prometheus" / "alerts.yml"
tests_path = DEPLOY / "prometheus" / "alerts.test.yml"
prometheus = (documents.get(prometheus_path) or [{}])[0]
jobs = {c.get("job_name") for c in prometheus.get("scrape_configs", [])}
where = rel(prometheus_path)
rule_files = [(prometheus_path.parent / f).resolve() for f in prometheus.get("rule_files", [])]
if alerts_path.resolve() not in rule_files:
    problem(where, f"rule_files does not load {rel(alerts_path)}")
reference_metrics = split_addr(reference.get("metrics", {}).get("listen", ""))
for config in prometheus.get("scrape_configs", []):
    if config.get("metrics_path", "/metrics") != metrics_path:
        problem(where, f"job {config.get('job_name')} scrapes {config.get('metrics_path', '/metrics')!r}, "
                f"the gateway serves its metrics on {metrics_path!r} ({operations_rs})")
    for static in config.get("static_configs", []):
        for target in static.get("targets", []):
            addr = split_addr(target)
            if reference_metrics and (not addr or addr[1] != reference_metrics[1]):
                problem(where, f"target {target} is not on the metrics port {reference_metrics[1]} "
                        f"of {rel(reference_path)} ([metrics] listen)")


def check_jobs(where, expr):
    for job in re.findall(r'\bjob\s*=\s*"([^"]*)"', expr):
        if job not in jobs:
            problem(where, f'job="{job}" is not a scrape job of {rel(prometheus_path)} ({sorted(jobs)})')


alert_names = set()
for doc in documents.get(alerts_path, []):
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            where = f"{rel(alerts_path)} {name}"
            check_expr(where, rule.get("expr", ""))
            check_jobs(where, rule.get("expr", ""))
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

tested = set()
for doc in documents.get(tests_path, []):
    for test in doc.get("tests", []):
        where = f"{rel(tests_path)} {test.get('name')}"
        for series in test.get("input_series", []):
            check_expr(where, series.get("series", ""))
            check_jobs(where, series.get("series", ""))
        for case in test.get("alert_rule_test", []):
            tested.add(case.get("alertname"))
for name in sorted(alert_names - tested):
    problem(rel(tests_path), f"alert {name} has no test")

# --- 4. dashboard -----------------------------------------------------------------------------
expressions = []
if dashboard is not None:
    where = rel(dashboard_path)
    inputs = {i.get("name") for i in dashboard.get("__inputs", []) if i.get("type") == "datasource"}
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}

    def check_datasource(what, datasource):
        uid = (datasource or {}).get("uid", "")
        m = re.fullmatch(r"\$\{(\w+)\}", uid)
        if not m or m.group(1) not in inputs:
            problem(where, f"{what}: datasource {uid!r} is not one of the __inputs ({sorted(inputs)})")

    def check_variables(what, expr):
        for var in re.findall(r"\$\{?(\w+)", expr):
            if not var.startswith("__") and var not in variables:
                problem(where, f"{what}: ${var} is not a templating variable ({sorted(variables)})")

    for variable in dashboard.get("templating", {}).get("list", []):
        what = f"variable {variable.get('name')!r}"
        if variable.get("type") == "query":
            check_datasource(what, variable.get("datasource"))
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else str(query or "")
            check_expr(f"{where} {what}", query)
            check_variables(what, query)
    ids = []
    for panel in dashboard.get("panels", []):
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        title = panel.get("title")
        check_datasource(f"panel {title!r}", panel.get("datasource"))
        if not panel.get("targets"):
            problem(where, f"panel {title!r}: no targets")
        for t in panel.get("targets", []):
            check_datasource(f"panel {title!r} target", t.get("datasource"))
            expr = t.get("expr", "")
            if not expr:
                problem(where, f"panel {title!r}: target without expr")
            check_expr(f"{where} panel {title!r}", expr)
            check_jobs(f"{where} panel {title!r}", expr)
            check_variables(f"panel {title!r}", expr)
            expressions.append(expr)
    if len(ids) != len(set(ids)):
        problem(where, "panel ids are not unique")

# --- 5. Kubernetes ----------------------------------------------------------------------------
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


def only(kind):
    found = [doc for (k, _), doc in k8s.items() if k == kind]
    if len(found) != 1:
        problem("deploy/kubernetes", f"want one {kind}, found {len(found)}")
    return found[0] if found else {}


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


deployment = only("Deployment")
service = only("Service")
hpa = only("HorizontalPodAutoscaler")
pdb = only("PodDisruptionBudget")

where = "deploy/kubernetes/deployment.yaml"
spec = deployment.get("spec", {})
template = spec.get("template", {})
pod_labels = template.get("metadata", {}).get("labels", {})
pod = template.get("spec", {})
containers = pod.get("containers", [])
container = containers[0] if containers else {}
if len(containers) != 1:
    problem(where, f"want one container, found {len(containers)}")

# Selectors and the pod labels.
if not matches(spec.get("selector", {}).get("matchLabels"), pod_labels):
    problem(where, "selector does not match the pod labels")
if not matches(service.get("spec", {}).get("selector"), pod_labels):
    problem("service.yaml", "selector does not match the Deployment's pod labels")
if not matches(pdb.get("spec", {}).get("selector", {}).get("matchLabels"), pod_labels):
    problem("pdb.yaml", "selector does not match the Deployment's pod labels")
for constraint in pod.get("topologySpreadConstraints", []):
    if not matches(constraint.get("labelSelector", {}).get("matchLabels"), pod_labels):
        problem(where, "a topologySpreadConstraint's labelSelector does not match the pod labels")

# Scaling: the HPA scales the Deployment; replicas, HPA range and PDB agree.
target = hpa.get("spec", {}).get("scaleTargetRef", {})
if (target.get("apiVersion"), target.get("kind"), target.get("name")) != (
    deployment.get("apiVersion"),
    deployment.get("kind"),
    deployment.get("metadata", {}).get("name"),
):
    problem("hpa.yaml", f"scaleTargetRef {target.get('apiVersion')} {target.get('kind')}/{target.get('name')} "
            "is not the Deployment")
low = hpa.get("spec", {}).get("minReplicas", 1)
high = hpa.get("spec", {}).get("maxReplicas", 0)
replicas = spec.get("replicas", 1)
if not low <= high:
    problem("hpa.yaml", f"minReplicas {low} above maxReplicas {high}")
if not low <= replicas <= high:
    problem(where, f"replicas {replicas} outside the HPA's range {low}-{high}")
min_available = pdb.get("spec", {}).get("minAvailable")
if isinstance(min_available, int) and min_available >= min(low, replicas):
    problem("pdb.yaml", f"minAvailable {min_available} leaves no pod a drain may evict "
            f"(replicas {replicas}, HPA minReplicas {low})")
resources = container.get("resources", {})
for metric in hpa.get("spec", {}).get("metrics", []):
    name = metric.get("resource", {}).get("name")
    if metric.get("type") == "Resource" and not resources.get("requests", {}).get(name):
        problem(where, f"the HPA targets {name} utilization, the container has no {name} request")

# The environment the gateway starts with: the image's ENV, then envFrom, then env.
dockerfile_path = DEPLOY / "Dockerfile"
dockerfile = dockerfile_path.read_text().replace("\\\n", " ")
image_env = {}
for line in re.findall(r"^ENV\s+(.*)$", dockerfile, re.M):
    image_env.update(re.findall(r"(\w+)=(\S+)", line))
env = dict(image_env)
for source in container.get("envFrom", []):
    name = source.get("configMapRef", {}).get("name")
    if name and ("ConfigMap", name) not in k8s:
        problem(where, f"envFrom names ConfigMap/{name}, which is not defined")
    env.update(k8s.get(("ConfigMap", name), {}).get("data", {}))
container_env = {e.get("name"): e for e in container.get("env", [])}
env.update({n: e["value"] for n, e in container_env.items() if "value" in e})

# Secrets.
secrets = {name: doc for (kind, name), doc in k8s.items() if kind == "Secret"}
for name, e in container_env.items():
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    if ref is None:
        continue
    secret = secrets.get(ref.get("name"))
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {})) if secret else set()
    if ref.get("key") not in keys:
        problem(where, f"{name} refers to key {ref.get('key')!r} of Secret/{ref.get('name')}, which has no such key")

# The config file: GATEHOUSE_CONFIG is a file a ConfigMap volume mounts.
volumes = {v.get("name"): v for v in pod.get("volumes", [])}
for volume in volumes.values():
    cm = volume.get("configMap")
    if cm:
        data = k8s.get(("ConfigMap", cm.get("name")), {}).get("data", {})
        for item in cm.get("items", []):
            if item.get("key") not in data:
                problem(where, f"volume {volume.get('name')} needs key {item.get('key')} of ConfigMap/{cm.get('name')}")
config_path = env.get("GATEHOUSE_CONFIG", "")
toml_text = ""
for mount in container.get("volumeMounts", []):
    cm = volumes.get(mount.get("name"), {}).get("configMap")
    if not cm:
        continue
    for item in cm.get("items", []):
        if f"{mount.get('mountPath')}/{item.get('path')}" == config_path:
            toml_text = k8s.get(("ConfigMap", cm.get("name")), {}).get("data", {}).get(item.get("key"), "")
if not toml_text:
    problem(where, f"GATEHOUSE_CONFIG {config_path!r} is not a file a ConfigMap volume mounts")
try:
    pod_config = tomllib.loads(toml_text)
except tomllib.TOMLDecodeError as e:
    problem("configmap.yaml", f"gatehouse.toml: {e}")
    pod_config = {}


def effective(section, key):
    """The value the pod's gateway uses: environment override, else the mounted file, else the
    reference config's default; and where it comes from."""
    var = overrides.get((section, key))
    if var and env.get(var):
        return env[var], var
    if key in pod_config.get(section, {}):
        return pod_config[section][key], f"gatehouse.toml [{section}] {key}"
    return reference.get(section, {}).get(key), f"{rel(reference_path)} [{section}] {key}"


# Listeners and ports.
container_ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
listeners = {}
for role, section in (("proxy", "server"), ("metrics", "metrics")):
    value, origin = effective(section, "listen")
    addr = split_addr(value)
    if not addr:
        problem(where, f"the {role} listener {value!r} ({origin}) is not host:port")
        continue
    listeners[role] = addr[1]
    if loopback(addr[0]):
        problem(where, f"the {role} listener {value} ({origin}) is on loopback: probes and Services cannot reach it")
    if addr[1] not in container_ports.values():
        problem(where, f"the {role} listener's port {addr[1]} ({origin}) is not a container port ({container_ports})")
metrics_enabled, origin = effective("metrics", "enabled")
if metrics_enabled is not True:
    problem(where, f"the probes need the operations listener, and metrics.enabled is {metrics_enabled!r} ({origin})")
for name, number in container_ports.items():
    if number not in listeners.values():
        problem(where, f"container port {name} {number} is not a port the gateway listens on ({listeners})")


def port_number(port):
    return container_ports.get(port) if isinstance(port, str) else port


service_targets = set()
for p in service.get("spec", {}).get("ports", []):
    number = port_number(p.get("targetPort", p.get("port")))
    service_targets.add(number)
    if number not in container_ports.values():
        problem("service.yaml", f"port {p.get('name')} targets {p.get('targetPort')}, not a container port")
if listeners.get("proxy") not in service_targets:
    problem("service.yaml", f"no port targets the gateway's proxy listener (port {listeners.get('proxy')})")

# Probes and Prometheus annotations: the operations listener's paths, on its port.
for probe, path in (("livenessProbe", live_path), ("readinessProbe", ready_path)):
    get = container.get(probe, {}).get("httpGet", {})
    if get.get("path") != path:
        problem(where, f"{probe} requests {get.get('path')!r}, {operations_rs} answers it on {path!r}")
    if port_number(get.get("port")) != listeners.get("metrics"):
        problem(where, f"{probe} port {get.get('port')!r} is not the metrics listener's port {listeners.get('metrics')}")
annotations = template.get("metadata", {}).get("annotations", {})
if annotations.get("prometheus.io/scrape") == "true":
    if annotations.get("prometheus.io/port") != str(listeners.get("metrics")):
        problem(where, f"prometheus.io/port {annotations.get('prometheus.io/port')!r} is not the metrics "
                f"listener's port {listeners.get('metrics')}")
    if annotations.get("prometheus.io/path", "/metrics") != metrics_path:
        problem(where, f"prometheus.io/path {annotations.get('prometheus.io/path')!r} is not the metrics path "
                f"{metrics_path!r} ({operations_rs})")

# Writable paths on a read-only root filesystem.
sc = container.get("securityContext", {})
pod_sc = pod.get("securityContext", {})
if sc.get("readOnlyRootFilesystem"):
    writable = [m.get("mountPath") for m in container.get("volumeMounts", []) if not m.get("readOnly")]
    for key, default in default_paths.items():
        value = pod_config.get("server", {}).get(key) or (default or "").replace("{port}", str(listeners.get("proxy")))
        if value and not any(value.startswith(f"{m.rstrip('/')}/") for m in writable):
            problem(where, f"readOnlyRootFilesystem, and Pingora's {key} {value} is on no writable volume ({writable})")

# The user: the image's USER, which runAsNonRoot needs numeric and not root.
user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
image_uid = user[-1].split(":")[0] if user else None
run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
if run_as_user is not None and str(run_as_user) != image_uid:
    problem(where, f"runAsUser {run_as_user} is not the image's USER {image_uid} ({rel(dockerfile_path)})")
if (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")) and run_as_user is None:
    if not (image_uid or "").isdigit() or image_uid == "0":
        problem(where, f"runAsNonRoot needs a numeric non-root USER in {rel(dockerfile_path)}, it is {image_uid!r}")

# Shutdown: the pod's grace period covers the preStop pause and the drain.
drain = [seconds(effective("server", key)[0]) for key in ("grace_period", "graceful_shutdown_timeout")]
pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] and len(pre_stop) == 2 else 0
grace = pod.get("terminationGracePeriodSeconds", 30)
if None in drain:
    problem("configmap.yaml", "cannot read grace_period or graceful_shutdown_timeout as a duration")
elif grace <= sum(drain) + pause:
    problem(where, f"terminationGracePeriodSeconds {grace} does not exceed preStop {pause} s + drain {sum(drain)} s")

# --- 6. Dockerfile and systemd unit -----------------------------------------------------------
where = rel(dockerfile_path)
exposed = {int(p) for line in re.findall(r"^EXPOSE\s+(.*)$", dockerfile, re.M) for p in re.findall(r"\d+", line)}
metrics_var = overrides.get(("metrics", "listen"))
for key in (("server", "listen"), ("metrics", "listen")):
    var = overrides.get(key)
    addr = split_addr(image_env.get(var, "")) if var else None
    if var in image_env and (not addr or addr[1] not in exposed):
        problem(where, f"ENV {var}={image_env[var]}: the port is not EXPOSEd ({sorted(exposed)})")
healthcheck = re.search(r"^HEALTHCHECK\b.*$", dockerfile, re.M)
if healthcheck:
    if not re.search(rf"GET {re.escape(live_path or '?')} ", healthcheck.group(0)):
        problem(where, f"HEALTHCHECK does not request the liveness path {live_path!r} ({operations_rs})")
    if metrics_var and f"${{{metrics_var}" not in healthcheck.group(0):
        problem(where, f"HEALTHCHECK does not connect to the port of {metrics_var}")

unit_path = DEPLOY / "gatehouse.service"
unit = unit_path.read_text()
stop = re.findall(r"^TimeoutStopSec=(.*)$", unit, re.M)
default_drain = [seconds(reference.get("server", {}).get(k)) for k in ("grace_period", "graceful_shutdown_timeout")]
if stop and None not in default_drain and (systemd_seconds(stop[-1]) or 0) <= sum(default_drain):
    problem(rel(unit_path), f"TimeoutStopSec={stop[-1]} does not exceed the default drain of {sum(default_drain)} s "
            f"({rel(reference_path)}: grace_period + graceful_shutdown_timeout)")

# --- report -----------------------------------------------------------------------------------
extract = option("--extract")
if extract:
    out = pathlib.Path(extract)
    out.mkdir(parents=True, exist_ok=True)
    env_from = {}
    for source in container.get("envFrom", []):
        env_from.update(k8s.get(("ConfigMap", source.get("configMapRef", {}).get("name")), {}).get("data", {}))
    (out / "gatehouse.toml").write_text(toml_text)
    (out / "gatehouse.env").write_text("".join(f"{k}={v}\n" for k, v in env_from.items()))

if problems:
    for p in problems:
        print(f"deploy check: {p}", file=sys.stderr)
    sys.exit(1)
print(
    f"deploy check: ok: {len(documents)} YAML files, {len(k8s)} Kubernetes objects, "
    f"{len(alert_names)} alerts (all tested), {len(expressions)} dashboard queries, "
    f"{len(registered)} registered metrics"
    + (f", {len(live_families)} families in the live scrape agree" if scrape_path else "")
)
