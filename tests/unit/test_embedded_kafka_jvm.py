"""The broker's JVM: its options, its class-data-sharing archive (recorded once, then
mapped; never half-written), and the ports its configuration names."""

from __future__ import annotations

from pathlib import Path

import pytest

from skuhub_cli import ports
from skuhub_cli.embedded_kafka import ClassArchive, EmbeddedKafka, jvm_options


def test_heap_and_gc_options_are_small_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_HEAP_OPTS", raising=False)
    monkeypatch.delenv("KAFKA_JVM_PERFORMANCE_OPTS", raising=False)
    options = jvm_options()
    assert options[:3] == ["-Xms64m", "-Xmx384m", "-XX:+UseSerialGC"]
    assert "-XX:+ExitOnOutOfMemoryError" in options


def test_kafkas_own_variables_replace_heap_and_gc_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_HEAP_OPTS", "-Xmx1g")
    monkeypatch.setenv("KAFKA_JVM_PERFORMANCE_OPTS", "-XX:+UseG1GC -XX:MaxGCPauseMillis=20")
    options = jvm_options()
    assert options[:3] == ["-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
    assert "-Xmx384m" not in options
    assert "-XX:+UseSerialGC" not in options


def test_the_first_run_records_to_a_name_of_its_own_and_later_runs_map_the_kept_archive(
    tmp_path: Path,
) -> None:
    archive = ClassArchive(tmp_path / "classes.jsa")
    (recording,) = archive.options()
    assert recording.startswith("-XX:ArchiveClassesAtExit=")
    partial = Path(recording.split("=", 1)[1])
    assert partial != archive.path

    partial.write_bytes(b"archive")  # what the JVM writes as it exits
    archive.keep_dumped()

    assert archive.path.read_bytes() == b"archive"
    assert not partial.exists()
    assert ClassArchive(archive.path).options() == [f"-XX:SharedArchiveFile={archive.path}"]


def test_a_jvm_that_recorded_nothing_leaves_no_archive(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path / "classes.jsa")
    archive.options()
    archive.keep_dumped()  # killed, or unable to dump
    assert not archive.path.exists()


def test_two_brokers_recording_at_once_write_different_files(tmp_path: Path) -> None:
    first, second = ClassArchive(tmp_path / "a.jsa"), ClassArchive(tmp_path / "a.jsa")
    assert first.options() != second.options()


class _Picks:
    """A port picker that offers the given ports in turn."""

    def __init__(self, *ports: int) -> None:
        self.ports = list(ports)

    def randrange(self, start: int, stop: int) -> int:
        return self.ports.pop(0)


def test_the_controller_never_takes_a_port_the_broker_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker's port may come from another process (``skuhub dev --kafka-port``), not
    bound yet: the controller's port, picked here, must still differ (seen once in CI)."""
    given, secured, other = 23_411, 23_412, 23_413
    monkeypatch.setattr(ports, "_PICK", _Picks(given, secured, other))
    monkeypatch.setattr(ports, "_HANDED_OUT", set())  # as a fresh process starts
    monkeypatch.setattr(ports, "_bindable", lambda port: True)  # none bound yet
    kafka = EmbeddedKafka(tmp_path, given, secured_listeners={"SASL_PLAINTEXT": secured})

    written = kafka._write_config().read_text()

    assert f"CONTROLLER://127.0.0.1:{other}" in written
    assert f"controller.quorum.voters=1@127.0.0.1:{other}" in written
