"""Static tests of the production stack (docker/, grafana/): no container runs.

Each check in tests/stack_checks.py is run on the real files and must find
nothing; then the same check is run on a copy with one seeded mistake and must
find it, so a check that silently passes everything cannot go unnoticed.

Run alone with: python -m pytest tests/test_stack_static.py -q --noconftest
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentfleet.cli.devserver import (
    FANOUT_DYNAMIC_CONFIG,
    SEARCH_ATTRIBUTES,
    VERSIONING_DYNAMIC_CONFIG,
    DevServer,
)
from agentfleet.telemetry import names as telemetry_names
from tests import stack_checks as sc

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
GRAFANA = ROOT / "grafana"
DATA = Path(__file__).resolve().parent / "data"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
DASHBOARD_FILES = (
    "fleet-overview.json",
    "agent-traces.json",
    "weekly-report.json",
    "temporal-sdk.json",
    "llm-governance.json",
)
# Exported by the weekly report, not by the worker: not in FLEET_METRICS.
REPORT_METRICS = {"agentfleet_audit_discrepancies": "gauge"}
# Counters the captured run (tests/data/captured_metrics.txt) had no occasion
# to increment, with the reason; none today.
NOT_YET_RECORDED: dict[str, str] = {}

Stack = dict[str, Any]


def load_stack() -> Stack:
    dashboards = {
        p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }
    return {
        "compose": yaml.safe_load(COMPOSE_FILE.read_text()),
        "dockerfile": (DOCKER / "Dockerfile").read_text(),
        "collector": yaml.safe_load((DOCKER / "otel-collector.yaml").read_text()),
        "tempo": yaml.safe_load((DOCKER / "tempo.yaml").read_text()),
        "prometheus": yaml.safe_load((DOCKER / "prometheus.yml").read_text()),
        "datasources": yaml.safe_load(
            (GRAFANA / "provisioning/datasources/datasources.yaml").read_text()
        ),
        "providers": yaml.safe_load(
            (GRAFANA / "provisioning/dashboards/dashboards.yaml").read_text()
        ),
        "dashboards": dashboards,
    }


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack()


@pytest.fixture
def bad(stack: Stack) -> Stack:
    """A private deep copy to seed a mistake into."""
    return copy.deepcopy(stack)


# Recorded only where governor limits are configured (agentfleet/governance), which the
# captured run had none of: they are checked as known names, not against that run.
GOVERNANCE_DASHBOARD = "llm-governance.json"


def known_metrics() -> dict[str, str]:
    known = sc.load_metric_list((DATA / "temporal_sdk_metrics.txt").read_text())
    known |= {name: "counter" for name in telemetry_names.FLEET_METRICS}
    known |= {name: "counter" for name in telemetry_names.GOVERNANCE_COUNTERS}
    known |= {name: "gauge" for name in telemetry_names.GOVERNOR_GAUGES}
    return known | REPORT_METRICS


def captured_metrics() -> set[str] | None:
    path = DATA / "captured_metrics.txt"
    return set(sc.load_metric_list(path.read_text())) if path.exists() else None


def ports(s: Stack) -> list[str]:
    return sc.check_ports(
        s["compose"], s["collector"], s["tempo"], s["prometheus"], s["datasources"]
    )


def assert_flags(problems: list[str], *fragments: str) -> None:
    """The check found the seeded mistake, and said which."""
    assert problems, "the seeded mistake was not detected"
    text = "\n".join(problems)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


# ---------------------------------------------------------------- the files exist and parse


def test_every_expected_file_exists_and_parses(stack: Stack) -> None:
    assert sorted(stack["dashboards"]) == sorted(DASHBOARD_FILES)
    assert stack["providers"]["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    for script in ("setup-schema.sh", "setup-namespace.sh"):
        assert (DOCKER / "temporal" / script).read_text().startswith("#!/bin/sh")
    assert sc.load_structured(DOCKER / "temporal/dynamicconfig.yaml")


# ---------------------------------------------------------------- compose


def compose_config(compose: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`compose config` on `compose` as if it were docker/docker-compose.yml.

    Works without a Docker daemon: config only parses, interpolates and
    validates against the Compose schema. Skips when no compose CLI exists.
    """
    if shutil.which("docker") and (
        subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        cmd = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        cmd = ["docker-compose"]
        # docker-compose v1's schema predates the top-level `name` (v2 reads it).
        compose = {k: v for k, v in compose.items() if k != "name"}
    else:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    return subprocess.run(
        [*cmd, "-f", "-", "--project-directory", str(DOCKER), "config", "-q"],
        input=yaml.safe_dump(compose),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_validates_with_compose_cli(stack: Stack) -> None:
    proc = compose_config(stack["compose"])
    assert proc.returncode == 0, proc.stderr


def test_compose_cli_catches_an_invalid_file(bad: Stack) -> None:
    bad["compose"]["services"]["worker"]["depends_on"]["simulator"]["condition"] = "service_ready"
    assert compose_config(bad["compose"]).returncode != 0


def test_compose_structure(stack: Stack) -> None:
    assert sc.check_compose_structure(stack["compose"]) == []


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (lambda c: c["services"].pop("tempo"), "service tempo missing"),
        (lambda c: c["services"]["worker"].update(container_name="w"), "container_name"),
        (lambda c: c["services"]["worker"].update(ports=["9000:9000"]), "publishes host ports"),
        (
            lambda c: c["services"]["grafana"].update(depends_on=["promethues"]),
            "unknown service promethues",
        ),
        (
            lambda c: c["services"]["prometheus"]["command"].remove(
                "--web.enable-remote-write-receiver"
            ),
            "remote-write-receiver",
        ),
        (
            lambda c: c["services"]["temporal"]["environment"].update(
                DYNAMIC_CONFIG_FILE_PATH="/etc/temporal/config/dynamicconfig/docker.yaml"
            ),
            "DYNAMIC_CONFIG_FILE_PATH",
        ),
        (
            lambda c: c["services"]["worker"]["environment"].update(
                TEMPORAL_ADDRESS="localhost:7233"
            ),
            "TEMPORAL_ADDRESS",
        ),
    ],
)
def test_compose_structure_catches(bad: Stack, seed: Callable[[Any], Any], expected: str) -> None:
    seed(bad["compose"])
    assert_flags(sc.check_compose_structure(bad["compose"]), expected)


