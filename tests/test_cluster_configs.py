"""The files in cluster/ parse, have the fields their tools need, and stay private.

No cloud or Kubernetes is reachable from the tests, so these are the checks
that can run offline: YAML syntax, the Ray cluster launcher's own JSON schema,
KubeRay fields by hand (no CRD schema ships in a pip package), and the two
safety rules of cluster/README.md: the dashboard / Jobs API is never bound to
all interfaces of a VM nor exposed through a LoadBalancer/NodePort Service,
and every configuration that starts Ray turns token authentication on.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
YAMLS = sorted(CLUSTER.glob("*.yaml")) + sorted(CLUSTER.glob("*.yml"))
_NOT_OURS = {".venv", ".git", ".pytest_cache", "node_modules"}
READMES = sorted(p for p in ROOT.rglob("README*") if not _NOT_OURS & set(p.parts))
CLUSTER_TEXT_FILES = sorted(p for p in CLUSTER.rglob("*") if p.is_file())
LAUNCHER_KEYS = ("cluster_name", "provider", "available_node_types", "head_node_type", "max_workers")
IMAGE_IN_REPO = "/home/ray/raypruning/"  # cluster/Dockerfile's WORKDIR


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _ray_up_configs() -> list[tuple[Path, dict]]:
    return [(p, d) for p in YAMLS for d in _docs(p) if "provider" in d and "apiVersion" not in d]


def _kuberay_docs() -> list[tuple[Path, dict]]:
    return [(p, d) for p in YAMLS for d in _docs(p) if str(d.get("apiVersion", "")).startswith("ray.io/")]


def _cluster_specs(doc: dict) -> list[tuple[str, dict]]:
    """(where, RayCluster spec) pairs inside a KubeRay manifest."""
    kind, spec = doc["kind"], doc.get("spec") or {}
    if kind == "RayCluster":
        return [("spec", spec)]
    if kind == "RayJob":
        return [("spec.rayClusterSpec", spec["rayClusterSpec"])] if "rayClusterSpec" in spec else []
    if kind == "RayService":
        return [("spec.rayClusterConfig", spec["rayClusterConfig"])]
    return []


def _pod_templates(spec: dict) -> list[tuple[str, dict]]:
    out = [("headGroupSpec", spec["headGroupSpec"]["template"])]
    out += [(f"workerGroupSpecs[{g['groupName']}]", g["template"]) for g in spec.get("workerGroupSpecs") or []]
    return out


def _walk(node, path=""):
    """Every (dotted path, key, value) in a parsed YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}" if path else str(k), k, v
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def test_cluster_folder_has_the_documented_files():
    names = {p.name for p in CLUSTER.iterdir()}
    assert {"README.md", "aws-gpu.yaml", "kuberay-raycluster.yaml", "kuberay-rayjob.yaml"} <= names
    assert _ray_up_configs() and _kuberay_docs()


@pytest.mark.parametrize("path", YAMLS + [CLUSTER / "Dockerfile"], ids=lambda p: p.name)
def test_file_opens_with_the_command_that_uses_it(path):
    if not path.exists():
        pytest.skip(f"{path.name} not present")
    first = path.read_text().splitlines()[0]
    assert first.startswith("# "), f"{path.name}: first line must be a comment giving its command"
    assert f"cluster/{path.name}" in first, f"{path.name}: the opening command must name the file: {first!r}"
    assert re.search(r"\b(ray up|kubectl apply -f|docker build)\b", first), first


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_yaml_parses(path):
    docs = _docs(path)
    assert docs and all(isinstance(d, dict) for d in docs)


@pytest.mark.parametrize("path,cfg", _ray_up_configs(), ids=lambda x: getattr(x, "name", ""))
def test_ray_up_config_has_launcher_keys_and_known_node_types(path, cfg):
    for key in LAUNCHER_KEYS:
        assert key in cfg, f"{path.name}: missing {key}"
    assert cfg["provider"].get("type"), f"{path.name}: provider.type"
    types = cfg["available_node_types"]
    assert cfg["head_node_type"] in types, f"{path.name}: head_node_type {cfg['head_node_type']!r} undefined"
    for name, node in types.items():
        assert "node_config" in node and "resources" in node, f"{path.name}: {name}"
        if name != cfg["head_node_type"]:
            assert 0 <= node.get("min_workers", 0) <= node["max_workers"] <= cfg["max_workers"], name
    # The autoscaler needs at least one worker type to add nodes from.
    assert any(n != cfg["head_node_type"] for n in types)


