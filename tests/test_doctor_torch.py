"""``interviewer doctor`` says which PyTorch build is installed and warns about a GPU build."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest

from interviewer.bootstrap import TORCH_CPU_INDEX
from interviewer.commands import doctor


def _fake(site: Path, name: str, version: str, files: dict[str, str]) -> md.Distribution:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record = []
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
        record.append(f"{rel},,")
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return md.PathDistribution(info)


VERSION_PY = """from typing import Optional

__version__ = '{v}'
debug = False
cuda: Optional[str] = {cuda}
hip: Optional[str] = {hip}
"""


def _torch(site: Path, version: str, cuda: str = "None", hip: str = "None") -> md.Distribution:
    text = VERSION_PY.format(v=version, cuda=cuda, hip=hip)
    return _fake(site, "torch", version, {"torch/version.py": text})


def _lines(build: doctor.TorchBuild | None) -> tuple[list[str], doctor.Report]:
    out: list[str] = []
    report = doctor.Report(out=out.append)
    doctor.check_torch(report, find=lambda: build)
    return out, report


def test_cpu_build(tmp_path: Path) -> None:
    build = doctor.torch_build(_torch(tmp_path, "2.13.0+cpu"), installed=[])
    assert build == doctor.TorchBuild("2.13.0+cpu", None)
    out, report = _lines(build)
    assert out == ["OK    PyTorch: 2.13.0+cpu, CPU build"]
    assert not report.fixes and not report.failed


def test_cuda_build_is_reported_with_its_gpu_libraries(tmp_path: Path) -> None:
    torch = _torch(tmp_path, "2.13.0", cuda="'12.8'")
    libs = [
        _fake(tmp_path, "nvidia-cublas-cu12", "12.8.4", {"nvidia/cublas/lib.so": "x" * 3000}),
        _fake(tmp_path, "triton", "3.5.0", {"triton/x.so": "y" * 1000}),
        _fake(tmp_path, "numpy", "2.4.0", {"numpy/z.so": "z" * 5000}),
    ]
    build = doctor.torch_build(torch, installed=libs)
    assert build is not None and build.gpu == "CUDA 12.8"
    assert build.gpu_packages == ("nvidia-cublas-cu12", "triton")
    assert build.gpu_bytes == 4000
    out, report = _lines(build)
    assert out[0].startswith("WARN  PyTorch: 2.13.0, CUDA 12.8 build with 0 MB of GPU libraries")
    assert "CPU only" in out[0]
    assert not report.failed, "a GPU build works, it is only larger"
    (fix,) = report.fixes
    assert f"--index-url {TORCH_CPU_INDEX} torch==2.13.0+cpu" in fix
    assert "uninstall -y nvidia-cublas-cu12 triton" in fix


def test_rocm_build(tmp_path: Path) -> None:
    build = doctor.torch_build(_torch(tmp_path, "2.13.0+rocm6.4", hip="'6.4.43482'"), installed=[])
    assert build is not None and build.gpu == "ROCm 6.4.43482"


@pytest.mark.parametrize(
    ("version", "gpu"),
    [("2.13.0+cpu", None), ("2.13.0+cu128", "CUDA 12.8"), ("2.13.0+cu126", "CUDA 12.6")],
)
def test_without_version_py_the_local_label_decides(
    tmp_path: Path, version: str, gpu: str | None
) -> None:
    dist = _fake(tmp_path, "torch", version, {})
    build = doctor.torch_build(dist, installed=[])
    assert build is not None and build.gpu == gpu


def test_missing_torch_fails_with_the_set_up_command() -> None:
    out, report = _lines(None)
    assert out[0].startswith("FAIL  PyTorch: not installed")
    assert report.failed and "bootstrap run" in report.fixes[0]


def test_the_installed_build_agrees_with_torch_itself() -> None:
    import torch

    build = doctor.torch_build()
    assert build is not None
    assert build.version == torch.__version__
    expected = f"CUDA {torch.version.cuda}" if torch.version.cuda else (
        f"ROCm {torch.version.hip}" if torch.version.hip else None
    )
    assert build.gpu == expected