def test_mounted_files_exist_and_parse(stack: Stack) -> None:
    mounts = list(sc.bind_mounts(stack["compose"]))
    assert len(mounts) >= 8  # the check below must have something to look at
    assert sc.check_mounted_files(stack["compose"], DOCKER) == []


def test_mounted_files_catches_a_missing_file(bad: Stack) -> None:
    bad["compose"]["services"]["tempo"]["volumes"][0] = "./tempo-missing.yaml:/etc/tempo.yaml:ro"
    assert_flags(sc.check_mounted_files(bad["compose"], DOCKER), "tempo-missing.yaml")


def test_mounted_files_catches_a_file_that_does_not_parse(bad: Stack, tmp_path: Path) -> None:
    (tmp_path / "otel-collector.yaml").write_text("receivers: [unclosed\n")
    for name in ("tempo.yaml", "prometheus.yml"):
        shutil.copy(DOCKER / name, tmp_path / name)
    bad["compose"]["services"] = {
        k: v for k, v in bad["compose"]["services"].items() if k in ("otel-collector", "tempo")
    }
    assert_flags(sc.check_mounted_files(bad["compose"], tmp_path), "does not parse")


# ---------------------------------------------------------------- images


def test_images_pinned(stack: Stack) -> None:
    assert sc.check_images_pinned(stack["compose"]) == []
    assert sc.check_dockerfile_pinned(stack["dockerfile"]) == []


@pytest.mark.parametrize(
    "image",
    ["grafana/grafana:latest", "grafana/grafana", "postgres:16", "prom/prometheus:v3", "x:main"],
)
def test_images_pinned_catches(bad: Stack, image: str) -> None:
    bad["compose"]["services"]["grafana"]["image"] = image
    assert_flags(sc.check_images_pinned(bad["compose"]), "service grafana")


@pytest.mark.parametrize(
    "image", ["registry.local:5000/tool:1.2.3", "postgres@sha256:" + "a" * 64, "x:v3.5.0-rc1"]
)
def test_images_pinned_accepts(image: str) -> None:
    assert sc.image_problems(image) == []


@pytest.mark.parametrize("line", ["FROM python", "FROM python:latest", "FROM python:3-slim AS b"])
def test_dockerfile_pinned_catches(line: str) -> None:
    assert_flags(sc.check_dockerfile_pinned(line + "\n"), "Dockerfile FROM")


# ---------------------------------------------------------------- temporal namespace job


