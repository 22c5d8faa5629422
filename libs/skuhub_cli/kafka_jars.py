"""The Apache Kafka broker's jars, fetched once from Maven Central into a cache outside the repo.

Maven resolves them where it is installed (it uses the machine's own
repository settings); elsewhere the pure-Python resolver ``jgo`` does, installed
on demand at the version pinned in skuhub's ``standalone`` extra. Either way the
jars land in ``<cache>/kafka-<version>/lib`` and a marker file says the set is
complete, so an interrupted download is fetched again rather than half used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from skuhub_cli.processes import StackError

KAFKA_VERSION = "4.4.0"
# The broker (Scala 2.13 build) and the binding that sends its slf4j 1.7 logging to log4j2.
ARTIFACTS = (
    f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
    "org.apache.logging.log4j:log4j-slf4j-impl:2.25.3",
)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_COMPLETE = "complete"


def cache_root() -> Path:
    """``SKUHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/skuhub``, else ``~/.cache/skuhub``."""
    if explicit := os.environ.get("SKUHUB_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skuhub"


def kafka_classpath(say: Callable[[str], None], java: Path) -> list[Path]:
    """The broker's jars, fetched into the cache first if they are not there yet."""
    home = cache_root() / f"kafka-{KAFKA_VERSION}"
    lib = home / "lib"
    if not (home / _COMPLETE).is_file():
        home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=home))
        try:
            tool = "Maven" if shutil.which("mvn") else "jgo"
            say(f"fetching Apache Kafka {KAFKA_VERSION} (43 MB, once) with {tool} into {home}")
            if tool == "Maven":
                _resolve_with_maven(staging, java)
            else:
                _resolve_with_jgo(staging, java)
            if not any(staging.glob("kafka_2.13-*.jar")):
                raise StackError(f"resolving {ARTIFACTS[0]} left no broker jar in {staging}")
            shutil.rmtree(lib, ignore_errors=True)
            staging.rename(lib)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        (home / _COMPLETE).write_text(KAFKA_VERSION + "\n")
    return sorted(lib.glob("*.jar"))


def _resolve_with_maven(target: Path, java: Path) -> None:
    pom = target.parent / "pom.xml"
    dependencies = "".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version>"
        "</dependency>".format(*coordinate.split(":"))
        for coordinate in ARTIFACTS
    )
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>skuhub</groupId><artifactId>embedded-kafka</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{dependencies}</dependencies></project>"
    )
    command = [
        "mvn", "--batch-mode", "--quiet", "--file", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={target}", "-DincludeScope=runtime",
    ]  # fmt: skip
    env = {**os.environ, "JAVA_HOME": str(java.resolve().parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() if "[ERROR]" in line]
        raise StackError(
            f"Maven could not fetch Apache Kafka {KAFKA_VERSION} from Maven Central: "
            f"{(errors or ['(no error line)'])[0].replace('[ERROR] ', '')[:300]} "
            "(check access to Maven Central, or Maven's settings.xml)"
        )


def _resolve_with_jgo(target: Path, java: Path) -> None:
    raise StackError(
        f"Maven is not installed and fetching Apache Kafka {KAFKA_VERSION} without it is not "
        "supported yet: install Maven (mvn)"
    )
