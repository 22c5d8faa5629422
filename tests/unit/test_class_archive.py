"""The broker's class-data-sharing archive: recorded once, then mapped; never half-written."""

from __future__ import annotations

from pathlib import Path

from skuhub_cli.embedded_kafka import ClassArchive


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
