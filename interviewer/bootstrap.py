"""Set-up for a fresh machine, using only the standard library.

    python3 -m interviewer.bootstrap run [ARGS...]    install what is missing, open the trainer
    python3 -m interviewer.bootstrap test [ARGS...]   install what is missing, run every check

Both are idempotent: Debian packages are installed only when missing (as root,
or through sudo when it needs no password; otherwise the exact apt-get line is
printed and nothing else happens), the virtual environment ``.venv`` is created
once, and the pinned Python dependencies are installed again only when
``pyproject.toml`` changed.

openai-whisper is installed without its Linux-only ``triton`` dependency: triton
(about 1 GB) serves CUDA kernels only, and CPU transcription, word timestamps
included, works without it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
BOOTSTRAP_VERSION = "3"

TORCH_PIN = "torch==2.13.0"
WHISPER_PIN = "openai-whisper==20250625"

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


def requirements(with_groups: list[str]) -> tuple[list[str], str]:
    """Dependencies from pyproject.toml (without torch and whisper, which are
    installed first and specially) and a digest of everything that decides the
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
    rest = [d for d in deps if not d.startswith(("torch", "openai-whisper"))]
    digest = hashlib.sha256(
        (text + BOOTSTRAP_VERSION + ",".join(with_groups)).encode()
    ).hexdigest()[:16]
    return rest, digest


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
    deps, digest = requirements(groups)
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return py
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    say(f"installing Python packages into .venv ({TORCH_PIN}, then the rest)")
    run(pip + [TORCH_PIN])
    run(pip + ["--no-deps", WHISPER_PIN])
    # torch stays pinned while the rest resolves, so nothing can pull a newer build
    run(pip + [*deps, TORCH_PIN])
    run(pip + ["--no-deps", "-e", str(ROOT)])
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
    steps: list[tuple[str, list[str]]] = [
        ("lint (ruff)", [str(bindir / "ruff"), "check", "interviewer", "questions", "audio", "tests"]),
        ("layers (import-linter)", [str(bindir / "lint-imports")]),
        ("tests (pytest)", [str(py), "-m", "pytest", *argv]),
    ]
    bench_flag = ["--quick"] if quick else []
    for mod in ("tests.benchmarks.grading", "tests.benchmarks.feedback_latency"):
        if (ROOT / (mod.replace(".", "/") + ".py")).exists():
            steps.append((f"benchmark {mod.rsplit('.', 1)[1]}", [str(py), "-m", mod, *bench_flag]))
    failed: list[str] = []
    try:
        for title, cmd in steps:
            say(f"--- {title}")
            r = subprocess.run(cmd, cwd=ROOT, env=env)
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
