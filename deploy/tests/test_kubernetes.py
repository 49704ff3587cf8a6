"""The Kubernetes manifests: each valid against its API's schema (``crd_schemas``), and all
consistent with each other and with the worker's settings: the monitors select the worker's
pods, scrape the port that DYN_SYSTEM_PORT opens, on /metrics, in the job the rules select."""

from __future__ import annotations

import copy
import re

import jsonschema
import pytest
import yaml
from crd_schemas import BY_KIND

from conftest import KUBERNETES, PROMETHEUS, documents, of_kind

MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))


def validate(doc: dict) -> None:
    jsonschema.validate(doc, BY_KIND[doc["kind"]])


def complaints(doc: dict) -> list[str]:
    """Every message the schema of ``doc``'s kind has about it."""
    validator = jsonschema.Draft202012Validator(BY_KIND[doc["kind"]])
    return [error.message for error in validator.iter_errors(doc)]


def scrape_job() -> str:
    """The job name of deploy/prometheus/prometheus.yml, which the rules select."""
    (job,) = [
        c["job_name"]
        for c in yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"]
    ]
    return job


def worker_deployment() -> dict:
    ((_, deployment),) = [(f, d) for f, d in of_kind("Deployment") if f == "worker.yaml"]
    return deployment


def container(deployment: dict) -> dict:
    (worker,) = deployment["spec"]["template"]["spec"]["containers"]
    return worker


def env(worker: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in worker.get("env", [])}


def port_named(worker: dict, name: str) -> int:
    (port,) = [p["containerPort"] for p in worker["ports"] if p.get("name") == name]
    return port


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_matches_its_schema(path):
    docs = documents(path)
    assert docs
    for doc in docs:
        assert doc["kind"] in BY_KIND, f"{path.name}: no schema for kind {doc['kind']}"
        validate(doc)


def test_the_manifests_hold_one_monitor_of_each_kind():
    assert [f for f, _ in of_kind("PodMonitor")] == ["podmonitor.yaml"]
    assert [f for f, _ in of_kind("ServiceMonitor")] == ["servicemonitor.yaml"]
    assert sorted(f for f, _ in of_kind("Deployment")) == ["pod-annotations.yaml", "worker.yaml"]
    assert [f for f, _ in of_kind("Service")] == ["worker.yaml"]


@pytest.mark.parametrize(
    "break_it, complaint",
    [
        (lambda spec: spec.pop("selector"), "'selector' is a required property"),
        (
            lambda spec: spec.pop("podMetricsEndpoints"),
            "'podMetricsEndpoints' is a required property",
        ),
        (
            lambda spec: spec.update(podMetricEndpoints=spec.pop("podMetricsEndpoints")),
            "'podMetricEndpoints' was unexpected",
        ),
        (
            lambda spec: spec["podMetricsEndpoints"][0].update(interval="15 seconds"),
            "does not match",
        ),
        (
            lambda spec: spec["podMetricsEndpoints"][0]["relabelings"][0].pop("targetLabel"),
            "'targetLabel' is a required property",
        ),
        (lambda spec: spec["podMetricsEndpoints"][0].update(port=8081), "is not of type 'string'"),
    ],
    ids=[
        "no selector",
        "no endpoints",
        "misspelt field",
        "bad duration",
        "replace without target",
        "port number for a name",
    ],
)
def test_the_schema_refuses_a_broken_pod_monitor(break_it, complaint):
    ((_, monitor),) = of_kind("PodMonitor")
    broken = copy.deepcopy(monitor)
    break_it(broken["spec"])
    found = complaints(broken)
    assert any(complaint in message for message in found), found


def test_the_schema_refuses_a_service_monitor_without_endpoints():
    ((_, monitor),) = of_kind("ServiceMonitor")
    broken = copy.deepcopy(monitor)
    del broken["spec"]["endpoints"]
    assert complaints(broken) == ["'endpoints' is a required property"]


def test_the_worker_serves_the_status_server_on_its_named_port():
    worker = container(worker_deployment())
    port = port_named(worker, "system")
    assert env(worker)["DYN_SYSTEM_PORT"] == str(port)
    assert worker["readinessProbe"]["httpGet"] == {"path": "/health", "port": "system"}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/live", "port": "system"}


