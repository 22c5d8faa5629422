"""The OTEL_* variables as the services read them (docs/operations.md, "Tracing")."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from pydantic import ValidationError

from skuhub_runtime.telemetry import TracingSettings


def test_nothing_is_exported_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert not TracingSettings().exports
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not TracingSettings().exports


def test_exporters_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp, Console")
    assert TracingSettings().traces_exporter == ("otlp", "console")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not TracingSettings().exports


def test_an_unknown_exporter_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(ValidationError, match="traces_exporter"):
        TracingSettings()


def test_the_sampler_follows_the_variables_only_while_exporting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    settings = TracingSettings()
    exporting = settings.sampler(exporting=True)
    assert isinstance(exporting, ParentBased)
    assert "TraceIdRatioBased{0.25}" in _description(exporting)
    # Without an exporter new traces start unsampled whatever the variables say.
    assert "AlwaysOffSampler" in _description(settings.sampler(exporting=False))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    assert isinstance(TracingSettings().sampler(exporting=True), TraceIdRatioBased)


def _description(sampler: Sampler) -> str:
    description: str = sampler.get_description()
    return description