@pytest.mark.parametrize("path,cfg", _ray_up_configs(), ids=lambda x: getattr(x, "name", ""))
def test_ray_up_config_matches_rays_schema(path, cfg):
    import ray

    jsonschema = pytest.importorskip("jsonschema")
    schema_file = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    if not schema_file.exists():
        pytest.skip("this Ray ships no cluster-launcher schema")
    jsonschema.validate(cfg, json.loads(schema_file.read_text()))


@pytest.mark.parametrize("path,doc", _kuberay_docs(), ids=lambda x: getattr(x, "name", ""))
def test_kuberay_manifest_has_required_fields(path, doc):
    assert doc["apiVersion"] == "ray.io/v1", f"{path.name}: apiVersion must be ray.io/v1"
    assert doc["kind"] in ("RayCluster", "RayJob"), doc["kind"]
    assert doc.get("metadata", {}).get("name"), f"{path.name}: metadata.name"
    spec = doc["spec"]
    if doc["kind"] == "RayJob":
        assert isinstance(spec.get("entrypoint"), str) and spec["entrypoint"].strip(), "RayJob needs spec.entrypoint"
        assert "rayClusterSpec" in spec, "RayJob needs spec.rayClusterSpec (its own cluster)"
        if spec.get("shutdownAfterJobFinishes"):
            assert isinstance(spec.get("ttlSecondsAfterFinished"), int)
    for where, cluster in _cluster_specs(doc):
        head = cluster["headGroupSpec"]
        assert isinstance(head.get("rayStartParams"), dict), f"{where}.headGroupSpec.rayStartParams"
        groups = cluster.get("workerGroupSpecs")
        assert groups, f"{where}.workerGroupSpecs"
        for g in groups:
            for key in ("groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template"):
                assert key in g, f"{where}.workerGroupSpecs: {key}"
            assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"], g["groupName"]
        for params in [head["rayStartParams"]] + [g["rayStartParams"] for g in groups]:
            # KubeRay's rayStartParams is map[string]string: unquoted numbers are rejected.
            assert all(isinstance(v, str) for v in params.values()), params
        for name, template in _pod_templates(cluster):
            containers = template["spec"]["containers"]
            assert containers, f"{where}.{name}.template.spec.containers"
            assert all(c.get("name") and c.get("image") for c in containers), name
        if any(g["maxReplicas"] > g["minReplicas"] for g in groups):
            assert cluster.get("enableInTreeAutoscaling") is True, f"{where}: autoscaling group without autoscaler"


def test_rayjob_entrypoint_names_a_valid_study():
    from raypruning.config import load_config

    jobs = [d for _, d in _kuberay_docs() if d["kind"] == "RayJob"]
    assert jobs
    for job in jobs:
        args = shlex.split(job["spec"]["entrypoint"])
        assert args[:2] == ["raypruning", "study"], args
        study_file = ROOT / args[2].removeprefix(IMAGE_IN_REPO)
        if not study_file.is_file():
            # studies/ is written in parallel; until the file lands this cannot be checked.
            pytest.skip(f"RayJob entrypoint names {args[2]}, which the repository does not hold yet")
        overrides = [a for a in args[3:] if "=" in a]
        cfg = load_config(study_file, overrides)
        assert "://" in cfg.study.storage_path or cfg.study.storage_path.startswith("/mnt/"), (
            "a RayJob's results must go to storage that outlives its cluster"
        )


def test_ray_versions_agree():
    """Client, images and KubeRay rayVersion must run the same Ray."""
    import ray

    versions = set()
    for _, cfg in _ray_up_configs():
        versions |= set(re.findall(r"rayproject/ray:(\d+\.\d+\.\d+)", json.dumps(cfg)))
    for _, doc in _kuberay_docs():
        for where, cluster in _cluster_specs(doc):
            versions.add(str(cluster["rayVersion"]))
    dockerfile = CLUSTER / "Dockerfile"
    if dockerfile.exists():
        versions |= set(re.findall(r"rayproject/ray:(\d+\.\d+\.\d+)", dockerfile.read_text()))
    assert len(versions) == 1, f"cluster/ names several Ray versions: {sorted(versions)}"
    (version,) = versions
    assert version.split(".")[:2] == ray.__version__.split(".")[:2], (
        f"cluster/ runs Ray {version} but submits from Ray {ray.__version__}"
    )


# ---------------------------------------------------------------- safety

_OPEN_BIND = re.compile(r"dashboard[-_]host\s*(?:=|:|\s)\s*[\"']?0\.0\.0\.0")
_OPEN_SERVICE = re.compile(r"\b(?:serviceType|type)\s*:\s*[\"']?(LoadBalancer|NodePort)\b")


