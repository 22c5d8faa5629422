"""Kafka and PostgreSQL for a stack: the ones given are used as they are, the others run
embedded, started in parallel and stopped (broker first) when the block ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_cli.embedded_postgres import EmbeddedPostgres
from skuhub_cli.processes import StackError

KAFKA_LOG = "kafka.log"


@dataclass(frozen=True, slots=True)
class EmbeddedInfrastructure:
    """Where the broker and the database are, and the embedded parts started for them."""

    kafka_bootstrap: str
    database_url: str
    kafka: EmbeddedKafka | None = None
    postgres: EmbeddedPostgres | None = None

    def failure(self) -> str | None:
        """Why an embedded part no longer runs (with its log tail); None while all run."""
        for part in (self.kafka, self.postgres):
            if part is not None and (failure := part.failure()) is not None:
                return failure
        return None


def _quiet(message: str) -> None:
    """Nobody is told."""


@contextlib.contextmanager
def embedded_infrastructure(
    *,
    log_dir: Path,
    postgres_dir: Path,
    kafka_dir: Path,
    kafka_port: int | None = None,
    kafka_bootstrap: str = "",
    database_url: str = "",
    on_ready: Callable[[str], None] = _quiet,
    on_progress: Callable[[str], None] = _quiet,
) -> Iterator[EmbeddedInfrastructure]:
    """Start an embedded broker with its log in ``kafka_dir`` unless ``kafka_bootstrap``
    is given, and an embedded PostgreSQL in ``postgres_dir`` unless ``database_url`` is
    given, in parallel. Both directories are kept between runs.

    The broker logs to ``log_dir/kafka.log`` (one run per file) and listens on
    ``kafka_port`` (a free port when None). ``on_progress`` hears of long steps (the
    first fetch of Kafka); ``on_ready`` of each part as it is up. Everything started
    here is stopped when the block ends, whatever happens.
    """
    kafka = None
    if not kafka_bootstrap:
        (log_dir / KAFKA_LOG).unlink(missing_ok=True)  # one run per log file
        kafka = EmbeddedKafka(kafka_dir, kafka_port, log_path=log_dir / KAFKA_LOG, say=on_progress)
    postgres = None if database_url else EmbeddedPostgres(postgres_dir)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = []
            if kafka is not None:
                futures.append(pool.submit(_start_kafka, kafka, on_ready))
            if postgres is not None:
                futures.append(pool.submit(_start_postgres, postgres, on_ready))
            for future in futures:
                future.result()
        yield EmbeddedInfrastructure(
            kafka_bootstrap=kafka.bootstrap if kafka else kafka_bootstrap,
            database_url=postgres.url if postgres else database_url,
            kafka=kafka,
            postgres=postgres,
        )
    except BaseException:
        _stop(kafka, postgres)  # the failure that got us here is the one to report
        raise
    if errors := _stop(kafka, postgres):
        raise StackError(f"stopping the infrastructure: {'; '.join(map(str, errors))}")


def _start_kafka(kafka: EmbeddedKafka, on_ready: Callable[[str], None]) -> None:
    kafka.start()
    on_ready(
        f"Kafka ({kafka.DESCRIPTION}) on {kafka.bootstrap}, data in {kafka.data_dir}: first "
        f"record acknowledged {kafka.ready_after_s:.1f}s after start"
    )


def _start_postgres(postgres: EmbeddedPostgres, on_ready: Callable[[str], None]) -> None:
    postgres.start()
    on_ready(f"PostgreSQL (embedded) in {postgres.data_dir}")


def _stop(kafka: EmbeddedKafka | None, postgres: EmbeddedPostgres | None) -> list[Exception]:
    """Stop the broker, then PostgreSQL; each even when the other fails."""
    errors: list[Exception] = []
    for part in (kafka, postgres):
        if part is None:
            continue
        try:
            part.stop()
        except Exception as exc:
            errors.append(exc)
    return errors
