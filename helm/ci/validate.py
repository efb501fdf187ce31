#!/usr/bin/env python3
"""Checks the Helm chart and the Dockerfile without a cluster, a helm binary or Docker.

Run through helm/ci/validate.sh (it provides the pinned tools). Every check prints one line;
the script exits 1 if any failed. Nothing is skipped silently: a check that cannot run says so.

1. `helm lint --strict` (Helm v4's engine, helm-python-sdk) with the default values and with
   helm/bulkleave/ci/production-values.yaml, for the newest Kubernetes and for 1.25.
2. Both renders: every manifest validated strictly (no unknown field) against the Kubernetes
   schemas of the oldest and newest supported versions (kubernetes-validate); the CRDs the
   chart writes (KEDA ScaledObject, Prometheus Operator ServiceMonitor) against the minimal
   strict schemas in helm/ci/crd-schemas/. A kind with neither is a failure.
3. What the chart promises: the config defaults match src/config/mod.rs; the worker's grace
   period exceeds its drain timeout; probe ports match the configuration's listeners; every
   pod is non-root, read-only, unprivileged, capability-less, seccomp RuntimeDefault, with
   requests and limits; standard labels; no Secret rendered; KEDA scales on runnable work.
4. The rendered configuration is accepted by the real binary (`bulkleave config check`) when
   BULKLEAVE_BIN names one.
5. values.schema.json (and the templates' own checks) refuse bad values: each must fail.
6. hadolint on the Dockerfile; its cargo build command is the one .ci/run runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "bulkleave"
PRODUCTION = CHART / "ci" / "production-values.yaml"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
OLDEST = "1.25.0"
NEWEST = kv.latest_version()
RELEASE, NAMESPACE = "bulkleave", "offboarding"
LABELS = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
]
BUILD = "cargo build --release --locked --bin bulkleave"

failures: list[str] = []
passed = 0


def check(name: str, ok: bool, detail: str = "") -> None:
    global passed
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if ok:
        passed += 1
    else:
        failures.append(name)


STEPS: list[tuple[str, Callable[[], None]]] = []


def step(title: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Registers a step; main() runs them in the order they are defined."""

    def register(body: Callable[[], None]) -> Callable[[], None]:
        STEPS.append((title, body))
        return body

    return register


def run_step(title: str, body: Callable[[], None]) -> None:
    start = time.monotonic()
    print(f"-- {title}", flush=True)
    try:
        body()
    except Exception as e:  # a crashing step is a failed check, reported with its cause
        check(f"{title} ran to its end", False, f"{type(e).__name__}: {e}")
    print(f"   ({time.monotonic() - start:.1f}s)", flush=True)


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION.read_text())


def render(values: dict[str, Any] | None, **opts: Any) -> list[dict[str, Any]]:
    """The chart's manifests (NOTES.txt left out), each tagged with its template."""
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, **opts)
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["__template"] = template
                docs.append(doc)
    return docs


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "__template"}