def test_fleet_labels_parse_as_name_value_pairs():
    labels = env(container(worker_deployment()))["DYN_METRICS_CONST_LABELS"]
    pairs = [pair.split("=", 1) for pair in labels.split(",")]
    assert all(len(p) == 2 and re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", p[0]) for p in pairs), labels


@pytest.mark.parametrize(
    "kind, field", [("PodMonitor", "podMetricsEndpoints"), ("ServiceMonitor", "endpoints")]
)
def test_monitors_scrape_the_workers_metrics_in_the_dynamo_job(kind, field):
    ((_, monitor),) = of_kind(kind)
    deployment = worker_deployment()
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items(), f"{kind} selects no worker pod"
    (endpoint,) = monitor["spec"][field]
    assert endpoint["path"] == "/metrics"
    assert seconds(endpoint["scrapeTimeout"]) < seconds(endpoint["interval"])
    names_the_job = {"action": "replace", "targetLabel": "job", "replacement": scrape_job()}
    assert names_the_job in endpoint["relabelings"]
    if kind == "PodMonitor":
        port_named(container(deployment), endpoint["port"])
    else:
        ((_, service),) = of_kind("Service")
        assert selector.items() <= service["metadata"]["labels"].items()
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        assert service_port["targetPort"] == "system"


# --- the pod-annotations alternative -----------------------------------------------------


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus' relabeling of a target's labels (the ``keep`` and ``replace`` actions):
    ``None`` when the target is dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        value = config.get("separator", ";").join(
            labels.get(s, "") for s in config.get("source_labels", [])
        )
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                replacement = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", config.get("replacement", "$1"))
                result = match.expand(replacement)
                if result:
                    labels[config["target_label"]] = result
                else:
                    labels.pop(config["target_label"], None)
        else:
            raise AssertionError(f"relabel action {action} is not simulated")
    return labels


def pod_meta_labels(deployment: dict, pod_ip: str) -> dict[str, str]:
    """The labels Kubernetes pod discovery gives a pod of ``deployment``."""
    template = deployment["spec"]["template"]
    worker = container(deployment)
    port = worker["ports"][0]["containerPort"]
    labels = {
        "__address__": f"{pod_ip}:{port}",
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_namespace": "inference",
        "__meta_kubernetes_pod_name": "dynamo-worker-7d9f-abcde",
        "__meta_kubernetes_pod_ip": pod_ip,
    }
    for name, value in template["metadata"].get("annotations", {}).items():
        key = re.sub(r"[^a-zA-Z0-9_]", "_", name)
        labels[f"__meta_kubernetes_pod_annotation_{key}"] = value
    return labels


def annotations_scrape_config() -> dict:
    config = yaml.safe_load((KUBERNETES / "prometheus-annotations.yml").read_text())
    (job,) = config["scrape_configs"]
    return job


def test_annotated_pods_are_scraped_on_the_status_port():
    ((_, deployment),) = [(f, d) for f, d in of_kind("Deployment") if f == "pod-annotations.yaml"]
    worker = container(deployment)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["prometheus.io/port"]
        == env(worker)["DYN_SYSTEM_PORT"]
        == str(port_named(worker, "system"))
    )
    job = annotations_scrape_config()
    assert job["job_name"] == scrape_job()
    target = relabel(pod_meta_labels(deployment, "10.1.2.3"), job["relabel_configs"])
    assert target is not None
    assert target["__address__"] == "10.1.2.3:8081"
    assert target["__metrics_path__"] == annotations["prometheus.io/path"] == "/metrics"
    assert target["kubernetes_namespace"] == "inference"
    assert target["pod"] == "dynamo-worker-7d9f-abcde"


def test_pods_without_the_scrape_annotation_are_not_scraped():
    deployment = worker_deployment()  # the PodMonitor's pods carry no annotations
    assert (
        relabel(
            pod_meta_labels(deployment, "10.1.2.4"), annotations_scrape_config()["relabel_configs"]
        )
        is None
    )


def test_the_annotations_config_loads_the_shipped_rules():
    config = yaml.safe_load((KUBERNETES / "prometheus-annotations.yml").read_text())
    assert [(KUBERNETES / f).resolve() for f in config["rule_files"]] == [
        (PROMETHEUS / "rules.yml").resolve()
    ]