@pytest.mark.parametrize("path", CLUSTER_TEXT_FILES + READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_binds_the_dashboard_to_all_interfaces_or_opens_a_service(path):
    text = path.read_text(errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        assert not _OPEN_BIND.search(line), f"{path.relative_to(ROOT)}:{n}: dashboard on every interface: {line!r}"
        assert not _OPEN_SERVICE.search(line), f"{path.relative_to(ROOT)}:{n}: public Service type: {line!r}"


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_no_manifest_exposes_a_public_service(path):
    for doc in _docs(path):
        for where, key, value in _walk(doc):
            if key == "serviceType" or (key == "type" and doc.get("kind") == "Service" and where == "spec.type"):
                assert value == "ClusterIP", f"{path.name}: {where}: {value}"
        for where, cluster in _cluster_specs(doc) if "kind" in doc else []:
            assert cluster["headGroupSpec"].get("serviceType", "ClusterIP") == "ClusterIP"
            # KubeRay binds the dashboard inside the pod; it must not be set to a public host here.
            assert cluster["headGroupSpec"]["rayStartParams"].get("dashboard-host") in (None, "127.0.0.1")


@pytest.mark.parametrize("path,cfg", _ray_up_configs(), ids=lambda x: getattr(x, "name", ""))
def test_ray_up_starts_ray_with_token_auth_and_a_private_dashboard(path, cfg):
    starts = [c for key in ("head_start_ray_commands", "worker_start_ray_commands") for c in cfg.get(key) or []]
    ray_starts = [c for c in starts if "ray start" in c]
    assert len(ray_starts) >= 2, f"{path.name}: head and worker start commands"
    for command in ray_starts:
        assert "RAY_AUTH_MODE=token" in command.split("ray start")[0], (
            f"{path.name}: `ray start` without RAY_AUTH_MODE=token before it: {command!r}"
        )
    for command in cfg["head_start_ray_commands"]:
        if "--head" in command:
            assert "--dashboard-host=127.0.0.1" in command, f"{path.name}: head dashboard must bind 127.0.0.1"
    # Every node needs the token that RAY_AUTH_MODE=token asks for.
    assert any("auth_token" in remote for remote in cfg.get("file_mounts", {})), f"{path.name}: token not copied"


def _has_token_env(env: list[dict]) -> bool:
    by_name = {e["name"]: e for e in env or []}
    mode, token = by_name.get("RAY_AUTH_MODE", {}), by_name.get("RAY_AUTH_TOKEN", {})
    return mode.get("value") == "token" and "secretKeyRef" in (token.get("valueFrom") or {})


@pytest.mark.parametrize("path,doc", _kuberay_docs(), ids=lambda x: getattr(x, "name", ""))
def test_kuberay_cluster_has_token_auth(path, doc):
    for where, cluster in _cluster_specs(doc):
        if (cluster.get("authOptions") or {}).get("mode") == "token":
            continue  # KubeRay >= 1.5.1 sets RAY_AUTH_MODE=token and the token on every container
        for name, template in _pod_templates(cluster):
            for c in template["spec"]["containers"]:
                assert _has_token_env(c.get("env")), (
                    f"{path.name}: {where}.{name} container {c['name']}: needs RAY_AUTH_MODE=token "
                    "and RAY_AUTH_TOKEN from a secretKeyRef (or authOptions.mode: token)"
                )
        if cluster.get("enableInTreeAutoscaling"):
            assert _has_token_env((cluster.get("autoscalerOptions") or {}).get("env")), (
                f"{path.name}: {where}.autoscalerOptions.env: the autoscaler talks to the GCS and needs the token"
            )


def test_no_secret_values_in_cluster_files():
    """Tokens and database URLs come from Secrets and files, never from the configs."""
    for path in CLUSTER_TEXT_FILES:
        text = path.read_text(errors="replace")
        assert not re.search(r"://[^\s/@:'\"]+:[^\s/@'\"]+@", text), f"{path.name}: a URL with a password"
        for doc in _docs(path) if path.suffix in (".yaml", ".yml") else []:
            for where, key, value in _walk(doc):
                if key == "name" and value in ("RAY_AUTH_TOKEN", "RAYPRUNING_OPTUNA_STORAGE"):
                    parent = where.rsplit(".", 1)[0]
                    entry = dict(_walk_get(doc, parent))
                    assert "value" not in entry, f"{path.name}: {parent}: secret given as a literal value"


def _walk_get(doc, dotted: str):
    node = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node.items()
