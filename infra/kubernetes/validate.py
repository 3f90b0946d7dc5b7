#!/usr/bin/env python3
"""Validates Isogate's Kubernetes manifests the way a cluster would read them, offline.

    python infra/kubernetes/validate.py FILE...            (multi-document YAML; - for stdin)
    python infra/kubernetes/validate.py --spin-runtime-config infra/spin/runtime-config.toml

What is checked, for every document (an unknown kind is an error, never skipped):
- SpinApp and SpinAppExecutor (core.spinkube.dev/v1alpha1) against the openAPIV3Schema of
  spin-operator's CRDs, committed in schema/ (see schema/README.md for the version). Fields the
  schema does not name are errors, as the API server's strict field validation (kubectl's
  default) makes them: a CRD schema alone would let `varibles:` through.
- Core kinds (Ingress, Secret, Service, ...) against Kubernetes' own schemas, strict, from the
  PyPI package kubernetes-validate (KUBERNETES_VERSION below); metadata of every kind likewise.
- What the schemas cannot say, but the operator, its webhook, Spin or the gateway then refuse:
  the SpinApp's executor is in the bundle; the image is a valid OCI reference with a tag or
  digest (else InvalidImageName); variables are the ones spin.toml declares, the required
  ones set; a libSQL database has exactly Spin's `url` and `token` options, the token from a
  Secret; health checks ask for /healthz with the gateway's domain as Host; Ingress rules have
  an ingressClassName and reach the operator's Service (the SpinApp's name, port 80).
--spin-runtime-config checks a Spin runtime config file's [sqlite_database.*] tables against
the fields Spin's own deserializer accepts (crates/sqlite in Spin: deny_unknown_fields).

Exits 1 with one line per problem (`FILE: document N (Kind/name): path: message`).
"""
import copy
import json
import re
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate.utils
import yaml
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCHEMA_DIR = HERE / "schema"
KUBERNETES_VERSION = "1.33.0"
CUSTOM_KINDS = {
    ("core.spinkube.dev/v1alpha1", "SpinApp"): "spinapp.v1alpha1.json",
    ("core.spinkube.dev/v1alpha1", "SpinAppExecutor"): "spinappexecutor.v1alpha1.json",
}
# RFC 1123 label (a SpinApp's name becomes its Deployment's and Service's) and subdomain.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# distribution/reference's grammar (what the kubelet parses): [host[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::(?P<tag>[\w][\w.-]{{0,127}}))?(?:@(?P<digest>[a-z0-9]+:[a-f0-9]{{32,}}))?$"
)
# The Service spin-operator creates for a SpinApp (internal/controller/service.go).
OPERATOR_SERVICE_PORT = 80
# Spin's runtime-config fields per SQLite database type (crates/sqlite/src/lib.rs).
SPIN_SQLITE_FIELDS = {"spin": ({"path", "allow_attach_file"}, set()), "libsql": ({"url", "token"}, {"url", "token"})}
# Top-level tables Spin's runtime config reads (crates/runtime-config, Spin 3.6 as in
# containerd-shim-spin, and 4.x); Spin refuses a file with any other ("unused runtime config key").
SPIN_RUNTIME_CONFIG_KEYS = {
    "client_tls", "config_provider", "key_value_store", "llm_compute", "log_dir", "max_instance_memory",
    "outbound_http", "outbound_networking", "sqlite_database", "state_dir", "variables_provider",
}


