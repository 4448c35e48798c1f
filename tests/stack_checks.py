"""Static checks of the production stack: docker/, grafana/.

Every check takes already-parsed content and returns a list of problems, empty
when the content is fine, so a test can seed one mistake into a copy and watch
the matching check fail. Nothing here starts a container or talks to a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Problems = list[str]
Config = Mapping[str, Any]

# Compose service names the checks and the README rely on.
COLLECTOR = "otel-collector"
TEMPO = "tempo"
PROMETHEUS = "prometheus"
GRAFANA = "grafana"
TEMPORAL = "temporal"
WORKER = "worker"
REQUIRED_SERVICES = (
    "postgresql",
    "temporal-schema",
    TEMPORAL,
    "temporal-namespace",
    "temporal-ui",
    COLLECTOR,
    TEMPO,
    PROMETHEUS,
    GRAFANA,
    WORKER,
)

# Ports of services whose listeners no config file in this repo describes:
# the images' defaults, unless the compose environment overrides them.
DEFAULT_PORTS: dict[str, tuple[int, ...]] = {
    "postgresql": (5432,),
    TEMPORAL: (7233,),
    "temporal-ui": (8080,),
    GRAFANA: (3000,),
}
PORT_ENV = {"temporal-ui": "TEMPORAL_UI_PORT", GRAFANA: "GF_SERVER_HTTP_PORT"}
REMOTE_WRITE_PATH = "/api/v1/write"
BUILTIN_DATASOURCES = {"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --", "dashboard"}
RESOURCE_ATTRIBUTES = frozenset({"service.name", "service.namespace", "service.instance.id"})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


# ---------------------------------------------------------------- loading


def load_structured(path: Path) -> Any:
    """Parse a YAML or JSON file; raises on a syntax error."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # only the loaders need PyYAML; the checks work on plain data

    return yaml.safe_load(text)


