"""The broker's jars: jgo (no Maven) fetches the same set as Maven, and a fetch that did not
finish is fetched again. These download from Maven Central (or SKUHUB_MAVEN_REPOSITORY)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skuhub_cli.java_runtime import find_java
from skuhub_cli.kafka_jars import KAFKA_VERSION, kafka_classpath

pytestmark = pytest.mark.network

# Prints the name and size of every jar kafka_classpath returns, as JSON.
FETCH = """
import json, sys
from pathlib import Path
from skuhub_cli.kafka_jars import kafka_classpath
jars = kafka_classpath(lambda line: print(line, file=sys.stderr), Path(sys.argv[1]))
print(json.dumps({jar.name: jar.stat().st_size for jar in jars}))
"""


def fetch_in_subprocess(cache: Path, path: str, java: Path) -> dict[str, int]:
    """Jar name -> size, fetched into ``cache`` by a fresh process with ``PATH=path``."""
    env = {**os.environ, "SKUHUB_CACHE_DIR": str(cache), "PATH": path, "JAVA_HOME": ""}
    done = subprocess.run(
        [sys.executable, "-c", FETCH, str(java)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    jars: dict[str, int] = json.loads(done.stdout)
    return jars


@pytest.fixture(scope="module")
def java() -> Path:
    return find_java(lambda line: None)


def test_without_maven_jgo_fetches_the_jars_maven_fetches(tmp_path: Path, java: Path) -> None:
    no_maven = tmp_path / "bin"  # a PATH without mvn (nor java: it is passed explicitly)
    no_maven.mkdir()
    with_jgo = fetch_in_subprocess(tmp_path / "jgo", str(no_maven), java)
    assert (tmp_path / "jgo" / f"kafka-{KAFKA_VERSION}" / "complete").is_file()
    # jgo's default (managed) resolution would take kafka-clients 3.9.1 from log4j's parent.
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in with_jgo
    assert f"kafka-clients-{KAFKA_VERSION}.jar" in with_jgo
    if shutil.which("mvn") is None:
        pytest.skip("no mvn on this machine to compare jgo's jars with")
    with_maven = fetch_in_subprocess(tmp_path / "maven", os.environ["PATH"], java)
    assert with_jgo == with_maven


def tool() -> str:
    return "Maven" if shutil.which("mvn") else "jgo"


def test_a_fetch_that_did_not_finish_is_fetched_again(
    tmp_path: Path, java: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / f"kafka-{KAFKA_VERSION}"
    (home / "lib").mkdir(parents=True)
    # As a killed fetch leaves it: a truncated jar, a stray one, a staging dir, no marker.
    (home / "lib" / f"kafka_2.13-{KAFKA_VERSION}.jar").write_bytes(b"PK\x03\x04")
    (home / "lib" / "stray-1.0.jar").write_bytes(b"PK\x03\x04")
    (home / "lib-interrupted").mkdir()
    monkeypatch.setenv("SKUHUB_CACHE_DIR", str(tmp_path))
    said: list[str] = []

    jars = kafka_classpath(said.append, java)

    assert said[:1] == [
        f"fetching Apache Kafka {KAFKA_VERSION} (43 MB, once) with {tool()} into {home}"
    ]
    assert (home / "complete").is_file()
    names = {jar.name for jar in jars}
    assert "stray-1.0.jar" not in names
    assert (home / "lib" / f"kafka_2.13-{KAFKA_VERSION}.jar").stat().st_size > 1_000_000
    assert not (home / "lib-interrupted").exists()
    # Complete now: the next call fetches nothing.
    said.clear()
    assert kafka_classpath(said.append, java) == jars
    assert said == []