def strict(schema):
    """The schema with unknown fields refused wherever it lists the known ones (the API
    server's strict field validation), except where the CRD preserves unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def load_custom_schemas():
    schemas = {}
    for key, file in CUSTOM_KINDS.items():
        doc = json.loads((SCHEMA_DIR / file).read_text())
        schema = strict(doc["openAPIV3Schema"])
        # The CRD says only `metadata: {type: object}`; ObjectMeta is checked apart (below).
        schema["properties"]["metadata"] = {"type": "object"}
        schema.setdefault("required", [])
        for field in ("apiVersion", "kind", "metadata", "spec"):
            if field not in schema["required"]:
                schema["required"].append(field)
        jsonschema.Draft7Validator.check_schema(schema)
        schemas[key] = jsonschema.Draft7Validator(schema)
    return schemas


def spin_manifest():
    return tomllib.loads((ROOT / "spin.toml").read_text())


def path_of(error):
    return ".".join(str(p) for p in error.absolute_path) or "(document)"


class Checker:
    def __init__(self):
        self.custom = load_custom_schemas()
        self.problems = []

    def problem(self, where, path, message):
        self.problems.append(f"{where}: {path}: {message}")

    def check_files(self, files):
        docs = []
        for file in files:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
            try:
                loaded = list(yaml.safe_load_all(text))
            except yaml.YAMLError as e:
                self.problem(file, "(file)", f"not YAML: {e}")
                continue
            for n, doc in enumerate(d for d in loaded if d is not None):
                docs.append((f"{file}: document {n + 1}", doc))
        for where, doc in docs:
            self.check_schema(where, doc)
        self.check_bundle(docs)

    def check_schema(self, where, doc):
        if not isinstance(doc, dict):
            self.problem(where, "(document)", "not a mapping")
            return
        kind, api = doc.get("kind"), doc.get("apiVersion")
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        where = f"{where} ({kind}/{name})"
        meta = doc.get("metadata")
        if (api, kind) in self.custom:
            for e in sorted(self.custom[(api, kind)].iter_errors(doc), key=lambda e: list(e.absolute_path)):
                self.problem(where, path_of(e), e.message)
            # ObjectMeta as Kubernetes defines it (strict), through a kind that has nothing else.
            if isinstance(meta, dict):
                self.check_core(where, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
        else:
            self.check_core(where, doc)
        if isinstance(name, str) and not (DNS_LABEL if kind == "SpinApp" else DNS_SUBDOMAIN).match(name):
            self.problem(where, "metadata.name", f"{name!r} is not a valid name for a {kind}")

    def check_core(self, where, doc):
        """Strict Kubernetes schema of a core kind; every error, not only the first."""
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api, str) or not isinstance(kind, str):
            self.problem(where, "(document)", "no apiVersion or kind")
            return
        # kubernetes-validate's layout: <dir>/<kind>-<group's first label>-<version>.json
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api)
        schema_dir = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
        try:
            schema = kubernetes_validate.utils.schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
        except FileNotFoundError:
            self.problem(where, "kind", f"unknown kind {api}/{kind} (no schema for it)")
            return
        definitions = kubernetes_validate.utils.schema_contents(f"{schema_dir}/_definitions.json", KUBERNETES_VERSION)
        registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            self.problem(where, path_of(e), e.message)

    def check_bundle(self, docs):
        def of(kind):
            return [(w, d) for w, d in docs if isinstance(d, dict) and d.get("kind") == kind and isinstance(d.get("spec"), dict)]

        executors = {(d.get("metadata") or {}).get("name") for _, d in of("SpinAppExecutor")}
        apps = {}
        manifest = spin_manifest()
        declared = manifest.get("variables", {})
        databases = set()
        for component in manifest.get("component", {}).values():
            databases.update(component.get("sqlite_databases", []))
        for where, app in of("SpinApp"):
            spec, name = app["spec"], (app.get("metadata") or {}).get("name")
            apps[name] = app
            where = f"{where} (SpinApp/{name})"
            if spec.get("executor") not in executors:
                self.problem(where, "spec.executor", f"{spec.get('executor')!r} is not a SpinAppExecutor of this bundle "
                             "(the operator's webhook refuses a SpinApp whose executor does not exist)")
            self.check_image(where, spec.get("image"))
            self.check_variables(where, spec.get("variables") or [], declared)
            self.check_probes(where, spec)
            for i, db in enumerate((spec.get("runtimeConfig") or {}).get("sqliteDatabases") or []):
                self.check_database(where, f"spec.runtimeConfig.sqliteDatabases.{i}", db, databases)
        for where, ingress in of("Ingress"):
            spec, name = ingress["spec"], (ingress.get("metadata") or {}).get("name")
            where = f"{where} (Ingress/{name})"
            if not spec.get("ingressClassName"):
                self.problem(where, "spec.ingressClassName", "missing: no controller would serve this Ingress unless the cluster has a default IngressClass")
            for i, rule in enumerate(spec.get("rules") or []):
                for j, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
                    service = ((p.get("backend") or {}).get("service")) or {}
                    at = f"spec.rules.{i}.http.paths.{j}.backend.service"
                    if service.get("name") not in apps:
                        self.problem(where, f"{at}.name", f"{service.get('name')!r} is not the Service of a SpinApp of this bundle")
                    if (service.get("port") or {}).get("number") != OPERATOR_SERVICE_PORT:
                        self.problem(where, f"{at}.port", f"the operator's Service listens on port {OPERATOR_SERVICE_PORT}")

    def check_image(self, where, image):
        if not isinstance(image, str):
            return  # the schema said so
        m = IMAGE_REFERENCE.match(image)
        if not m:
            self.problem(where, "spec.image", f"{image!r} is not a valid image reference (the pods would fail with InvalidImageName)")
        elif not (m.group("tag") or m.group("digest")):
            self.problem(where, "spec.image", f"{image!r} has no tag or digest: name the version `spin registry push` pushed")

    def check_variables(self, where, variables, declared):
        seen = set()
        for i, v in enumerate(variables):
            name = v.get("name") if isinstance(v, dict) else None
            if name in seen:
                self.problem(where, f"spec.variables.{i}.name", f"{name!r} is set twice")
            seen.add(name)
            if name not in declared:
                self.problem(where, f"spec.variables.{i}.name", f"{name!r} is not a variable of spin.toml (Spin would ignore it)")
            elif isinstance(v, dict) and "value" not in v and "valueFrom" not in v:
                self.problem(where, f"spec.variables.{i}", "has neither value nor valueFrom")
        for name, decl in declared.items():
            if isinstance(decl, dict) and decl.get("required") and name not in seen:
                self.problem(where, "spec.variables", f"{name!r} is required by spin.toml (Spin would not start without it)")

    def check_probes(self, where, spec):
        """The gateway answers /healthz on its root domain only: a probe without that Host gets
        404 (unknown host) and the pods never become ready."""
        variables = {v.get("name"): v.get("value") for v in spec.get("variables") or [] if isinstance(v, dict)}
        domain = variables.get("isogate_domain") or "localhost:3000"  # spin.toml's default
        for kind, probe in (spec.get("checks") or {}).items():
            get = (probe or {}).get("httpGet") or {}
            hosts = [h.get("value") for h in get.get("httpHeaders") or [] if str(h.get("name")).lower() == "host"]
            if hosts != [domain]:
                self.problem(where, f"spec.checks.{kind}.httpGet.httpHeaders",
                             f"needs one Host header equal to isogate_domain ({domain!r}), has {hosts}")
            if get.get("path") != "/healthz":
                self.problem(where, f"spec.checks.{kind}.httpGet.path", "the gateway's health endpoint is /healthz")

    def check_database(self, where, at, db, databases):
        if db.get("name") not in databases:
            self.problem(where, f"{at}.name", f"{db.get('name')!r} is no sqlite_databases entry of spin.toml's components")
        kind = db.get("type")
        if kind not in SPIN_SQLITE_FIELDS:
            self.problem(where, f"{at}.type", f"{kind!r} is not a Spin SQLite type ({', '.join(SPIN_SQLITE_FIELDS)})")
            return
        allowed, required = SPIN_SQLITE_FIELDS[kind]
        options = {o.get("name"): o for o in db.get("options") or [] if isinstance(o, dict)}
        for name in options.keys() - allowed:
            self.problem(where, f"{at}.options", f"{name!r} is not a {kind} option (Spin accepts {', '.join(sorted(allowed))})")
        for name in required - options.keys():
            self.problem(where, f"{at}.options", f"{name!r} is required by Spin for {kind}")
        url = options.get("url", {}).get("value")
        if kind == "libsql" and url is not None and not re.match(r"^https?://", url):
            self.problem(where, f"{at}.options.url", f"{url!r}: Spin wants an http:// or https:// URL")
        token = options.get("token")
        if token is not None and "secretKeyRef" not in (token.get("valueFrom") or {}):
            self.problem(where, f"{at}.options.token", "take the token from a Secret (valueFrom.secretKeyRef), not a value in a file")

    def check_spin_runtime_config(self, file):
        try:
            config = tomllib.loads(Path(file).read_text())
        except tomllib.TOMLDecodeError as e:
            self.problem(file, "(file)", f"not TOML: {e}")
            return
        for key in config.keys() - SPIN_RUNTIME_CONFIG_KEYS:
            self.problem(file, key, "not a key of Spin's runtime config (Spin refuses unused keys)")
        for label, table in (config.get("sqlite_database") or {}).items():
            at = f"sqlite_database.{label}"
            kind = table.get("type")
            if kind not in SPIN_SQLITE_FIELDS:
                self.problem(file, f"{at}.type", f"{kind!r} is not a Spin SQLite type")
                continue
            allowed, required = SPIN_SQLITE_FIELDS[kind]
            fields = table.keys() - {"type"}
            for name in fields - allowed:
                self.problem(file, at, f"unknown field {name!r} (Spin accepts {', '.join(sorted(allowed))})")
            for name in required - fields:
                self.problem(file, at, f"missing field {name!r}")
            for name in fields & {"url", "token", "path"}:
                if not isinstance(table[name], str):
                    self.problem(file, f"{at}.{name}", "must be a string")
            if kind == "libsql" and isinstance(table.get("url"), str) and not re.match(r"^https?://", table["url"]):
                self.problem(file, f"{at}.url", "Spin wants an http:// or https:// URL")
            if "REPLACE" in str(table.get("token", "")).upper():
                self.problem(file, f"{at}.token", "a placeholder, not a token")


def main(argv):
    checker = Checker()
    args = list(argv)
    files = []
    while args:
        arg = args.pop(0)
        if arg == "--spin-runtime-config":
            checker.check_spin_runtime_config(args.pop(0))
        else:
            files.append(arg)
    if files:
        checker.check_files(files)
    for p in checker.problems:
        print(p, file=sys.stderr)
    if checker.problems:
        print(f"validate.py: {len(checker.problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