def load_metric_list(text: str) -> dict[str, str]:
    """`name [kind]` per line, '#' comments; kind defaults to "counter"."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, *rest = line.split()
            out[name] = rest[0] if rest else "counter"
    return out


# ---------------------------------------------------------------- compose helpers


def services(compose: Config) -> dict[str, dict[str, Any]]:
    svcs = compose.get("services")
    return dict(svcs) if isinstance(svcs, Mapping) else {}


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    out: dict[str, str] = {}
    for item in env:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def command_args(service: Mapping[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def depends_on(service: Mapping[str, Any]) -> list[str]:
    deps = service.get("depends_on") or []
    return list(deps.keys()) if isinstance(deps, Mapping) else [str(d) for d in deps]


def bind_mounts(compose: Config) -> Iterator[tuple[str, str, str]]:
    """(service, source, target) of every host-path mount; named volumes skipped."""
    for name, svc in services(compose).items():
        for vol in svc.get("volumes") or []:
            if isinstance(vol, Mapping):
                if vol.get("type", "bind") != "bind":
                    continue
                source, target = str(vol.get("source", "")), str(vol.get("target", ""))
            else:
                parts = str(vol).split(":")
                if len(parts) < 2:
                    continue
                source, target = parts[0], parts[1]
            if source.startswith((".", "/", "~")):
                yield name, source, target


def published_container_ports(service: Mapping[str, Any]) -> list[int]:
    ports: list[int] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, Mapping):
            ports.append(int(entry["target"]))
        else:
            container = str(entry).rsplit(":", 1)[-1].split("/", 1)[0]
            ports.append(int(container.split("-", 1)[0]))
    return ports


# ---------------------------------------------------------------- images

_TAG_VERSION = re.compile(r"\d+\.\d+")


def image_problems(image: str) -> Problems:
    """An image must name an exact release: a digest, or a tag with major.minor."""
    if "@sha256:" in image:
        return []
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return [f"{image}: no tag, so it floats to latest"]
    tag = last.split(":", 1)[1]
    if tag.lower() == "latest":
        return [f"{image}: 'latest' is not a version"]
    if not re.search(r"\d", tag) or not _TAG_VERSION.search(tag):
        return [f"{image}: tag {tag!r} is not an exact version (floating or named)"]
    return []


def check_images_pinned(compose: Config) -> Problems:
    problems: Problems = []
    for name, svc in services(compose).items():
        image = svc.get("image")
        if image is None:
            if "build" not in svc:
                problems.append(f"service {name}: neither image nor build")
            continue
        problems += [f"service {name}: {p}" for p in image_problems(str(image))]
    return problems


def check_dockerfile_pinned(text: str) -> Problems:
    problems: Problems = []
    stages: set[str] = set()
    froms = 0
    for line in text.splitlines():
        m = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if not m:
            continue
        froms += 1
        image, alias = m.group(1), m.group(2)
        if image not in stages:
            problems += [f"Dockerfile FROM {p}" for p in image_problems(image)]
        if alias:
            stages.add(alias)
    if not froms:
        problems.append("Dockerfile has no FROM")
    return problems


# ---------------------------------------------------------------- compose structure


def check_compose_structure(compose: Config) -> Problems:
    svcs = services(compose)
    problems: Problems = [f"service {s} missing" for s in REQUIRED_SERVICES if s not in svcs]
    for name, svc in svcs.items():
        for dep in depends_on(svc):
            if dep not in svcs:
                problems.append(f"service {name} depends on unknown service {dep}")
    worker = svcs.get(WORKER)
    if worker is not None:
        build = worker.get("build")
        dockerfile = build.get("dockerfile") if isinstance(build, Mapping) else None
        if dockerfile != "docker/Dockerfile":
            problems.append("worker must be built from docker/Dockerfile")
        if "container_name" in worker:
            problems.append("worker has a container_name: --scale worker=N would collide")
        if worker.get("ports"):
            problems.append("worker publishes host ports: --scale worker=N would collide")
        env = environment(worker)
        if env.get("TEMPORAL_ADDRESS") != f"{TEMPORAL}:7233":
            problems.append(f"worker TEMPORAL_ADDRESS must be {TEMPORAL}:7233")
        if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").startswith(f"http://{COLLECTOR}:"):
            problems.append(f"worker OTEL_EXPORTER_OTLP_ENDPOINT must point at {COLLECTOR}")
        if command_args(worker)[-2:] != ["python", "worker.py"]:
            problems.append("worker must run `python worker.py`")
    prom = svcs.get(PROMETHEUS)
    if prom is not None:
        args = command_args(prom)
        for flag in ("--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"):
            if flag not in args:
                problems.append(f"prometheus is missing {flag}")
    grafana = svcs.get(GRAFANA)
    if grafana is not None:
        sources = {src.rstrip("/") for n, src, _ in bind_mounts(compose) if n == GRAFANA}
        for needed in ("../grafana/provisioning", "../grafana/dashboards"):
            if needed not in sources:
                problems.append(f"grafana does not mount {needed}")
    temporal = svcs.get(TEMPORAL)
    if temporal is not None:
        image = str(temporal.get("image", ""))
        if not image.startswith(("temporalio/server:", "temporalio/auto-setup:")):
            problems.append("temporal must run temporalio/server (or auto-setup)")
        path = environment(temporal).get("DYNAMIC_CONFIG_FILE_PATH", "")
        targets = {
            tgt: src
            for n, src, tgt in bind_mounts(compose)
            if n == TEMPORAL and src.endswith("yaml")
        }
        if not path or targets.get(path) != "./temporal/dynamicconfig.yaml":
            problems.append(
                "temporal must mount ./temporal/dynamicconfig.yaml at DYNAMIC_CONFIG_FILE_PATH"
            )
    return problems


def check_mounted_files(compose: Config, compose_dir: Path) -> Problems:
    """Every host path a service mounts exists; each YAML/JSON file in it parses."""
    problems: Problems = []
    for name, source, _ in bind_mounts(compose):
        path = (compose_dir / source).resolve()
        if not path.exists():
            problems.append(f"service {name} mounts {source}, which does not exist")
            continue
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            if f.suffix in (".yaml", ".yml", ".json"):
                try:
                    load_structured(f)
                except Exception as err:  # any parser error is the finding
                    problems.append(f"service {name}: {f.name} does not parse: {err}")
    return problems


# ---------------------------------------------------------------- temporal namespace job

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_HOURS = {"d": 24.0, "h": 1.0, "m": 1 / 60, "s": 1 / 3600}


def duration_hours(text: str) -> float | None:
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _HOURS[u] for n, u in parts)


def check_namespace_job(
    compose: Config, search_attributes: Mapping[str, str], min_retention_hours: float = 192
) -> Problems:
    jobs = [
        (name, environment(svc))
        for name, svc in services(compose).items()
        if "SEARCH_ATTRIBUTES" in environment(svc)
    ]
    if len(jobs) != 1:
        return [f"expected one service setting SEARCH_ATTRIBUTES, found {len(jobs)}"]
    name, env = jobs[0]
    problems: Problems = []
    if env.get("NAMESPACE", "default") != "default":
        problems.append(f"{name}: NAMESPACE must be default")
    hours = duration_hours(env.get("NAMESPACE_RETENTION", ""))
    if hours is None:
        problems.append(f"{name}: NAMESPACE_RETENTION is not a duration like 192h or 8d")
    elif hours < min_retention_hours:
        problems.append(f"{name}: retention {hours:g}h is under {min_retention_hours:g}h")
    declared: dict[str, str] = {}
    for pair in env["SEARCH_ATTRIBUTES"].split():
        attr, _, kind = pair.partition("=")
        declared[attr] = kind
    if declared != dict(search_attributes):
        problems.append(f"{name}: SEARCH_ATTRIBUTES {declared} != {dict(search_attributes)}")
    return problems


# ---------------------------------------------------------------- collector, tempo


def _endpoint_host_port(endpoint: str, default_port: int | None = None) -> tuple[str, int | None]:
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, default_port)
        return parts.hostname or "", port
    host, sep, digits = endpoint.rpartition(":")
    if not sep:
        return endpoint, default_port
    return host, int(digits) if digits.isdigit() else default_port


def otlp_receiver_ports(receivers: Any) -> dict[str, int]:
    """{"grpc": port, "http": port} of the `otlp` receiver in a receivers block."""
    out: dict[str, int] = {}
    if not isinstance(receivers, Mapping):
        return out
    protocols = (receivers.get("otlp") or {}).get("protocols") or {}
    for proto, default in (("grpc", 4317), ("http", 4318)):
        if proto in protocols:
            endpoint = str((protocols[proto] or {}).get("endpoint", f":{default}"))
            out[proto] = _endpoint_host_port(endpoint, default)[1] or default
    return out


def _check_otlp_binds(where: str, receivers: Any) -> Problems:
    problems: Problems = []
    protocols = ((receivers or {}).get("otlp") or {}).get("protocols") or {}
    for proto in ("grpc", "http"):
        if proto not in protocols:
            problems.append(f"{where}: OTLP {proto} receiver missing")
            continue
        # No endpoint means the component's default, which is localhost.
        endpoint = (protocols[proto] or {}).get("endpoint")
        host = _endpoint_host_port(str(endpoint))[0] if endpoint else "localhost"
        if host not in ("0.0.0.0", "", "[::]"):
            problems.append(
                f"{where}: OTLP {proto} receiver binds {endpoint or 'the localhost default'}, "
                "unreachable from other containers"
            )
    return problems


def check_collector(config: Config) -> Problems:
    problems = _check_otlp_binds("collector", config.get("receivers"))
    pipelines = ((config.get("service") or {}).get("pipelines")) or {}
    for kind in ("traces", "metrics"):
        if kind not in pipelines:
            problems.append(f"collector has no {kind} pipeline")
    for pname, pipe in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            defined = config.get(section) or {}
            for comp in (pipe or {}).get(section) or []:
                if comp not in defined:
                    problems.append(f"collector pipeline {pname} uses undefined {section} {comp}")
    exporters = config.get("exporters") or {}
    for comp in ((pipelines.get("metrics") or {}).get("exporters")) or []:
        if str(comp).split("/", 1)[0] != "prometheusremotewrite":
            continue
        cfg = exporters.get(comp) or {}
        strategy = str(cfg.get("translation_strategy", ""))
        keeps_names = cfg.get("add_metric_suffixes") is False or "WithoutSuffixes" in strategy
        if not keeps_names:
            problems.append(
                f"collector exporter {comp} adds _total/unit suffixes: "
                "set add_metric_suffixes: false"
            )
    return problems


def check_tempo(config: Config, span_attributes: Iterable[str]) -> Problems:
    problems = _check_otlp_binds("tempo", (config.get("distributor") or {}).get("receivers"))
    gen = config.get("metrics_generator") or {}
    if not ((gen.get("storage") or {}).get("remote_write")):
        problems.append("tempo metrics_generator has no remote_write")
    overrides = (config.get("overrides") or {}).get("defaults") or {}
    processors = (overrides.get("metrics_generator") or {}).get("processors") or []
    for needed in ("service-graphs", "span-metrics"):
        if needed not in processors:
            problems.append(f"tempo metrics-generator processor {needed} is not enabled")
    known = set(span_attributes)
    for proc in ("span_metrics", "service_graphs"):
        for dim in ((gen.get("processor") or {}).get(proc) or {}).get("dimensions") or []:
            if dim not in known:
                problems.append(f"tempo {proc} dimension {dim} is not an agentfleet span attribute")
    return problems


# ---------------------------------------------------------------- datasources


def provisioned_uids(datasources: Config) -> dict[str, dict[str, Any]]:
    return {str(d.get("uid")): dict(d) for d in datasources.get("datasources") or []}


def check_datasources(datasources: Config) -> Problems:
    by_uid = provisioned_uids(datasources)
    problems: Problems = []
    for uid, kind in (("prometheus", "prometheus"), ("tempo", "tempo")):
        ds = by_uid.get(uid)
        if ds is None:
            problems.append(f"no datasource with uid {uid}")
        elif ds.get("type") != kind:
            problems.append(f"datasource {uid} has type {ds.get('type')}, expected {kind}")
    entries = datasources.get("datasources") or []
    if len(by_uid) != len(entries):
        problems.append("datasource uids are not unique (or one is missing)")
    for uid, ds in by_uid.items():
        data = ds.get("jsonData") or {}
        refs: list[tuple[str, Any]] = []
        if ds.get("type") == "tempo":
            for key in ("tracesToMetrics", "serviceMap"):
                if key not in data:
                    problems.append(f"datasource {uid}: jsonData.{key} missing")
                refs.append((key, (data.get(key) or {}).get("datasourceUid")))
            if not (data.get("nodeGraph") or {}).get("enabled"):
                problems.append(f"datasource {uid}: nodeGraph is not enabled")
        if ds.get("type") == "prometheus":
            dests = data.get("exemplarTraceIdDestinations") or []
            if not dests:
                problems.append(f"datasource {uid}: no exemplarTraceIdDestinations")
            refs += [("exemplarTraceIdDestinations", d.get("datasourceUid")) for d in dests]
        for key, ref in refs:
            if ref is not None and ref not in by_uid:
                problems.append(f"datasource {uid}: {key} refers to unknown uid {ref}")
    return problems


# ---------------------------------------------------------------- dashboards


def iter_panels(dashboard: Config) -> Iterator[dict[str, Any]]:
    def walk(panels: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for p in panels or []:
            yield p
            yield from walk(p.get("panels") or [])

    yield from walk(dashboard.get("panels") or [])


def _ds_uid(ds: Any) -> str | None:
    if ds is None:
        return None
    if isinstance(ds, Mapping):
        uid = ds.get("uid")
        return None if uid is None else str(uid)
    return str(ds)


def _ds_kind(ds: Any, by_uid: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
    if isinstance(ds, Mapping) and ds.get("type"):
        return str(ds["type"])
    uid = _ds_uid(ds)
    if uid is not None and by_uid and uid in by_uid:
        return str(by_uid[uid].get("type"))
    return uid  # dashboards here use the uid as the type name ("prometheus", "tempo")


def datasource_refs(dashboard: Config) -> Iterator[tuple[str, str]]:
    """(where, uid) of every datasource a panel, target or variable names."""
    for panel in iter_panels(dashboard):
        where = f"panel {panel.get('title', panel.get('id'))!r}"
        uid = _ds_uid(panel.get("datasource"))
        if uid is not None:
            yield where, uid
        for target in panel.get("targets") or []:
            uid = _ds_uid(target.get("datasource"))
            if uid is not None:
                yield f"{where} target {target.get('refId')}", uid
    for var in (dashboard.get("templating") or {}).get("list") or []:
        uid = _ds_uid(var.get("datasource"))
        if uid is not None:
            yield f"variable {var.get('name')}", uid
    for ann in (dashboard.get("annotations") or {}).get("list") or []:
        uid = _ds_uid(ann.get("datasource"))
        if uid is not None:
            yield f"annotation {ann.get('name')}", uid


def check_dashboard_datasources(dashboards: Mapping[str, Config], uids: Iterable[str]) -> Problems:
    known = set(uids) | BUILTIN_DATASOURCES
    return [
        f"{name}: {where} uses datasource uid {uid!r}, which is not provisioned"
        for name, dash in dashboards.items()
        for where, uid in datasource_refs(dash)
        if uid not in known
    ]


def check_dashboard_basics(dashboards: Mapping[str, Config]) -> Problems:
    problems: Problems = []
    seen: dict[str, str] = {}
    for name, dash in dashboards.items():
        if dash.get("timezone") != "utc":
            problems.append(f"{name}: timezone is {dash.get('timezone')!r}, must be 'utc'")
        uid = str(dash.get("uid") or "")
        if not uid:
            problems.append(f"{name}: no uid")
        elif uid in seen:
            problems.append(f"{name}: uid {uid} also used by {seen[uid]}")
        seen[uid] = name
        ids = [p.get("id") for p in iter_panels(dash)]
        if len(ids) != len(set(ids)) or None in ids:
            problems.append(f"{name}: panel ids missing or not unique")
    return problems


# ---------------------------------------------------------------- PromQL

_PROMQL_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_OFFSET_AT = re.compile(r"\boffset\s+-?[\w.]+|@\s*(?:start\(\)|end\(\)|[\d.]+)", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?<![\w.:])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*)(?![\w])"
)
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_PROMQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
    }
)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects.

    Strips string literals, Grafana variables, label matchers, range and
    subquery brackets, by/without/on/ignoring/group_* label lists, offsets and
    numbers (durations included); of the identifiers left, those followed by
    "(" are functions or aggregations and keywords are operators, and the rest
    are metric names.
    """
    text = _PROMQL_STRING.sub(" ", expr)
    text = _GRAFANA_VAR.sub(" ", text)
    text = _BRACES.sub(" ", text)
    while _BRACKETS.search(text):
        text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET_AT.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for m in _IDENT.finditer(text):
        word = m.group(0)
        if word.lower() in _PROMQL_KEYWORDS or text[m.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def _split_top_level_comma(args: str) -> list[str]:
    depth, start, out = 0, 0, []
    for i, ch in enumerate(args):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(args[start:i])
            start = i + 1
    out.append(args[start:])
    return out


def templating_promql(query: Any) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query, if it has any."""
    if isinstance(query, Mapping):
        query = query.get("query")
    if not query:
        return None
    q = str(query).strip()
    m = re.fullmatch(r"(\w+)\s*\((.*)\)", q, re.DOTALL)
    if m is None:
        return q
    func, args = m.group(1), m.group(2)
    if func == "label_values":
        parts = _split_top_level_comma(args)
        return parts[0] if len(parts) > 1 else None
    if func == "query_result":
        return args
    if func in ("metrics", "label_names"):
        return None
    return q


def promql_exprs(dashboard: Config) -> Iterator[tuple[str, str]]:
    """(where, expr) of every Prometheus query: panel targets and variables."""
    for panel in iter_panels(dashboard):
        panel_kind = _ds_kind(panel.get("datasource"))
        for target in panel.get("targets") or []:
            kind = _ds_kind(target.get("datasource")) or panel_kind
            if kind == "prometheus" and "expr" in target:
                yield f"panel {panel.get('title')!r} {target.get('refId')}", str(target["expr"])
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") == "query" and _ds_kind(var.get("datasource")) == "prometheus":
            expr = templating_promql(var.get("query"))
            if expr:
                yield f"variable {var.get('name')}", expr


def _metric_base(name: str, kinds: Mapping[str, str]) -> str | None:
    if name in kinds:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and kinds.get(base) == "histogram":
            return base
    return None


def _captured(name: str, captured: set[str]) -> bool:
    if name in captured:
        return True
    return any(name.endswith(s) and name[: -len(s)] in captured for s in HISTOGRAM_SUFFIXES)


def check_promql_metrics(
    dashboards: Mapping[str, Config],
    known: Mapping[str, str],
    captured: set[str] | None = None,
    not_yet_recorded: Mapping[str, str] | None = None,
) -> Problems:
    """Each metric a dashboard queries is known (name -> kind), and captured if given.

    Histograms may be queried as <name>_bucket/_sum/_count; nothing else may
    carry a suffix, which is how a `_total` added by an exporter is caught.

    A counter reaches the exporter only once something increments it, so a
    captured run that never had the occasion (no agent failed its completion
    check) cannot list it. `not_yet_recorded` names such counters, each with
    the reason; only known counters may be excused, and only from the
    captured list, never from being known.
    """
    problems: Problems = []
    excused = dict(not_yet_recorded or {})
    for name, why in excused.items():
        if known.get(name) != "counter":
            problems.append(
                f"{name} is excused from the captured run but is not a known counter "
                f"({known.get(name) or 'unknown'}): only a counter is absent until incremented"
            )
        elif not why.strip():
            problems.append(f"{name} is excused from the captured run without a reason")
    for dname, dash in dashboards.items():
        for where, expr in promql_exprs(dash):
            names = promql_metric_names(expr)
            if not names:
                problems.append(f"{dname}: {where}: no metric in {expr!r}")
            for metric in sorted(names):
                if _metric_base(metric, known) is None:
                    problems.append(f"{dname}: {where}: unknown metric {metric}")
                elif (
                    captured is not None
                    and not _captured(metric, captured)
                    and not (metric in excused and known.get(metric) == "counter")
                ):
                    problems.append(f"{dname}: {where}: {metric} was not in the captured run")
    return problems


# ---------------------------------------------------------------- verified completion

TASKS_COMPLETED = "agentfleet_tasks_completed"
TASKS_FAILED = "agentfleet_tasks_failed"
TASKS_UNVERIFIED = "agentfleet_tasks_unverified"


def check_verified_completion(dashboards: Mapping[str, Config]) -> Problems:
    """Completion means verified work (issue #13), on every dashboard.

    * A dashboard that shows completed tasks also shows unverified ones, in a
      query of their own (not folded into another number).
    * A query that combines completed and failed tasks (a completion rate,
      tasks still running) counts unverified ones too: an unverified task is
      finished, and neither completed nor failed.
    * A stat showing completed tasks says "verified" in its title.
    """
    problems: Problems = []
    for dname, dash in dashboards.items():
        apart = False
        shows_completed = False
        for where, expr in promql_exprs(dash):
            names = promql_metric_names(expr)
            shows_completed |= TASKS_COMPLETED in names
            apart |= TASKS_UNVERIFIED in names and TASKS_COMPLETED not in names
            if {TASKS_COMPLETED, TASKS_FAILED} <= names and TASKS_UNVERIFIED not in names:
                problems.append(
                    f"{dname}: {where}: combines completed and failed tasks but leaves out "
                    f"{TASKS_UNVERIFIED}"
                )
        if shows_completed and not apart:
            problems.append(f"{dname}: shows {TASKS_COMPLETED} but not {TASKS_UNVERIFIED} apart")
        for panel in iter_panels(dash):
            if panel.get("type") != "stat":
                continue
            exprs = [str(t.get("expr", "")) for t in panel.get("targets") or []]
            if any(promql_metric_names(e) == {TASKS_COMPLETED} for e in exprs) and (
                "verified" not in str(panel.get("title", "")).lower()
            ):
                problems.append(
                    f"{dname}: stat {panel.get('title')!r} shows completed tasks without "
                    "saying they are verified"
                )
    return problems


# ---------------------------------------------------------------- TraceQL

_TRACEQL_STRING = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')
_TRACEQL_ATTR = re.compile(
    r"(?<![\w.$])(?P<scope>span|resource|event|link|instrumentation)?"
    r"\.(?P<name>[A-Za-z_][\w.\-]*\w|[A-Za-z_])"
)


def traceql_attributes(query: str) -> set[tuple[str, str]]:
    """(scope, name) of each attribute a TraceQL query reads; scope "" if unscoped.

    Intrinsics (name, status, duration, span:kind, trace:rootService...) have
    no dot after the scope and are not attributes; string literals are
    dropped first, so a value that looks like an attribute is not one.
    """
    text = _TRACEQL_STRING.sub('""', query)
    return {(m.group("scope") or "", m.group("name")) for m in _TRACEQL_ATTR.finditer(text)}


def traceql_queries(dashboard: Config) -> Iterator[tuple[str, str]]:
    for panel in iter_panels(dashboard):
        panel_kind = _ds_kind(panel.get("datasource"))
        for target in panel.get("targets") or []:
            kind = _ds_kind(target.get("datasource")) or panel_kind
            if kind == "tempo" and target.get("queryType", "traceql") == "traceql":
                query = target.get("query")
                if query:
                    yield f"panel {panel.get('title')!r} {target.get('refId')}", str(query)


def check_traceql_attributes(
    dashboards: Mapping[str, Config],
    span_attributes: Iterable[str],
    resource_attributes: Iterable[str] = RESOURCE_ATTRIBUTES,
) -> Problems:
    spans, resources = set(span_attributes), set(resource_attributes)
    problems: Problems = []
    for dname, dash in dashboards.items():
        for where, query in traceql_queries(dash):
            for scope, attr in sorted(traceql_attributes(query)):
                allowed = resources if scope == "resource" else spans
                if scope not in ("", "span", "resource") or attr not in allowed:
                    label = f"{scope}.{attr}" if scope else f".{attr}"
                    problems.append(f"{dname}: {where}: unknown attribute {label}")
    return problems


# ---------------------------------------------------------------- weekly report


def check_weekly_thresholds(
    dashboard: Config, metric: str = "agentfleet_audit_discrepancies"
) -> Problems:
    stats = [
        p
        for p in iter_panels(dashboard)
        if p.get("type") == "stat"
        and any(
            metric in promql_metric_names(str(t.get("expr", ""))) for t in p.get("targets") or []
        )
    ]
    if not stats:
        return [f"no stat panel shows {metric}"]
    problems: Problems = []
    for panel in stats:
        steps = (
            ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("thresholds") or {}
        ).get("steps") or []
        base = [s for s in steps if s.get("value") is None]
        if len(base) != 1 or base[0].get("color") != "green":
            problems.append(f"{panel.get('title')!r}: the base (0) threshold must be green")
        above = [s for s in steps if s.get("value") is not None]
        if not above or not all(0 < float(s["value"]) <= 1 for s in above):
            problems.append(f"{panel.get('title')!r}: must turn red for any count above 0")
        elif above[0].get("color") != "red":
            problems.append(f"{panel.get('title')!r}: the step above 0 must be red")
    return problems


# ---------------------------------------------------------------- ports


def listeners(
    compose: Config, collector: Config, tempo: Config, prometheus_args: Iterable[str]
) -> dict[str, set[int]]:
    """Ports each compose service listens on, from its config file or image defaults."""
    svcs = services(compose)
    out: dict[str, set[int]] = {}
    coll = set(otlp_receiver_ports(collector.get("receivers")).values())
    readers = (((collector.get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get(
        "readers"
    ) or []
    for reader in readers:
        prom = (((reader or {}).get("pull") or {}).get("exporter") or {}).get("prometheus") or {}
        if "port" in prom:
            coll.add(int(prom["port"]))
    out[COLLECTOR] = coll
    server = tempo.get("server") or {}
    out[TEMPO] = {
        int(server.get("http_listen_port", 80)),
        int(server.get("grpc_listen_port", 9095)),
    }
    out[TEMPO] |= set(
        otlp_receiver_ports((tempo.get("distributor") or {}).get("receivers")).values()
    )
    prom_port = 9090
    for arg in prometheus_args:
        if arg.startswith("--web.listen-address="):
            prom_port = _endpoint_host_port(arg.split("=", 1)[1], 9090)[1] or 9090
    out[PROMETHEUS] = {prom_port}
    for name, ports in DEFAULT_PORTS.items():
        if name in svcs:
            env = environment(svcs[name])
            override = env.get(PORT_ENV.get(name, ""), "")
            out[name] = {int(override)} if override.isdigit() else set(ports)
    temporal_env = environment(svcs.get(TEMPORAL) or {})
    if temporal_env.get("PROMETHEUS_ENDPOINT"):
        port = _endpoint_host_port(temporal_env["PROMETHEUS_ENDPOINT"])[1]
        if port:
            out.setdefault(TEMPORAL, set()).add(port)
    return out


def _resolve(
    where: str, endpoint: str, listening: Mapping[str, set[int]], svcs: set[str], path: str | None
) -> Problems:
    host, port = _endpoint_host_port(endpoint)
    if host not in svcs:
        return [f"{where}: {endpoint} names {host!r}, which is not a compose service"]
    problems: Problems = []
    if host in listening and port not in listening[host]:
        problems.append(f"{where}: {endpoint} but {host} listens on {sorted(listening[host])}")
    if path is not None and urlsplit(endpoint).path.rstrip("/") != path:
        problems.append(f"{where}: {endpoint} should have path {path}")
    return problems


def check_ports(
    compose: Config,
    collector: Config,
    tempo: Config,
    prometheus: Config,
    datasources: Config,
) -> Problems:
    """Every address one component uses for another is one that other listens on."""
    svcs = services(compose)
    names = set(svcs)
    prom_args = command_args(svcs.get(PROMETHEUS) or {})
    listening = listeners(compose, collector, tempo, prom_args)
    problems: Problems = []

    for name, svc in svcs.items():
        if name in listening:
            for port in published_container_ports(svc):
                if port not in listening[name]:
                    problems.append(
                        f"compose publishes {name}:{port}, but {name} listens on "
                        f"{sorted(listening[name])}"
                    )
        for key, value in environment(svc).items():
            m = re.fullmatch(r"(?:\w+://)?([A-Za-z0-9_.-]+):(\d+)(/.*)?", value)
            if m and m.group(1) in names:
                problems += _resolve(f"compose {name} {key}", value, listening, names, None)

    coll_recv = otlp_receiver_ports(collector.get("receivers"))
    for svc_name, svc in svcs.items():
        otlp = environment(svc).get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if otlp:
            if _endpoint_host_port(otlp)[1] != coll_recv.get("grpc"):
                problems.append(
                    f"compose {svc_name} OTEL_EXPORTER_OTLP_ENDPOINT {otlp} is not the "
                    f"collector's OTLP gRPC port {coll_recv.get('grpc')}"
                )

    tempo_recv = otlp_receiver_ports((tempo.get("distributor") or {}).get("receivers"))
    for ename, exp in (collector.get("exporters") or {}).items():
        endpoint = str((exp or {}).get("endpoint", ""))
        if not endpoint:
            continue
        kind = str(ename).split("/", 1)[0]
        path = REMOTE_WRITE_PATH if kind == "prometheusremotewrite" else None
        problems += _resolve(f"collector exporter {ename}", endpoint, listening, names, path)
        host, to_port = _endpoint_host_port(endpoint)
        if kind == "otlp" and host == TEMPO and to_port != tempo_recv.get("grpc"):
            problems.append(
                f"collector exporter {ename} sends OTLP gRPC to {endpoint}, tempo's OTLP gRPC "
                f"receiver is on {tempo_recv.get('grpc')}"
            )

    remote_writes = ((tempo.get("metrics_generator") or {}).get("storage") or {}).get(
        "remote_write"
    ) or []
    for rw in remote_writes:
        problems += _resolve(
            "tempo remote_write", str(rw.get("url", "")), listening, names, REMOTE_WRITE_PATH
        )

    for job in prometheus.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, scrape_port = _endpoint_host_port(str(target))
                if host == "localhost":
                    target = f"{PROMETHEUS}:{scrape_port}"
                problems += _resolve(
                    f"prometheus job {job.get('job_name')}", str(target), listening, names, None
                )

    for ds in datasources.get("datasources") or []:
        problems += _resolve(
            f"datasource {ds.get('uid')}", str(ds.get("url", "")), listening, names, None
        )
    return problems


# ---------------------------------------------------------------- durability: spool and queue

TEMPORALITY_ENV = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"


def volume_mounts(compose: Config, service: str) -> list[tuple[str, str, str, bool]]:
    """(kind, source, target, read_only) of every mount of `service`: volume, bind or tmpfs."""
    svc = services(compose).get(service) or {}
    out: list[tuple[str, str, str, bool]] = []
    for vol in svc.get("volumes") or []:
        if isinstance(vol, Mapping):
            kind = str(vol.get("type", "volume"))
            source, target = str(vol.get("source", "")), str(vol.get("target", ""))
            read_only = bool(vol.get("read_only", False))
        else:
            parts = str(vol).split(":")
            if len(parts) == 1:  # an anonymous volume: gone with its container
                out.append(("anonymous", "", parts[0], False))
                continue
            source, target = parts[0], parts[1]
            read_only = len(parts) > 2 and "ro" in parts[2].split(",")
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target, read_only))
    tmpfs = svc.get("tmpfs") or []
    for path in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
        out.append(("tmpfs", "", str(path).split(":", 1)[0], False))
    return out


def _mount_of(
    mounts: list[tuple[str, str, str, bool]], path: str
) -> tuple[str, str, str, bool] | None:
    """The mount that holds `path`: the deepest target at or above it."""
    best = None
    for m in mounts:
        target = m[2].rstrip("/") or "/"
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[2].rstrip("/")):
                best = m
    return best


def _durable_dir_problems(compose: Config, service: str, path: str, what: str) -> Problems:
    mount = _mount_of(volume_mounts(compose, service), path)
    declared = set((compose.get("volumes") or {}).keys())
    if mount is None:
        return [f"{what} {path} is on no volume of {service}: it is lost with the container"]
    kind, source, _, read_only = mount
    if kind in ("tmpfs", "anonymous"):
        return [f"{what} {path} is on a {kind} mount of {service}: it is lost with the container"]
    if read_only:
        return [f"{what} {path} is on a read-only mount of {service}"]
    if kind == "volume" and source not in declared:
        return [f"{what} {path}: {service} mounts volume {source}, which is not declared"]
    return []


def check_worker_spool(compose: Config) -> Problems:
    """The workers' span spool outlives a killed container, on a volume they all share."""
    worker = services(compose).get(WORKER)
    if worker is None:
        return []
    home = environment(worker).get("AGENTFLEET_HOME", "")
    if not home.startswith("/"):
        return [
            "worker AGENTFLEET_HOME must be an absolute path on a volume: the span spool "
            "lives under it"
        ]
    spool = home.rstrip("/") + "/spool"
    problems = _durable_dir_problems(compose, WORKER, spool, "the worker's span spool")
    mount = _mount_of(volume_mounts(compose, WORKER), spool)
    if not problems and mount is not None and mount[0] != "volume":
        problems.append(
            f"the worker's span spool {spool} is on a {mount[0]} mount, not a named volume: "
            "replicas must share it to ship what a killed one left"
        )
    return problems


def check_collector_queue(config: Config, compose: Config) -> Problems:
    """Spans the Collector acknowledged are on disk until Tempo has them."""
    problems: Problems = []
    extensions = config.get("extensions") or {}
    storages = {n: c or {} for n, c in extensions.items() if str(n).split("/")[0] == "file_storage"}
    enabled = set(((config.get("service") or {}).get("extensions")) or [])
    pipelines = ((config.get("service") or {}).get("pipelines")) or {}
    exporters = config.get("exporters") or {}
    traces = pipelines.get("traces") or {}
    for proc in traces.get("processors") or []:
        if str(proc).split("/")[0] == "batch":
            problems.append(
                f"collector traces pipeline has processor {proc}: it acknowledges spans while "
                "they are only in memory, so a Collector crash loses them"
            )
    used: set[str] = set()
    for exp in traces.get("exporters") or []:
        queue = (exporters.get(exp) or {}).get("sending_queue") or {}
        storage = queue.get("storage")
        if queue.get("enabled") is False:
            problems.append(f"collector exporter {exp} has its sending_queue disabled")
        elif not storage:
            problems.append(
                f"collector exporter {exp} queues spans in memory: set sending_queue.storage "
                "to a file_storage extension"
            )
        elif storage not in storages:
            problems.append(
                f"collector exporter {exp} uses storage {storage}, not a file_storage extension"
            )
        else:
            used.add(str(storage))
    for name in sorted(used):
        if name not in enabled:
            problems.append(f"collector extension {name} is not listed in service.extensions")
        directory = str(storages[name].get("directory") or "/var/lib/otelcol/file_storage")
        problems += _durable_dir_problems(compose, COLLECTOR, directory, f"{name} directory")
    # The metrics exporter has no persistent queue; cumulative values make that lossless.
    worker = services(compose).get(WORKER)
    temporality = environment(worker).get(TEMPORALITY_ENV, "") if worker else ""
    if temporality.strip().lower() in ("delta", "lowmemory"):
        problems.append(
            f"worker sets {TEMPORALITY_ENV}={temporality}: delta points in flight are lost when "
            "the Collector restarts (its metrics exporter has no persistent queue)"
        )
    return problems


def check_versioning(compose: Config, dynamic_config: Config, flags: Iterable[str]) -> Problems:
    """The server routes by worker version and the workers register as one.

    `flags` are the dynamic config keys the dev server sets
    (agentfleet.cli.devserver.VERSIONING_DYNAMIC_CONFIG): the stack's server must
    switch on the same ones.
    """
    problems: Problems = []
    for key in flags:
        values = dynamic_config.get(key) or []
        if not any(isinstance(v, Mapping) and v.get("value") is True for v in values):
            problems.append(f"dynamicconfig.yaml must set {key} to true (Worker Versioning)")
    worker = services(compose).get(WORKER)
    if worker is not None:
        env = environment(worker)
        if not env.get("AGENTFLEET_DEPLOYMENT", "").strip():
            problems.append("worker must name its deployment (AGENTFLEET_DEPLOYMENT)")
        if env.get("AGENTFLEET_VERSIONING", "on").strip().lower() in {"off", "0", "false", "no"}:
            problems.append("worker must not switch versioning off (AGENTFLEET_VERSIONING)")
    return problems