def ident(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def by_component(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    found = [
        d
        for d in of_kind(docs, kind)
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} of component {component}, found {len(found)}")
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            specs.append((ident(d), d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            specs.append((ident(d), d["spec"]))
    return specs


def config_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (cm,) = of_kind(docs, "ConfigMap")
    return tomllib.loads(cm["data"]["bulkleave.toml"])


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    if not match:
        raise AssertionError(f"unexpected duration {duration!r}")
    return int(match.group(1))


# 1 ------------------------------------------------------------------------------------------


@step("helm lint --strict")
def lint() -> None:
    for label, values in (("default values", None), ("production values", production_values())):
        for kube in (None, f"v{OLDEST}"):
            report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version=kube)
            problems = [m for m in report["messages"] if m["severity"] >= 2] + [
                {"error": e} for e in report["errors"]
            ]
            notes = [m["error"] for m in report["messages"] if m["severity"] < 2]
            where = f"{label}, Kubernetes {kube or 'default'}"
            check(
                f"lint ({where})",
                not problems and report["total_charts_linted"] == 1,
                "; ".join(p["error"] for p in problems) or f"info only: {notes}",
            )


# 2, 3 ---------------------------------------------------------------------------------------


CRD_SCHEMA = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.keda.sh-v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.monitoring.coreos.com-v1.json",
}


def validate_manifests(label: str, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CRD_SCHEMA:
            schema_file = CRD_SCHEMAS / CRD_SCHEMA[key]
            schema = yaml.safe_load(schema_file.read_text())
            errors = sorted(
                jsonschema.Draft202012Validator(schema).iter_errors(strip(doc)),
                key=lambda e: list(e.absolute_path),
            )
            check(
                f"{label}: {ident(doc)} (a CRD: not in the Kubernetes schemas; checked against "
                f"helm/ci/crd-schemas/{schema_file.name})",
                not errors,
                "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors),
            )
            continue
        for version in (OLDEST, NEWEST):
            try:
                kubernetes_validate.validate(strip(doc), version, strict=True)
                check(f"{label}: {ident(doc)} valid for Kubernetes {version} (strict)", True)
            except kv.ValidationError as e:
                path = "/".join(str(p) for p in e.absolute_path)
                check(f"{label}: {ident(doc)} valid for Kubernetes {version}", False, f"{path}: {e.message}")
            except kv.SchemaNotFoundError as e:
                check(f"{label}: {ident(doc)} has a schema", False, e.message)


def check_promises(label: str, docs: list[dict[str, Any]]) -> None:
    config = config_of(docs)
    worker = by_component(docs, "Deployment", "worker")
    api = by_component(docs, "Deployment", "api")

    drain = seconds(config["worker"]["drain_timeout"])
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    check(f"{label}: worker grace period {grace}s > drain timeout {drain}s + 5s", grace >= drain + 5)

    for deployment, listen, port_name in (
        (worker, config["metrics"]["listen"], "metrics"),
        (api, config["api"]["listen"], "http"),
    ):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {
            kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        want = {
            "startupProbe": ("/healthz", port_name),
            "livenessProbe": ("/healthz", port_name),
            "readinessProbe": ("/readyz", port_name),
        }
        check(
            f"{label}: {ident(deployment)} listens where it is probed ({listen})",
            ports.get(port_name) == port_of(listen) and probes == want,
            f"ports {ports}, probes {probes}",
        )
    check(f"{label}: metrics served (the worker's probes live on that listener)", config["metrics"]["enabled"] is True)

    for name, spec in pod_specs(docs):
        pod = spec.get("securityContext", {})
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            secure = (
                (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")) is True
                and sc.get("readOnlyRootFilesystem") is True
                and sc.get("allowPrivilegeEscalation") is False
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
                and not sc.get("capabilities", {}).get("add")
                and sc.get("privileged") is not True
                and (sc.get("seccompProfile") or pod.get("seccompProfile", {})).get("type") == "RuntimeDefault"
            )
            check(f"{label}: {name}/{c['name']} runs locked down", secure, f"pod {pod}, container {sc}")
            res = c.get("resources", {})
            check(
                f"{label}: {name}/{c['name']} has requests and limits",
                all(res.get(k, {}).get("cpu") and res.get(k, {}).get("memory") for k in ("requests", "limits")),
                str(res),
            )
        check(f"{label}: {name} mounts no service-account token", spec.get("automountServiceAccountToken") is False)

    unlabeled = [ident(d) for d in docs if any(l not in d["metadata"].get("labels", {}) for l in LABELS)]
    check(f"{label}: standard labels on every object", not unlabeled, ", ".join(unlabeled))
    check(f"{label}: the chart renders no Secret", not of_kind(docs, "Secret"))

    for scaled in of_kind(docs, "ScaledObject"):
        (prom,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"]
        query = prom["metadata"]["query"]
        check(
            f"{label}: KEDA scales on runnable-now work only",
            'state="runnable"' in query and "waiting" not in query and "reason" not in query,
            query,
        )
        check(
            f"{label}: no CPU HPA beside KEDA's",
            not [h for h in of_kind(docs, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]],
        )

    hooks = {d["metadata"]["name"]: d["metadata"].get("annotations", {}).get("helm.sh/hook") for d in of_kind(docs, "Job")}
    check(f"{label}: migrations run as a pre-install/pre-upgrade hook", list(hooks.values()) == ["pre-install,pre-upgrade"], str(hooks))
    (job,) = of_kind(docs, "Job")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    check(
        f"{label}: the migration Job runs `bulkleave migrate` with no ConfigMap (hooks run first)",
        migrate["args"] == ["migrate"] and not job["spec"]["template"]["spec"].get("volumes"),
    )
    tests = [d for d in of_kind(docs, "Pod") if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    check(f"{label}: a helm test asks the API /healthz and /readyz", len(tests) == 1 and any("/readyz" in a for a in tests[0]["spec"]["containers"][0]["args"]))


def expect_kinds(label: str, docs: list[dict[str, Any]], want: dict[str, int]) -> None:
    got: dict[str, int] = {}
    for d in docs:
        got[d["kind"]] = got.get(d["kind"], 0) + 1
    check(f"{label}: renders {want}", got == want, f"got {got}")


DEFAULT_KINDS = {
    "ConfigMap": 1, "ServiceAccount": 1, "Deployment": 2, "Service": 2,
    "PodDisruptionBudget": 2, "Job": 1, "Pod": 1,
}
PRODUCTION_KINDS = {**DEFAULT_KINDS, "HorizontalPodAutoscaler": 1, "ScaledObject": 1, "ServiceMonitor": 1}


@step("render and validate: default values")
def default_render() -> None:
    docs = render(None, is_install=True)
    expect_kinds("default", docs, DEFAULT_KINDS)
    validate_manifests("default", docs)
    check_promises("default", docs)


@step("render and validate: helm/bulkleave/ci/production-values.yaml")
def production_render() -> None:
    values = production_values()
    docs = render(values, is_upgrade=True)
    expect_kinds("production", docs, PRODUCTION_KINDS)
    validate_manifests("production", docs)
    check_promises("production", docs)


VARIANTS = [
    ("workers only", {"api": {"enabled": False}}, {"Deployment": 1, "Service": 1, "PodDisruptionBudget": 1, "Pod": 0}),
    ("API only", {"worker": {"enabled": False}}, {"Deployment": 1, "Service": 1, "PodDisruptionBudget": 1}),
    ("migrations only", {"worker": {"enabled": False}, "api": {"enabled": False}}, {"Deployment": 0, "ConfigMap": 0, "Job": 1}),
    ("KEDA without a CPU trigger, API on CPU", {"worker": {"keda": {"enabled": True}}, "api": {"autoscaling": {"enabled": True}}}, {"ScaledObject": 1, "HorizontalPodAutoscaler": 1}),
    ("workers on CPU", {"worker": {"autoscaling": {"enabled": True}}}, {"HorizontalPodAutoscaler": 1, "ScaledObject": 0}),
    ("URLs without passwords, no Secret for them",
     {"redis": {"urlSecret": {"key": ""}, "url": "redis://redis:6379/0"},
      "database": {"urlSecret": {"key": ""}, "url": "postgres://bulkleave@postgres:5432/bulkleave"}},
     {"Deployment": 2}),
    ("the API's preStop sleep (Kubernetes >= 1.30)", {"api": {"preStopSleepSeconds": 5}}, {"Deployment": 2}),
]


@step("render and validate: variants (components off, autoscalers, plain URLs)")
def variants() -> None:
    for label, values, kinds in VARIANTS:
        docs = render(values)
        got = {kind: len(of_kind(docs, kind)) for kind in kinds}
        check(f"{label}: renders {kinds}", got == kinds, f"got {got}")
        # The preStop sleep action exists from Kubernetes 1.30 on (values.yaml says so).
        versions = (NEWEST,) if "preStopSleepSeconds" in values.get("api", {}) else (OLDEST, NEWEST)
        errors = []
        for doc in docs:
            if (doc["apiVersion"], doc["kind"]) in CRD_SCHEMA:
                continue  # the production render checks them against their schemas
            for version in versions:
                try:
                    kubernetes_validate.validate(strip(doc), version, strict=True)
                except (kv.ValidationError, kv.SchemaNotFoundError) as e:
                    errors.append(f"{ident(doc)} ({version}): {getattr(e, 'message', e)}")
        check(f"{label}: every manifest valid for Kubernetes {' and '.join(versions)} (strict)", not errors, "; ".join(errors))
        if "url" in values.get("redis", {}):
            config = config_of(docs)
            job = of_kind(docs, "Job")[0]["spec"]["template"]["spec"]["containers"][0]
            check(
                f"{label}: the URLs are in the ConfigMap and the migration Job's env",
                config["redis"]["url"] == values["redis"]["url"]
                and config["database"]["url"] == values["database"]["url"]
                and {"name": "BULKLEAVE__DATABASE__URL", "value": values["database"]["url"]} in job["env"],
            )


@step("chart defaults = the app's defaults (src/config/mod.rs)")
def defaults_match() -> None:
    source = (ROOT / "src" / "config" / "mod.rs").read_text()

    def const(name: str, pattern: str) -> str:
        match = re.search(rf"pub const {name}: [^=]+= {pattern}", source, re.S)
        if not match:
            raise AssertionError(f"{name} not found in src/config/mod.rs")
        return match.group(1)

    listen_port = r".*?UNSPECIFIED,\s*(\d+),"
    app = {
        "worker.concurrency": int(const("DEFAULT_CONCURRENCY", r"(\d+);")),
        "worker.drain_timeout": const("DEFAULT_DRAIN_TIMEOUT", r"Duration::from_secs\((\d+)\);") + "s",
        "api.listen": "0.0.0.0:" + const("DEFAULT_API_LISTEN", listen_port),
        "metrics.listen": "0.0.0.0:" + const("DEFAULT_METRICS_LISTEN", listen_port),
        "database.max_connections": int(const("DEFAULT_DATABASE_CONNECTIONS", r"(\d+);")),
        "redis.key_prefix": const("DEFAULT_KEY_PREFIX", r'"([^"]+)";'),
    }
    config = config_of(render(None))
    chart = {key: config[key.split(".")[0]][key.split(".")[1]] for key in app}
    for key, value in app.items():
        check(f"{key}: chart renders {chart[key]!r}, the app's default is {value!r}", chart[key] == value)


# 4 ------------------------------------------------------------------------------------------


@step("the real binary accepts the rendered configuration (bulkleave config check)")
def config_check() -> None:
    binary = os.environ.get("BULKLEAVE_BIN")
    if not binary:
        print("SKIPPED: set BULKLEAVE_BIN to a built bulkleave to run this check (.ci/run does)")
        return
    for label, values in (("default", {}), ("production", production_values())):
        with tempfile.TemporaryDirectory() as tmp:
            # The chart's own mount layout, rooted in the temporary directory.
            values = {**values, "secret": {**values.get("secret", {"name": "bulkleave"}), "mountPath": tmp}}
            values["secret"].setdefault("name", "bulkleave")
            for name, account in values.get("accounts", {}).items():
                path = Path(tmp, "accounts", name)
                path.parent.mkdir(exist_ok=True)
                path.write_text("sid=canary" if account["provider"] == "kirimin" else "canary-token")
            for caller in values.get("apiTokens", {}):
                path = Path(tmp, "tokens", caller)
                path.parent.mkdir(exist_ok=True)
                path.write_text("canary-api-token")
            file = Path(tmp, "bulkleave.toml")
            file.write_text(next(d for d in render(values) if d["kind"] == "ConfigMap")["data"]["bulkleave.toml"])
            env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLEAVE")}
            env.update(
                BULKLEAVE__REDIS__URL="redis://:canary@redis:6379/0",
                BULKLEAVE__DATABASE__URL="postgres://bulkleave:canary@postgres:5432/bulkleave",
            )
            run = subprocess.run(
                [binary, "--config", str(file), "config", "check"],
                env=env, capture_output=True, text=True, timeout=60,
            )
            accounts = len(values.get("accounts", {}))
            check(
                f"{label}: `bulkleave config check` accepts the ConfigMap ({accounts} accounts)",
                run.returncode == 0 and f"configuration OK: {accounts} account(s)" in run.stderr,
                run.stderr.strip()[-600:],
            )
            check(f"{label}: no credential in the checked output", "canary" not in run.stdout + run.stderr)


# 5 ------------------------------------------------------------------------------------------


BAD_VALUES = [
    ("a string where an integer goes", {"worker": {"concurrency": "lots"}}, "/worker/concurrency"),
    ("a number where a string goes", {"redis": {"keyPrefix": 7}}, "/redis/keyPrefix"),
    ("a misspelt key", {"worker": {"concurency": 8}}, "concurency"),
    ("a config key the chart owns", {"config": {"worker": {"concurrency": 8}}}, "worker"),
    ("an unknown config key", {"config": {"retry": {"max_attempt": 3}}}, "max_attempt"),
    ("an out-of-range value", {"config": {"pacing": {"headroom": 0.9}}}, "headroom"),
    ("an unknown provider", {"accounts": {"a": {"provider": "telegram", "credentialSecret": {"key": "a"}}}}, "provider"),
    ("an account without its credential's key", {"accounts": {"a": {"provider": "wasend", "session_id": "s"}}}, "credentialSecret"),
    ("an account name the app refuses", {"accounts": {"Ops": {"provider": "wasend", "credentialSecret": {"key": "k"}}}}, "Ops"),
    ("KEDA allowed to scale workers to zero", {"worker": {"keda": {"minReplicas": 0}}}, "minReplicas"),
    ("a security setting of the wrong type", {"containerSecurityContext": {"readOnlyRootFilesystem": "yes"}}, "readOnlyRootFilesystem"),
    ("a pod without limits", {"api": {"resources": {"limits": None}}}, "limits"),
    ("a grace period shorter than the drain", {"worker": {"drainTimeoutSeconds": 60}}, "terminationGracePeriodSeconds"),
    ("no Redis URL from anywhere", {"redis": {"urlSecret": {"key": ""}, "url": ""}}, "redis.url"),
]


@step("bad values are refused (values.schema.json, template checks)")
def bad_values() -> None:
    for what, values, needle in BAD_VALUES:
        try:
            render(values)
            check(f"refused: {what}", False, f"{values} rendered")
        except (helm.HelmValuesError, helm.HelmRenderError) as e:
            message = " ".join(str(e).split())
            check(f"refused: {what}", needle in message, message[:300])
    report = helm.lint(CHART, BAD_VALUES[0][1], strict=True, namespace=NAMESPACE)
    check(
        "helm lint fails on a wrong type too",
        bool(report["errors"]) or any(m["severity"] >= 3 for m in report["messages"]),
        str(report["messages"])[:300],
    )


# 6 ------------------------------------------------------------------------------------------


@step("Dockerfile")
def dockerfile() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    run = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )
    check("hadolint Dockerfile (every finding fails)", run.returncode == 0, (run.stdout + run.stderr).strip())

    text = (ROOT / "Dockerfile").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n\s*", " ", code)
    builds = re.findall(r"cargo build[^&\n]*", joined)
    ci = (ROOT / ".ci" / "run").read_text()
    check(
        f"the Dockerfile's build command is CI's ({BUILD})",
        [b.strip() for b in builds] == [BUILD] and BUILD in ci,
        f"Dockerfile: {builds}",
    )
    check("the dependency layer is cooked for the same target", f"cargo chef cook --release --locked --bin bulkleave" in joined)
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    check(
        "the runtime is distroless, as a numeric non-root user",
        bool(stages) and stages[-1].startswith("gcr.io/distroless/") and bool(user) and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user[-1]) is not None,
        f"runtime {stages[-1:]}, user {user[-1:]}",
    )
    check("nothing secret or configured is baked in", not re.search(r"^(ENV|ARG)\s+\S*(TOKEN|PASSWORD|SECRET|BULKLEAVE__)", text, re.M | re.I) and "COPY config" not in text)
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    needed = ["!Cargo.toml", "!Cargo.lock", "!src/", "!migrations/", "!benches/"]
    check(
        ".dockerignore keeps only the build's inputs (what `cargo build` reads)",
        patterns[:1] == ["*"] and sorted(patterns[1:]) == sorted(needed),
        str(patterns),
    )
    rust = re.search(r"ARG RUST_VERSION=(\d+\.\d+)", text)
    local = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout if shutil.which("rustc") else ""
    if rust and local:
        same = f" {rust.group(1)}." in local
        print(f"note: the Dockerfile builds with Rust {rust.group(1)}, CI with {local.strip()}{'' if same else ' (they differ: update ARG RUST_VERSION)'}")


def main() -> int:
    start = time.monotonic()
    print(f"helm {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}), Kubernetes schemas {OLDEST} and {NEWEST}")
    for title, body in STEPS:
        run_step(title, body)
    if failures:
        print("failed:\n  " + "\n  ".join(failures))
    print(f"checked in {time.monotonic() - start:.1f}s")
    print(f"helm: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