def test_namespace_job(stack: Stack) -> None:
    assert sc.check_namespace_job(stack["compose"], SEARCH_ATTRIBUTES) == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("NAMESPACE_RETENTION", "72h", "under 192h"),
        ("NAMESPACE_RETENTION", "7d", "under 192h"),
        ("NAMESPACE_RETENTION", "a week", "not a duration"),
        (
            "SEARCH_ATTRIBUTES",
            "AgentRole=Keyword AgentTier=Keyword RootTaskId=Keyword",
            "AgentDepth",
        ),
        (
            "SEARCH_ATTRIBUTES",
            "AgentRole=Keyword AgentTier=Keyword AgentDepth=Keyword RootTaskId=Keyword",
            "AgentDepth",
        ),
        ("NAMESPACE", "agents", "must be default"),
    ],
)
def test_namespace_job_catches(bad: Stack, key: str, value: str, expected: str) -> None:
    bad["compose"]["services"]["temporal-namespace"]["environment"][key] = value
    assert_flags(sc.check_namespace_job(bad["compose"], SEARCH_ATTRIBUTES), expected)


def test_retention_accepts_days() -> None:
    assert sc.duration_hours("8d") == 192
    assert sc.duration_hours("192h") == 192
    assert sc.duration_hours("1d12h") == 36


# ---------------------------------------------------------------- collector, tempo


def test_collector(stack: Stack) -> None:
    assert sc.check_collector(stack["collector"]) == []


def test_collector_catches_metric_suffixes(bad: Stack) -> None:
    bad["collector"]["exporters"]["prometheusremotewrite"]["add_metric_suffixes"] = True
    assert_flags(sc.check_collector(bad["collector"]), "add_metric_suffixes: false")
    del bad["collector"]["exporters"]["prometheusremotewrite"]["add_metric_suffixes"]
    assert_flags(sc.check_collector(bad["collector"]), "add_metric_suffixes: false")


def test_collector_catches_undefined_component(bad: Stack) -> None:
    bad["collector"]["service"]["pipelines"]["traces"]["exporters"] = ["otlp/jaeger"]
    assert_flags(sc.check_collector(bad["collector"]), "undefined exporters otlp/jaeger")


def test_collector_catches_localhost_receiver(bad: Stack) -> None:
    bad["collector"]["receivers"]["otlp"]["protocols"]["grpc"] = {}
    assert_flags(sc.check_collector(bad["collector"]), "OTLP grpc receiver binds")


def _collector_queue_on_tmpfs(s: Stack) -> None:
    svc = s["compose"]["services"]["otel-collector"]
    svc["volumes"] = [v for v in svc["volumes"] if "otel-collector-queue" not in v]
    svc["tmpfs"] = ["/var/lib/otelcol/file_storage"]


def test_collector_queue_is_persistent(stack: Stack) -> None:
    assert sc.check_collector_queue(stack["collector"], stack["compose"]) == []


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (
            lambda s: s["collector"]["exporters"]["otlp/tempo"]["sending_queue"].pop("storage"),
            "queues spans in memory",
        ),
        (
            lambda s: s["collector"]["service"].update(extensions=[]),
            "not listed in service.extensions",
        ),
        (
            lambda s: s["collector"]["service"]["pipelines"]["traces"]["processors"].append(
                "batch"
            ),
            "processor batch",
        ),
        (
            lambda s: s["compose"]["services"]["otel-collector"]["volumes"].pop(),
            "on no volume of otel-collector",
        ),
        (_collector_queue_on_tmpfs, "tmpfs"),
        (
            lambda s: s["compose"]["services"]["worker"]["environment"].update(
                OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="delta"
            ),
            "TEMPORALITY_PREFERENCE=delta",
        ),
    ],
)
def test_collector_queue_catches(bad: Stack, seed: Callable[[Any], Any], expected: str) -> None:
    seed(bad)
    assert_flags(sc.check_collector_queue(bad["collector"], bad["compose"]), expected)


def test_worker_spool_is_on_a_shared_volume(stack: Stack) -> None:
    assert sc.check_worker_spool(stack["compose"]) == []
    # The spool has its own volume, not only the home's.
    mount = sc._mount_of(sc.volume_mounts(stack["compose"], "worker"), "/data/spool")
    assert mount is not None and mount[:3] == ("volume", "agentfleet-spool", "/data/spool")


def _drop_worker_volumes(c: dict[str, Any]) -> None:
    c["services"]["worker"]["volumes"] = []


