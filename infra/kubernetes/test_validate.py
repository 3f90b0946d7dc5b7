"""The SpinKube manifests as a user applies them, and the validator that guards them in CI.

    python -m unittest infra/kubernetes/test_validate.py     (scripts/test.sh runs it)

The manifests are rendered by render.sh, as the README says, with sample values; the result
must validate, and a copy with each mistake a user or an edit could make must be refused
with a message that names it.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import validate  # noqa: E402

SAMPLE = {
    "ISOGATE_IMAGE": "ghcr.io/example-user/isogate:0.1.0",
    "ISOGATE_DOMAIN": "example.com",
    "ISOGATE_UPSTREAMS": "https://*.internal.example.com",
    "ISOGATE_LIBSQL_URL": "https://isogate-db.example.internal",
    "ISOGATE_INGRESS_CLASS": "nginx",
}


def render(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOGATE_")}
    env.update(SAMPLE)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(["bash", str(HERE / "render.sh")], env=env, capture_output=True, text=True)


def problems_of(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        checker = validate.Checker()
        checker.check_files([f.name])
        return checker.problems
    finally:
        os.unlink(f.name)


def readme_spinkube_section():
    text = (ROOT / "README.md").read_text()
    start = text.index("\n### Run it on SpinKube\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


# (what goes wrong, a replacement in the rendered manifests, words the refusal must contain)
BROKEN = [
    ("typo in a SpinApp field", ("  variables:\n", "  varibles:\n"), "'varibles' was unexpected"),
    ("typo in a SpinAppExecutor field", ("runtimeClassName:", "runtimeClass:"), "'runtimeClass' was unexpected"),
    ("typo in an Ingress field", ("ingressClassName:", "ingresClassName:"), "'ingresClassName' was unexpected"),
    ("typo in metadata", ("metadata:\n  name: isogate\nspec:\n  image", "metadata:\n  nmae: isogate\nspec:\n  image"), "'nmae' was unexpected"),
    ("wrong type", ("replicas: 2", "replicas: two"), "'two' is not of type 'integer'"),
    ("port as a string", ("number: 80 }", "number: \"80\" }"), "'80' is not of type 'integer'"),
    ("the CRD's required image missing", ('  image: "ghcr.io/example-user/isogate:0.1.0"\n', ""), "'image' is a required property"),
    ("placeholder image", ("ghcr.io/example-user/isogate:0.1.0", "ghcr.io/<you>/isogate:0.1.0"), "InvalidImageName"),
    ("image without a tag", ("ghcr.io/example-user/isogate:0.1.0", "ghcr.io/example-user/isogate"), "no tag or digest"),
    ("executor not shipped", ("executor: containerd-shim-spin", "executor: containerd-shim-spin-v2"), "not a SpinAppExecutor of this bundle"),
    ("variable spin.toml does not declare", ("name: isogate_domain", "name: isogate_domian"), "not a variable of spin.toml"),
    ("required variable missing", ("name: isogate_admin_token", "name: isogate_token_ttl"), "'isogate_admin_token' is required"),
    ("libSQL option Spin does not accept", ("- name: token", "- name: auth_token"), "'auth_token' is not a libsql option"),
    ("libSQL token written in the manifest", (
        "          - name: token\n            valueFrom:\n              secretKeyRef: { name: isogate-libsql, key: token }",
        "          - name: token\n            value: REPLACE_WITH_LIBSQL_TOKEN"), "from a Secret"),
    ("libSQL URL without a scheme", ("https://isogate-db.example.internal", "isogate-db.example.internal"), "http:// or https://"),
    ("database spin.toml does not use", ("      - name: default\n        type: libsql", "      - name: shared\n        type: libsql"), "no sqlite_databases entry"),
    ("probe without the gateway's Host", ('httpHeaders: [{ name: Host, value: "example.com" }]', "httpHeaders: []"), "needs one Host header"),
    ("probe on another path", ("path: /healthz", "path: /health"), "/healthz"),
    ("Ingress without a class", ('  ingressClassName: "nginx"\n', ""), "ingressClassName: missing"),
    ("Ingress to another Service", ("service: { name: isogate,", "service: { name: isogate-svc,"), "not the Service of a SpinApp"),
    ("Ingress to another port", ("number: 80 }", "number: 3000 }"), "listens on port 80"),
    ("unknown kind", ("kind: Ingress", "kind: Ingres"), "unknown kind"),
]


class RenderedManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = render()
        assert r.returncode == 0, r.stderr
        cls.bundle = r.stdout

    def test_rendered_manifests_validate(self):
        self.assertEqual(problems_of(self.bundle), [])
        kinds = re.findall(r"^kind: (\w+)$", self.bundle, re.M)
        # The executor first: the operator's webhook refuses a SpinApp whose executor is missing.
        self.assertEqual(kinds, ["SpinAppExecutor", "SpinApp", "Ingress"])

    def test_every_manifest_file_is_rendered(self):
        # A manifest render.sh does not print is neither applied nor validated.
        files = sorted(HERE.glob("*.yaml"))
        self.assertEqual([f.name for f in files], ["executor.yaml", "ingress.yaml", "spinapp.yaml"])
        for f in files:
            for kind in re.findall(r"^kind: (\w+)$", f.read_text(), re.M):
                self.assertIn(f"\nkind: {kind}\n", self.bundle, f"{f.name}: {kind}")

    def test_each_broken_copy_is_rejected(self):
        for what, (old, new), expected in BROKEN:
            with self.subTest(what):
                self.assertIn(old, self.bundle, f"{what}: the rendered manifests no longer contain {old!r}")
                problems = problems_of(self.bundle.replace(old, new, 1))
                self.assertTrue(any(expected in p for p in problems), f"{what}: {expected!r} not in {problems}")

    def test_command_line_exit_status(self):
        with tempfile.TemporaryDirectory() as d:
            good, bad = Path(d, "good.yaml"), Path(d, "bad.yaml")
            good.write_text(self.bundle)
            bad.write_text(self.bundle.replace("  variables:\n", "  varibles:\n"))
            run = lambda f: subprocess.run([sys.executable, str(HERE / "validate.py"), str(f)], capture_output=True, text=True)
            self.assertEqual(run(good).returncode, 0, run(good).stderr)
            failed = run(bad)
            self.assertEqual(failed.returncode, 1)
            self.assertIn("varibles", failed.stderr)


class Render(unittest.TestCase):
    def test_refuses_a_missing_value(self):
        r = render(ISOGATE_IMAGE=None, ISOGATE_INGRESS_CLASS="")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertIn("ISOGATE_IMAGE ISOGATE_INGRESS_CLASS", r.stderr)

    def test_refuses_an_image_the_kubelet_would_not_pull(self):
        readme_placeholder = re.search(r"export ISOGATE_IMAGE=(\S+)", readme_spinkube_section()).group(1)
        for image in ["ghcr.io/<you>/isogate:0.1.0", readme_placeholder, "ghcr.io/alice/isogate", "ghcr.io/alice/Isogate:1",
                      "ghcr.io/alice/isogate:0.1.0 "]:
            with self.subTest(image):
                r = render(ISOGATE_IMAGE=image)
                self.assertEqual((r.returncode, r.stdout), (2, ""))
                self.assertIn("not the reference of a pushed image", r.stderr)
        for image in ["ghcr.io/alice/isogate:0.1.0", "registry.example.com:5000/team/isogate-gw:v1",
                      "docker.io/alice/isogate@sha256:" + "a" * 64, "localhost:5000/isogate:dev"]:
            with self.subTest(image):
                r = render(ISOGATE_IMAGE=image)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(problems_of(r.stdout), [])

    def test_refuses_a_value_that_would_break_the_yaml(self):
        r = render(ISOGATE_DOMAIN='example.com"\nkind: Secret')
        self.assertEqual((r.returncode, r.stdout), (2, ""))

    def test_fills_in_values_verbatim(self):
        r = render(ISOGATE_LIBSQL_URL="https://db.example.internal/?a=1&b=2", ISOGATE_REPLICAS="3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('value: "https://db.example.internal/?a=1&b=2"', r.stdout)
        self.assertIn("replicas: 3\n", r.stdout)
        self.assertEqual(problems_of(r.stdout), [])

    def test_federation_issuers_default_to_loopback_and_are_filled_in(self):
        # spin.toml's allowed_outbound_hosts names {{ isogate_federation_issuers }}: the SpinApp
        # must set it, to the operator's pattern or to spin.toml's loopback-only default.
        r = render()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('- name: isogate_federation_issuers\n      value: "http://127.0.0.1:*"', r.stdout)
        r = render(ISOGATE_FEDERATION_ISSUERS="https://token.actions.githubusercontent.com")
        self.assertIn('value: "https://token.actions.githubusercontent.com"', r.stdout)
        self.assertEqual(problems_of(r.stdout), [])


class SpinRuntimeConfig(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
        try:
            checker = validate.Checker()
            checker.check_spin_runtime_config(f.name)
            return checker.problems
        finally:
            os.unlink(f.name)

    def test_committed_file_is_valid_for_spin_and_holds_no_placeholder(self):
        text = (ROOT / "infra/spin/runtime-config.toml").read_text()
        self.assertEqual(self.check(text), [])
        self.assertNotIn("REPLACE", text)

    def test_fields_spin_refuses_are_rejected(self):
        cases = [
            ('[sqlite_database.default]\ntype = "libsql"\nurl = "https://x"\ntoken = "REPLACE_WITH_LIBSQL_TOKEN"\n', "placeholder"),
            ('[sqlite_database.default]\ntype = "libsql"\nurl = "https://x"\ntokn = "t"\n', "unknown field 'tokn'"),
            ('[sqlite_database.default]\ntype = "libsql"\nurl = "https://x"\n', "missing field 'token'"),
            ('[sqlite_database.default]\ntype = "libsql"\nurl = "x.example"\ntoken = ""\n', "http:// or https://"),
            ('[sqlite_database.default]\ntype = "sqlite"\n', "not a Spin SQLite type"),
            ('[sqlite_databases.default]\ntype = "spin"\n', "not a key of Spin's runtime config"),
            ('[sqlite_database.default\n', "not TOML"),
        ]
        for text, expected in cases:
            with self.subTest(expected):
                problems = self.check(text)
                self.assertTrue(any(expected in p for p in problems), f"{expected!r} not in {problems}")


class ReadmeSteps(unittest.TestCase):
    """The README's SpinKube steps in the order that works."""

    def setUp(self):
        self.section = readme_spinkube_section()

    def position(self, needle):
        at = self.section.find(needle)
        self.assertGreaterEqual(at, 0, f"README's SpinKube section has no {needle!r}")
        return at

    def test_push_comes_after_build_and_login(self):
        push = self.position("spin registry push")
        self.assertLess(self.position("spin build"), push)
        self.assertLess(self.position("spin registry login"), push)

    def test_prerequisites_come_before_the_apply(self):
        apply = self.position("render.sh | kubectl apply -f -")
        for needle in ("cert-manager.yaml", "spin-operator.crds.yaml", "runtime-class-manager", "wasmtime-spin-v2",
                       "oci://ghcr.io/spinframework/charts/spin-operator"):
            self.assertLess(self.position(needle), apply, needle)

    def test_every_referenced_secret_is_created_before_the_apply(self):
        bundle = render().stdout
        refs = set(re.findall(r"secretKeyRef: \{ name: ([\w-]+), key: ([\w-]+) \}", bundle))
        self.assertEqual(len(refs), 3, refs)
        apply = self.position("render.sh | kubectl apply -f -")
        before = self.section[:apply].replace("\\\n", " ")
        created = {}
        for line in before.splitlines():
            m = re.search(r"kubectl create secret generic ([\w-]+)(.*)", line)
            if m:
                created[m.group(1)] = set(re.findall(r"--from-(?:literal|file)=([\w-]+)=", m.group(2)))
        for name, key in refs:
            self.assertIn(key, created.get(name, set()), f"secret {name} key {key} is not created before the apply")

    def test_no_placeholder_a_cluster_would_refuse(self):
        self.assertNotIn("<you>", self.section)
        self.assertNotIn("REPLACE_WITH", self.section)


if __name__ == "__main__":
    unittest.main()
