"""The Apache Kafka broker's jars, fetched once from Maven Central into a cache outside the repo.

Maven resolves them where it is installed (it uses the machine's own
repository settings); elsewhere the pure-Python resolver ``jgo`` does, installed
on demand at the version pinned in skuhub's ``standalone`` extra. Both resolve
the same runtime-scope set of jars. Either way the jars land in
``<cache>/kafka-<version>/lib`` and a marker file says the set is complete, so an
interrupted download is fetched again rather than half used.

``SKUHUB_MAVEN_REPOSITORY`` names a Maven repository (a mirror or proxy of Maven
Central) to fetch from instead of Central, for networks that block Central.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from skuhub_cli.java_runtime import STANDALONE_EXTRA, install_extra_requirements, java_major
from skuhub_cli.processes import StackError

KAFKA_VERSION = "4.4.0"
# The broker (Scala 2.13 build) and the binding that sends its slf4j 1.7 logging to log4j2.
ARTIFACTS = (
    f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
    "org.apache.logging.log4j:log4j-slf4j-impl:2.25.3",
)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_COMPLETE = "complete"
REPOSITORY_VARIABLE = "SKUHUB_MAVEN_REPOSITORY"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cache_root() -> Path:
    """``SKUHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/skuhub``, else ``~/.cache/skuhub``."""
    if explicit := os.environ.get("SKUHUB_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skuhub"


def maven_repository() -> str | None:
    """The repository to fetch from instead of Maven Central (``SKUHUB_MAVEN_REPOSITORY``)."""
    return os.environ.get(REPOSITORY_VARIABLE, "").strip().rstrip("/") or None


def _source() -> str:
    return maven_repository() or "Maven Central"


def _unreachable_hint() -> str:
    if maven_repository():
        return f"check that {REPOSITORY_VARIABLE} names a reachable Maven repository"
    return f"allow access to Maven Central, or set {REPOSITORY_VARIABLE} to a mirror of it"


def kafka_classpath(say: Callable[[str], None], java: Path) -> list[Path]:
    """The broker's jars, fetched into the cache first if they are not there yet."""
    home = cache_root() / f"kafka-{KAFKA_VERSION}"
    if not (home / _COMPLETE).is_file():
        home.mkdir(parents=True, exist_ok=True)
        # One fetch per cache at a time (a test session and `skuhub dev` may start together):
        # whoever waited finds the set complete.
        with _locked(home / ".lock"):
            if not (home / _COMPLETE).is_file():
                _fetch(home, say, java)
    return sorted((home / "lib").glob("*.jar"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch(home: Path, say: Callable[[str], None], java: Path) -> None:
    lib = home / "lib"
    # What a killed fetch left behind (under the lock, nobody else is using it).
    for leftover in [*home.glob("lib-*"), *home.glob("repository-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=home))
    try:
        tool = "Maven" if shutil.which("mvn") else "jgo"
        say(f"fetching Apache Kafka {KAFKA_VERSION} (43 MB, once) with {tool} into {home}")
        if tool == "Maven":
            _resolve_with_maven(staging, java)
        else:
            _resolve_with_jgo(staging, java, say)
        if not any(staging.glob("kafka_2.13-*.jar")):
            raise StackError(f"resolving {ARTIFACTS[0]} left no broker jar in {staging}")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (home / _COMPLETE).write_text(KAFKA_VERSION + "\n")


def _resolve_with_maven(target: Path, java: Path) -> None:
    pom = target.parent / "pom.xml"
    dependencies = "".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version>"
        "</dependency>".format(*coordinate.split(":"))
        for coordinate in ARTIFACTS
    )
    repositories = ""
    if url := maven_repository():
        # Same id as the super-POM's Central, so it replaces Central (for the dependency
        # plugin too) rather than being tried after it; mirrors in settings.xml still apply.
        central = f"<id>central</id><url>{url}</url>"
        repositories = (
            f"<repositories><repository>{central}</repository></repositories>"
            f"<pluginRepositories><pluginRepository>{central}</pluginRepository>"
            "</pluginRepositories>"
        )
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>skuhub</groupId><artifactId>embedded-kafka</artifactId><version>1</version>"
        f"<packaging>pom</packaging>{repositories}<dependencies>{dependencies}</dependencies>"
        "</project>"
    )
    command = [
        "mvn", "--batch-mode", "--quiet", "--file", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={target}", "-DincludeScope=runtime", "-Dstyle.color=never",
    ]  # fmt: skip
    env = {**os.environ, "JAVA_HOME": str(java.resolve().parents[1])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() if "[ERROR]" in line]
        first = _ANSI.sub("", (errors or ["(no error line)"])[0]).replace("[ERROR] ", "")
        # Maven nests its causes "what: why: ...: root cause"; the ends say the most.
        causes = first.removesuffix(" -> [Help 1]").split(": ")
        gist = causes[0] if len(causes) == 1 else f"{causes[0]} … {causes[-1]}"
        raise StackError(
            f"Maven could not fetch Apache Kafka {KAFKA_VERSION} from {_source()} "
            f"({_one_line(gist)}): {_unreachable_hint()} (or fix Maven's settings.xml)"
        )


def _resolve_with_jgo(target: Path, java: Path, say: Callable[[str], None]) -> None:
    """Resolve ``ARTIFACTS`` as Maven does (runtime scope, nearest version wins) with jgo's
    pure-Python resolver, and copy the jars into ``target``."""
    try:
        from jgo.maven import (  # type: ignore[import-not-found,unused-ignore]
            MavenContext,
            ProfileConstraints,
            PythonResolver,
        )
    except ImportError:
        say("Maven (mvn) is not installed: installing jgo, a pure-Python Maven resolver (once)")
        install_extra_requirements(
            STANDALONE_EXTRA,
            "jgo",
            missing="Maven (mvn) is not installed",
            remedy="install Maven",
        )
        from jgo.maven import (  # type: ignore[import-not-found,unused-ignore]
            MavenContext,
            ProfileConstraints,
            PythonResolver,
        )

    # A private local repository, removed afterwards: jgo writes downloads in place, so an
    # interrupted one would leave a truncated jar that a later run takes as cached.
    repository = Path(tempfile.mkdtemp(prefix="repository-", dir=target.parent))
    try:
        url = maven_repository()
        context = MavenContext(
            # Profiles activated by JDK version see the Java the broker will run on, as
            # Maven's do (it runs on that Java).
            resolver=PythonResolver(
                profile_constraints=ProfileConstraints(jdk=str(java_major(java) or ""))
            ),
            repo_cache=repository,
            # Replace Central rather than add to it: jgo tries every repository in turn and
            # reads no mirrors from settings.xml.
            remote_repos={"central": url} if url else None,
        )
        # "!" (raw): otherwise jgo imports each coordinate's dependencyManagement like a BOM,
        # and log4j's parent POM would pin kafka-clients 3.9.1 and older jackson, lz4, zstd
        # and snappy jars; raw gives Maven's nearest-wins set, the same 45 jars.
        inputs, transitive = context.resolver.resolve(
            [context.create_dependency(f"{coordinate}!") for coordinate in ARTIFACTS]
        )
        needed = [d for d in [*inputs, *transitive] if d.scope in (None, "compile", "runtime")]
        for dependency in needed:
            # jgo logs (at debug level) and skips a POM it cannot fetch, and that artifact's
            # dependencies then go missing without a word: fetching it again raises instead.
            dependency.artifact.component.pom()
        for dependency in needed:
            artifact = dependency.artifact
            shutil.copyfile(artifact.resolve(), target / artifact.filename)
    except Exception as exc:
        # Anything from the network, the POMs or the disk: one line for the user, whatever
        # its type (requests, XML parsing and jgo's own errors all reach here).
        raise StackError(
            f"jgo could not fetch Apache Kafka {KAFKA_VERSION} from {_source()} "
            f"({_reason(exc)}): {_unreachable_hint()}"
        ) from exc
    finally:
        shutil.rmtree(repository, ignore_errors=True)


def _reason(exc: BaseException) -> str:
    """The gist of a resolver error: for a failed connection, the OS's word and the file."""
    text = " ".join(str(exc).split())
    if errno := re.search(r"\[Errno -?\d+\] ([^\"')]+)", text):
        url = re.search(r"with url: (\S+)", text)
        text = errno.group(1) + (f" (fetching {url.group(1).rsplit('/', 1)[-1]})" if url else "")
    return f"{type(exc).__name__}: {_one_line(text)}"


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
