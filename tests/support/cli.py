"""Run the ``camvault`` command in-process or as a real subprocess, and set up data folders."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from camvault.cli.main import main


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]


def camvault(*args: str | Path, stdin: str = "") -> Run:
    """Run ``camvault ARGS`` in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
    return Run(code, out.getvalue(), err.getvalue())


def camvault_process(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run ``python -m camvault ARGS`` as a separate process."""
    result = subprocess.run(
        [sys.executable, "-m", "camvault", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def init_data(folder: Path, settings: dict[str, str | int] | None = None) -> Path:
    """``camvault init`` into ``folder``, then set ``settings`` (dotted keys); returns the config path."""
    run = camvault("init", folder)
    assert run.code == 0, run.err
    config = folder / "camvault.toml"
    for dotted, value in (settings or {}).items():
        set_key(config, dotted, value)
    return config


def set_key(config: Path, dotted: str, value: str | int) -> None:
    """Uncomment and set ``section.key`` in a starter file, as a person would edit it."""
    section, key = dotted.split(".")
    lines = config.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"[{section}]")
    for number in range(start + 1, len(lines)):
        if lines[number].startswith((f"# {key} = ", f"{key} = ")):
            shown = f'"{value}"' if isinstance(value, str) else str(value)
            lines[number] = f"{key} = {shown}"
            config.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return
    raise KeyError(dotted)
