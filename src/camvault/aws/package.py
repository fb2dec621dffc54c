"""``camvault aws package``: the Lambda artifact, a zip of camvault and its dependencies.

Dependencies come as manylinux2014 wheels for the chosen CPU (``x86_64`` or ``arm64``), for
CPython 3.11 (the functions' runtime, on Amazon Linux 2, glibc 2.26): pip is asked for exactly
that platform with ``--only-binary=:all:``, so nothing is compiled here and nothing built for
this machine slips in. PyAV's wheels carry their own FFmpeg libraries. camvault itself is copied
from the installed package (pure Python). The zip is checked against Lambda's limits.

This module runs pip and writes the zip; it never talks to AWS.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import camvault

ZIPPED_LIMIT = 50 * 1000 * 1000
"""Lambda's limit for a zip uploaded directly (50 MB); a zip passed through S3 may be larger."""
UNZIPPED_LIMIT = 250 * 1000 * 1000
"""Lambda's limit for the unzipped function with its layers (250 MB)."""
PYTHON_VERSION = "3.11"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
SKIPPED_DIRS = {"__pycache__"}
EXTRA = "aws"
EMBEDDED_ONLY = frozenset(
    {"pyftpdlib", "pyopenssl", "cryptography", "paho-mqtt", "uvicorn", "httptools", "uvloop"}
)
"""Requirements only the embedded server needs (FTP gateway, FTPS, MQTT, the HTTP server): the
Lambda handlers never import them, so the package leaves them out (pyftpdlib has no wheel at all)."""


class PackageError(Exception):
    """The package could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class Package:
    path: Path
    architecture: str
    zipped: int
    unzipped: int
    files: int
    sha256: str

    def report(self) -> list[str]:
        """Lines for people: sizes against Lambda's limits."""
        return [
            f"{self.path} ({self.architecture}, {self.files} files)",
            f"  zipped:   {_mb(self.zipped)}; Lambda takes up to {_mb(ZIPPED_LIMIT)} uploaded directly "
            f"({_share(self.zipped, ZIPPED_LIMIT)}), more through S3 (camvault aws deploy uses S3)",
            f"  unzipped: {_mb(self.unzipped)} of Lambda's {_mb(UNZIPPED_LIMIT)} "
            f"({_share(self.unzipped, UNZIPPED_LIMIT)})",
        ]

    def over_limits(self) -> list[str]:
        """What keeps Lambda from taking this package (``deploy`` passes it through S3, where
        only the unzipped limit applies; the zipped limit is for direct uploads)."""
        if self.unzipped > UNZIPPED_LIMIT:
            return [f"unzipped size {_mb(self.unzipped)} exceeds Lambda's {_mb(UNZIPPED_LIMIT)}"]
        return []


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _share(size: int, limit: int) -> str:
    return f"{100 * size / limit:.0f}%"


def requirements(distribution: str = "camvault", extra: str = EXTRA) -> list[str]:
    """camvault's runtime requirements plus those of the ``aws`` extra, without markers, minus
    what only the embedded server needs."""
    found = []
    for line in importlib.metadata.requires(distribution) or []:
        requirement, _, marker = line.partition(";")
        marker = marker.replace(" ", "").replace("'", '"')
        if (not marker or marker == f'extra=="{extra}"') and _name(requirement) not in EMBEDDED_ONLY:
            found.append(requirement.strip())
    return found


def _name(requirement: str) -> str:
    """The project name a requirement names, normalised (``PyOpenSSL>=24`` -> ``pyopenssl``)."""
    name = re.split(r"[\s<>=!~\[;(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_command(architecture: str, target: Path, wanted: list[str]) -> list[str]:
    """The pip call that installs ``wanted`` as Lambda's platform needs them into ``target``."""
    if architecture not in PLATFORMS:
        raise PackageError(f"unknown architecture {architecture!r}: use {' or '.join(PLATFORMS)}")
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[architecture],
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        *wanted,
    ]


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def build_package(
    architecture: str, output: Path, *, run: Runner = _run, say: Callable[[str], None] = lambda _: None
) -> Package:
    """Install the dependencies for ``architecture``, add camvault, zip it all into ``output``.
    ``say`` hears one line per step (the pip step takes minutes on a cold cache)."""
    with tempfile.TemporaryDirectory(prefix="camvault-package-") as work:
        target = Path(work) / "site"
        wanted = requirements()
        say(f"1/3 pip: manylinux2014 {architecture} wheels of {', '.join(wanted)} and what they need…")
        result = run(pip_command(architecture, target, wanted))
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise PackageError(
                f"pip could not get manylinux2014 {architecture} wheels for Python {PYTHON_VERSION}: "
                f"{last}; check the network or the package index (pip config list)"
            )
        shutil.copytree(
            Path(camvault.__file__).parent,
            target / "camvault",
            ignore=shutil.ignore_patterns(*SKIPPED_DIRS),
            dirs_exist_ok=True,
        )
        say(f"2/3 added camvault {camvault.__version__}")
        say(f"3/3 zipping into {output}…")
        return _zip(target, output, architecture)


def _zip(source: Path, output: Path, architecture: str) -> Package:
    """Zip ``source`` into ``output`` (written beside it, then renamed into place)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    unzipped = files = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir() or SKIPPED_DIRS & set(path.relative_to(source).parts):
                continue
            info = zipfile.ZipInfo.from_file(path, path.relative_to(source).as_posix())
            info.date_time = (1980, 1, 1, 0, 0, 0)  # same inputs, same zip
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            unzipped += info.file_size
            files += 1
    partial.replace(output)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    return Package(output, architecture, output.stat().st_size, unzipped, files, digest)
