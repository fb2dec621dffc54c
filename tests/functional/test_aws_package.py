"""``camvault aws package`` for real: pip fetches manylinux2014 wheels for both CPUs, the zips fit
Lambda, their native libraries are built for the CPU asked for, and the x86_64 package (this
machine's CPU) imports both handlers and probes a real clip with its own PyAV, alone, without
this environment's site-packages."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from camvault.aws.package import UNZIPPED_LIMIT, Package, PackageError, build_package, requirements
from tests.support.cli import camvault
from tests.support.media import make_clip

# Building both packages downloads about 120 MB of wheels on a machine without pip's cache.
pytestmark = [pytest.mark.functional, pytest.mark.timeout(900)]

ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Package]:
    folder = tmp_path_factory.mktemp("dist")
    return {arch: build_package(arch, folder / f"camvault-lambda-{arch}.zip") for arch in ("x86_64", "arm64")}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_package_fits_lambda_and_holds_camvault_and_pyav(packages: dict[str, Package], arch: str) -> None:
    package = packages[arch]
    assert package.unzipped < UNZIPPED_LIMIT and package.over_limits() == []
    report = "\n".join(package.report())
    assert "of Lambda's 250.0 MB" in report and "camvault aws deploy uses S3" in report
    with zipfile.ZipFile(package.path) as archive:
        names = archive.namelist()
        assert sum(info.file_size for info in archive.infolist()) == package.unzipped
        libraries = [n for n in names if n.startswith("av.libs/") and ".so" in n]
        assert libraries, "PyAV's FFmpeg libraries are missing"
        for name in libraries:
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF"
            assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[arch], name
    for needed in (
        "camvault/processor/lambda_handler.py",
        "camvault/api/lambda_handler.py",
        "mangum/__init__.py",
        "boto3/__init__.py",
        "fastapi/__init__.py",
    ):
        assert needed in names
    assert not [n for n in names if "__pycache__" in n]


def test_x86_64_package_runs_alone(packages: dict[str, Package], tmp_path: Path) -> None:
    """Only the standard library and the unzipped package: the handlers import, and the
    packaged PyAV probes a clip and makes its thumbnail."""
    root = tmp_path / "task"
    with zipfile.ZipFile(packages["x86_64"].path) as archive:
        archive.extractall(root)
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240)
    script = (
        "import json, sys; sys.path[:0] = [sys.argv[1]]\n"
        "import camvault.processor.lambda_handler, camvault.api.lambda_handler\n"
        "from pathlib import Path\n"
        "from camvault.media.probe import analyse\n"
        "found = analyse(Path(sys.argv[2]))\n"
        "print(json.dumps({'playable': found.probe.playable, 'width': found.probe.media.width,\n"
        "  'jpeg': found.thumbnail_jpeg[:2].hex(), 'av': __import__('av').__file__}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(root), str(clip)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["playable"] is True and result["width"] == 320
    assert result["jpeg"] == "ffd8"  # a JPEG
    assert result["av"].startswith(str(root))  # the package's own PyAV


def test_requirements_are_the_runtime_and_aws_ones() -> None:
    wanted = {r.split(">")[0].split("=")[0].split("[")[0] for r in requirements()}
    assert {"av", "fastapi", "boto3", "mangum"} <= wanted
    assert not wanted & {"pytest", "moto", "ruff", "mypy", "cfn-lint"}
    # The handlers never import the embedded server's FTP, FTPS, MQTT or HTTP-server code, and
    # pyftpdlib has no wheel that pip could take for Lambda's platform.
    assert not wanted & {"pyftpdlib", "pyopenssl", "paho-mqtt", "uvicorn", "uvloop", "httptools"}


def test_a_pip_failure_is_one_line_saying_what_to_check(tmp_path: Path) -> None:
    def failing_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
        assert "--only-binary=:all:" in command and "manylinux2014_aarch64" in command
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for av>=12\n"
        )

    with pytest.raises(PackageError, match=r"arm64 wheels .*No matching distribution.*package index"):
        build_package("arm64", tmp_path / "out.zip", run=failing_pip)
    assert not (tmp_path / "out.zip").exists()


def test_cli_refuses_an_unknown_architecture() -> None:
    run = camvault("aws", "package", "--arch", "mips")
    assert run.code == 2 and "invalid choice: 'mips'" in run.err