def _worker_spool_on_tmpfs(c: dict[str, Any]) -> None:
    c["services"]["worker"]["volumes"].pop(1)
    c["services"]["worker"]["tmpfs"] = "/data/spool"


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (_drop_worker_volumes, "on no volume of worker"),
        (_worker_spool_on_tmpfs, "tmpfs"),
        (
            lambda c: c["services"]["worker"]["volumes"].__setitem__(
                1, "agentfleet-spool:/data/spool:ro"
            ),
            "read-only",
        ),
        (
            lambda c: c["services"]["worker"]["volumes"].__setitem__(1, "/data/spool"),
            "anonymous",
        ),
        (lambda c: c["volumes"].pop("agentfleet-spool"), "not declared"),
        (
            lambda c: c["services"]["worker"]["environment"].update(AGENTFLEET_HOME="data"),
            "absolute path",
        ),
    ],
)
def test_worker_spool_catches(bad: Stack, seed: Callable[[Any], Any], expected: str) -> None:
    seed(bad["compose"])
    assert_flags(sc.check_worker_spool(bad["compose"]), expected)


def test_tempo(stack: Stack) -> None:
    assert sc.check_tempo(stack["tempo"], telemetry_names.SPAN_ATTRIBUTES) == []


def test_tempo_catches(bad: Stack) -> None:
    bad["tempo"]["overrides"]["defaults"]["metrics_generator"]["processors"] = ["local-blocks"]
    bad["tempo"]["metrics_generator"]["processor"]["span_metrics"]["dimensions"] = ["agent.tier"]
    assert_flags(
        sc.check_tempo(bad["tempo"], telemetry_names.SPAN_ATTRIBUTES),
        "service-graphs",
        "span-metrics",
        "agent.tier",
    )


# ---------------------------------------------------------------- datasources


def test_datasources(stack: Stack) -> None:
    assert sc.check_datasources(stack["datasources"]) == []
    assert set(sc.provisioned_uids(stack["datasources"])) == {"prometheus", "tempo"}


def _ds(s: Stack, uid: str) -> dict[str, Any]:
    return next(d for d in s["datasources"]["datasources"] if d["uid"] == uid)


def test_datasources_catch_wrong_uids(bad: Stack) -> None:
    _ds(bad, "tempo")["jsonData"]["serviceMap"]["datasourceUid"] = "prom"
    _ds(bad, "prometheus")["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] = "jaeger"
    assert_flags(sc.check_datasources(bad["datasources"]), "unknown uid prom", "unknown uid jaeger")


def test_datasources_catch_missing_features(bad: Stack) -> None:
    tempo = _ds(bad, "tempo")["jsonData"]
    del tempo["tracesToMetrics"]
    tempo["nodeGraph"]["enabled"] = False
    _ds(bad, "prometheus")["uid"] = "prometheus-main"
    assert_flags(
        sc.check_datasources(bad["datasources"]),
        "tracesToMetrics missing",
        "nodeGraph is not enabled",
        "no datasource with uid prometheus",
    )


# ---------------------------------------------------------------- dashboards: basics, uids


def test_dashboard_basics(stack: Stack) -> None:
    assert sc.check_dashboard_basics(stack["dashboards"]) == []


def test_dashboard_basics_catches(bad: Stack) -> None:
    bad["dashboards"]["fleet-overview.json"]["timezone"] = "browser"
    bad["dashboards"]["temporal-sdk.json"]["uid"] = bad["dashboards"]["agent-traces.json"]["uid"]
    assert_flags(sc.check_dashboard_basics(bad["dashboards"]), "must be 'utc'", "also used by")


def test_dashboard_datasource_uids(stack: Stack) -> None:
    uids = sc.provisioned_uids(stack["datasources"])
    refs = [ref for d in stack["dashboards"].values() for ref in sc.datasource_refs(d)]
    assert {uid for _, uid in refs} == {"prometheus", "tempo"}
    assert sc.check_dashboard_datasources(stack["dashboards"], uids) == []


def test_dashboard_datasource_uids_catch_panel_target_and_variable(bad: Stack) -> None:
    uids = sc.provisioned_uids(bad["datasources"])
    fleet = bad["dashboards"]["fleet-overview.json"]
    panel = next(p for p in sc.iter_panels(fleet) if p.get("targets"))
    panel["datasource"] = {"type": "prometheus", "uid": "prometheus-old"}
    panel["targets"][0]["datasource"] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    fleet["templating"]["list"][0]["datasource"] = {"type": "prometheus", "uid": "prom"}
    assert_flags(
        sc.check_dashboard_datasources(bad["dashboards"], uids),
        "'prometheus-old'",
        "'${DS_PROMETHEUS}'",
        "variable role uses datasource uid 'prom'",
    )


def test_dashboard_uids_fail_if_datasource_uid_changes(bad: Stack) -> None:
    _ds(bad, "tempo")["uid"] = "tempo-1"
    uids = sc.provisioned_uids(bad["datasources"])
    assert_flags(sc.check_dashboard_datasources(bad["dashboards"], uids), "'tempo'")


# ---------------------------------------------------------------- PromQL metric names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (role) (rate(agentfleet_tasks_started{role=~"$role"}[$__rate_interval]))',
            {"agentfleet_tasks_started"},
        ),
        ("sum(rate(a_total[5m])) by (job) / on(job) group_left(x) b", {"a_total", "b"}),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))", {"x_bucket"}),
        ("(sum(a) or vector(0)) - (sum(b) or vector(0))", {"a", "b"}),
        ("sum(increase(c[$__range])) / 1e6", {"c"}),
        ("x offset 1h > bool 0.5", {"x"}),
        ("max_over_time(g[1h:5m]) unless ignoring(le) h", {"g", "h"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("topk(5, sum without (instance) (n2:recorded:rate5m))", {"n2:recorded:rate5m"}),
        ("time() - process_start_time_seconds @ end()", {"process_start_time_seconds"}),
        ('count_values("version", build_info{job="a,b"})', {"build_info"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert sc.promql_metric_names(expr) == names


@pytest.mark.parametrize(
    ("query", "expr"),
    [
        ("label_values(agentfleet_llm_calls, model)", "agentfleet_llm_calls"),
        ({"query": 'label_values(up{job=~"a|b"}, instance)'}, 'up{job=~"a|b"}'),
        ("label_values(model)", None),
        ("query_result(sum(x))", "sum(x)"),
        ("metrics(agentfleet_.*)", None),
    ],
)
def test_templating_promql(query: Any, expr: str | None) -> None:
    got = sc.templating_promql(query)
    assert (got.strip() if got else got) == expr


def test_dashboard_metrics_are_known(stack: Stack) -> None:
    assert sc.check_promql_metrics(stack["dashboards"], known_metrics()) == []


def test_dashboard_metrics_were_captured(stack: Stack) -> None:
    captured = captured_metrics()
    if captured is None:
        pytest.skip("tests/data/captured_metrics.txt not present: no captured worker run yet")
    dashboards = {k: v for k, v in stack["dashboards"].items() if k != GOVERNANCE_DASHBOARD}
    assert sc.check_promql_metrics(dashboards, known_metrics(), captured, NOT_YET_RECORDED) == []


def _replace_expr(dash: dict[str, Any], old: str, new: str) -> None:
    hits = 0
    for panel in sc.iter_panels(dash):
        for target in panel.get("targets") or []:
            if old in target.get("expr", ""):
                target["expr"] = target["expr"].replace(old, new)
                hits += 1
    assert hits, f"{old} is in no expression: the seed would prove nothing"


@pytest.mark.parametrize(
    ("dashboard", "old", "new"),
    [
        ("fleet-overview.json", "agentfleet_tasks_started", "agentfleet_task_started"),
        ("fleet-overview.json", "agentfleet_llm_tokens", "agentfleet_llm_tokens_total"),
        ("temporal-sdk.json", "temporal_sticky_cache_size", "temporal_sticky_cache_size_total"),
        (
            "temporal-sdk.json",
            "temporal_activity_execution_latency_bucket",
            "temporal_activity_execution_latency_milliseconds_bucket",
        ),
        ("weekly-report.json", "agentfleet_audit_discrepancies", "agentfleet_audit_discrepancy"),
    ],
)
def test_dashboard_metrics_catch_misspelling(
    bad: Stack, dashboard: str, old: str, new: str
) -> None:
    _replace_expr(bad["dashboards"][dashboard], old, new)
    assert_flags(
        sc.check_promql_metrics(bad["dashboards"], known_metrics()), f"unknown metric {new}"
    )


def test_dashboard_metrics_catch_counter_queried_as_histogram(bad: Stack) -> None:
    _replace_expr(
        bad["dashboards"]["fleet-overview.json"],
        "agentfleet_llm_calls",
        "agentfleet_llm_calls_count",
    )
    assert_flags(
        sc.check_promql_metrics(bad["dashboards"], known_metrics()), "agentfleet_llm_calls_count"
    )


def test_templating_metrics_are_checked(bad: Stack) -> None:
    var = bad["dashboards"]["temporal-sdk.json"]["templating"]["list"][0]
    var["query"]["query"] = "label_values(temporal_worker_slots_available, task_queue)"
    assert_flags(
        sc.check_promql_metrics(bad["dashboards"], known_metrics()),
        "variable task_queue: unknown metric temporal_worker_slots_available",
    )


def test_captured_list_is_enforced_when_present(stack: Stack) -> None:
    everything = {
        name
        for dash in stack["dashboards"].values()
        for _, expr in sc.promql_exprs(dash)
        for name in sc.promql_metric_names(expr)
    }
    # Captured as instrument names (histograms without _bucket) is enough.
    as_instruments = {n.removesuffix("_bucket") for n in everything}
    assert sc.check_promql_metrics(stack["dashboards"], known_metrics(), as_instruments) == []
    missing = as_instruments - {"temporal_worker_task_slots_used"}
    assert_flags(
        sc.check_promql_metrics(stack["dashboards"], known_metrics(), missing),
        "temporal_worker_task_slots_used was not in the captured run",
    )


def test_uncaptured_counters_are_excused_only_by_name(stack: Stack) -> None:
    dashboards = {k: v for k, v in stack["dashboards"].items() if k != GOVERNANCE_DASHBOARD}
    full = captured_metrics()
    assert full is not None and "agentfleet_tasks_unverified" in full
    # A captured run that never failed a check would not have the counter.
    captured = full - {"agentfleet_tasks_unverified"}
    excuse = {"agentfleet_tasks_unverified": "incremented only when an agent fails its check"}
    assert_flags(
        sc.check_promql_metrics(dashboards, known_metrics(), captured),
        "agentfleet_tasks_unverified was not in the captured run",
    )
    # The excuse covers that counter, not another name missing from the run.
    missing = captured - {"agentfleet_tasks_started"}
    problems = sc.check_promql_metrics(dashboards, known_metrics(), missing, excuse)
    assert_flags(problems, "agentfleet_tasks_started was not in the captured run")
    assert not any("agentfleet_tasks_unverified" in p for p in problems)
    # Only a known counter may be excused, and with a reason.
    assert_flags(
        sc.check_promql_metrics(
            dashboards,
            known_metrics(),
            captured,
            {**excuse, "agentfleet_audit_discrepancies": "a gauge"},
        ),
        "agentfleet_audit_discrepancies is excused from the captured run but is not a known "
        "counter (gauge)",
    )
    assert_flags(
        sc.check_promql_metrics(
            dashboards, known_metrics(), captured, {"agentfleet_tasks_unverified": " "}
        ),
        "without a reason",
    )
    # Once a captured run has it, the excuse changes nothing.
    assert sc.check_promql_metrics(dashboards, known_metrics(), full, excuse) == []


def test_verified_completion_on_every_dashboard(stack: Stack) -> None:
    assert sc.check_verified_completion(stack["dashboards"]) == []


def _drop_targets(dash: dict[str, Any], metric: str) -> None:
    hits = 0
    for panel in sc.iter_panels(dash):
        targets = panel.get("targets") or []
        kept = [t for t in targets if sc.promql_metric_names(str(t.get("expr", ""))) != {metric}]
        hits += len(targets) - len(kept)
        panel["targets"] = kept
    assert hits, f"no query of {metric} alone: the seed would prove nothing"


@pytest.mark.parametrize("dashboard", ["fleet-overview.json", "weekly-report.json"])
def test_verified_completion_catches_unverified_left_out(bad: Stack, dashboard: str) -> None:
    _drop_targets(bad["dashboards"][dashboard], "agentfleet_tasks_unverified")
    assert_flags(
        sc.check_verified_completion(bad["dashboards"]),
        f"{dashboard}: shows agentfleet_tasks_completed but not agentfleet_tasks_unverified apart",
    )


def test_verified_completion_catches_a_rate_that_ignores_unverified(bad: Stack) -> None:
    dash = bad["dashboards"]["fleet-overview.json"]
    rate = next(p for p in sc.iter_panels(dash) if p.get("title") == "Completion rate (verified)")
    rate["targets"][0]["expr"] = (
        'sum(increase(agentfleet_tasks_completed{role=~"$role"}[$__range])) / '
        '(sum(increase(agentfleet_tasks_completed{role=~"$role"}[$__range])) + '
        '(sum(increase(agentfleet_tasks_failed{role=~"$role"}[$__range])) or vector(0)))'
    )
    assert_flags(
        sc.check_verified_completion(bad["dashboards"]),
        "panel 'Completion rate (verified)' A: combines completed and failed tasks but leaves "
        "out agentfleet_tasks_unverified",
    )


def test_verified_completion_catches_a_stat_not_saying_verified(bad: Stack) -> None:
    dash = bad["dashboards"]["weekly-report.json"]
    panel = next(
        p for p in sc.iter_panels(dash) if p.get("title", "").startswith("Tasks completed")
    )
    panel["title"] = "Tasks completed, 7 d"
    assert_flags(
        sc.check_verified_completion(bad["dashboards"]),
        "stat 'Tasks completed, 7 d' shows completed tasks without saying they are verified",
    )


def test_dashboards_cover_the_issue(stack: Stack) -> None:
    """The panels the issue asks for query what they should."""

    def names(dashboard: str) -> set[str]:
        dash = stack["dashboards"][dashboard]
        return {n for _, e in sc.promql_exprs(dash) for n in sc.promql_metric_names(e)}

    fleet = names("fleet-overview.json")
    assert fleet == set(telemetry_names.FLEET_METRICS)
    # 429s, breaker state and trips, the governor's queue depth and leases (and the
    # model picker, from the LLM calls).
    governance = names(GOVERNANCE_DASHBOARD)
    assert governance == set(telemetry_names.GOVERNANCE_COUNTERS) | set(
        telemetry_names.GOVERNOR_GAUGES
    ) | {telemetry_names.LLM_CALLS}
    sdk = names("temporal-sdk.json")
    for required in (
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_workflow_task_execution_latency_bucket",
        "temporal_activity_execution_latency_bucket",
        "temporal_sticky_cache_size",
        "temporal_sticky_cache_hit",
        "temporal_sticky_cache_miss",
        "temporal_worker_task_slots_available",
        "temporal_worker_task_slots_used",
    ):
        assert required in sdk
    weekly = names("weekly-report.json")
    assert "agentfleet_audit_discrepancies" in weekly
    assert {"agentfleet_tasks_completed", "agentfleet_tasks_unverified"} <= weekly


# ---------------------------------------------------------------- TraceQL attributes


@pytest.mark.parametrize(
    ("query", "attrs"),
    [
        ('{ span.agentfleet.tier = "$tier" }', {("span", "agentfleet.tier")}),
        (
            '{ .gen_ai.agent.name =~ "span.not.this" && resource.service.name = "w" }',
            {("", "gen_ai.agent.name"), ("resource", "service.name")},
        ),
        (
            "{ status = error && duration > 1.5s } | select(span.agentfleet.root_id, span:name)",
            {("span", "agentfleet.root_id")},
        ),
        ("{ span.agentfleet.attempt > 1 } | count() > 2", {("span", "agentfleet.attempt")}),
        ("$trace_id", set()),
    ],
)
def test_traceql_attributes(query: str, attrs: set[tuple[str, str]]) -> None:
    assert sc.traceql_attributes(query) == attrs


def test_traceql_attributes_are_known(stack: Stack) -> None:
    queries = [q for d in stack["dashboards"].values() for _, q in sc.traceql_queries(d)]
    assert len(queries) >= 5
    used = {a for q in queries for a in sc.traceql_attributes(q)}
    for attr in ("agentfleet.tier", "agentfleet.root_id", "gen_ai.agent.name"):
        assert ("span", attr) in used
    assert sc.check_traceql_attributes(stack["dashboards"], telemetry_names.SPAN_ATTRIBUTES) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("span.agentfleet.tier", "span.agentfleet.teir", "span.agentfleet.teir"),
        ("span.gen_ai.agent.id", ".gen_ai.agent.uid", ".gen_ai.agent.uid"),
        ("span.agentfleet.root_id", "resource.agentfleet.root_id", "resource.agentfleet.root_id"),
    ],
)
def test_traceql_attributes_catch_unknown(bad: Stack, old: str, new: str, expected: str) -> None:
    dash = bad["dashboards"]["agent-traces.json"]
    hits = 0
    for panel in sc.iter_panels(dash):
        for target in panel.get("targets") or []:
            if old in target.get("query", ""):
                target["query"] = target["query"].replace(old, new, 1)
                hits += 1
    assert hits
    assert_flags(
        sc.check_traceql_attributes(bad["dashboards"], telemetry_names.SPAN_ATTRIBUTES),
        f"unknown attribute {expected}",
    )


def test_trace_tables_link_to_temporal_ui(stack: Stack) -> None:
    dash = stack["dashboards"]["agent-traces.json"]
    urls = [
        link["url"]
        for panel in sc.iter_panels(dash)
        for override in (panel.get("fieldConfig") or {}).get("overrides") or []
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert urls
    assert all(
        u == "http://localhost:8080/namespaces/default/workflows/${__value.raw}" for u in urls
    )


# ---------------------------------------------------------------- weekly report


def test_weekly_report_thresholds(stack: Stack) -> None:
    assert sc.check_weekly_thresholds(stack["dashboards"]["weekly-report.json"]) == []


@pytest.mark.parametrize(
    "steps",
    [
        [{"color": "green", "value": None}],
        [{"color": "red", "value": None}],
        [{"color": "green", "value": None}, {"color": "red", "value": 5}],
        [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
    ],
)
def test_weekly_report_thresholds_catch(bad: Stack, steps: list[dict[str, Any]]) -> None:
    dash = bad["dashboards"]["weekly-report.json"]
    panel = next(p for p in sc.iter_panels(dash) if p["type"] == "stat")
    panel["fieldConfig"]["defaults"]["thresholds"]["steps"] = steps
    assert sc.check_weekly_thresholds(dash) != []


# ---------------------------------------------------------------- ports


def test_ports_agree(stack: Stack) -> None:
    assert ports(stack) == []


def test_ports_catch_tempo_http_port(bad: Stack) -> None:
    bad["tempo"]["server"]["http_listen_port"] = 3201
    assert_flags(ports(bad), "datasource tempo: http://tempo:3200", "compose publishes tempo:3200")


def test_ports_catch_collector_receiver_port(bad: Stack) -> None:
    bad["collector"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "0.0.0.0:4319"
    assert_flags(ports(bad), "OTEL_EXPORTER_OTLP_ENDPOINT", "compose publishes otel-collector:4317")


def test_ports_catch_worker_sending_grpc_to_http_port(bad: Stack) -> None:
    env = bad["compose"]["services"]["worker"]["environment"]
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://otel-collector:4318"
    assert_flags(ports(bad), "not the collector's OTLP gRPC port 4317")


def test_ports_catch_remote_write_to_wrong_port_or_path(bad: Stack) -> None:
    exporter = bad["collector"]["exporters"]["prometheusremotewrite"]
    exporter["endpoint"] = "http://prometheus:9091/api/v1/write"
    bad["tempo"]["metrics_generator"]["storage"]["remote_write"][0]["url"] = (
        "http://prometheus:9090/api/v1/push"
    )
    assert_flags(ports(bad), "prometheus:9091", "should have path /api/v1/write")


def test_ports_catch_prometheus_listen_address(bad: Stack) -> None:
    bad["compose"]["services"]["prometheus"]["command"].append("--web.listen-address=:9091")
    assert_flags(ports(bad), "datasource prometheus", "compose publishes prometheus:9090")


def test_ports_catch_collector_exporting_to_tempo_http(bad: Stack) -> None:
    bad["collector"]["exporters"]["otlp/tempo"]["endpoint"] = "tempo:4318"
    assert_flags(ports(bad), "tempo's OTLP gRPC receiver is on 4317")


def test_ports_catch_unknown_host_and_scrape_port(bad: Stack) -> None:
    _ds(bad, "tempo")["url"] = "http://tempo-query:3200"
    bad["prometheus"]["scrape_configs"][1]["static_configs"][0]["targets"] = ["otel-collector:8889"]
    assert_flags(ports(bad), "not a compose service", "otel-collector:8889")


# ---------------------------------------------------------------- worker versioning


def dynamic_config() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "temporal/dynamicconfig.yaml").read_text())


def test_versioning(stack: Stack) -> None:
    assert sc.check_versioning(stack["compose"], dynamic_config(), VERSIONING_DYNAMIC_CONFIG) == []


def test_compose_server_waits_for_a_busy_parent_as_the_dev_server_does() -> None:
    """Both servers give a history task the same time for a fan-out parent's lock."""
    config = dynamic_config()
    command = DevServer(db_file=None).command()
    for key, raw in FANOUT_DYNAMIC_CONFIG.items():
        assert f"{key}={raw}" in command
        assert config[key] == [{"value": json.loads(raw), "constraints": {}}], key


@pytest.mark.parametrize(
    ("flag", "value", "env", "expected"),
    [
        ("system.enableDeploymentVersions", None, {}, "system.enableDeploymentVersions"),
        ("frontend.workerVersioningWorkflowAPIs", False, {}, "workerVersioningWorkflowAPIs"),
        (None, None, {"AGENTFLEET_DEPLOYMENT": ""}, "AGENTFLEET_DEPLOYMENT"),
        (None, None, {"AGENTFLEET_VERSIONING": "off"}, "AGENTFLEET_VERSIONING"),
    ],
)
def test_versioning_catches(
    bad: Stack, flag: str | None, value: Any, env: dict[str, str], expected: str
) -> None:
    config = dynamic_config()
    if flag is not None:
        if value is None:
            del config[flag]
        else:
            config[flag] = [{"value": value, "constraints": {}}]
    bad["compose"]["services"]["worker"]["environment"].update(env)
    assert_flags(sc.check_versioning(bad["compose"], config, VERSIONING_DYNAMIC_CONFIG), expected)
