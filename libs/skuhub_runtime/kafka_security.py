"""Kafka TLS and SASL options from settings, for every aiokafka client and faststream.

Producer, consumers (through faststream), the admin client (topic creation, lag) all
take their connection options from here, so no client can speak another protocol than
the rest. Settings refuse half-set configurations before this runs
(:func:`skuhub_runtime.settings.kafka_security_problems`).
"""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from skuhub_runtime.settings import ServiceSettings

_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def tls_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL, or None when the protocol has no TLS.

    Verifies brokers against ``kafka_ssl_cafile`` (the system's CAs when unset) and
    checks their host names; presents ``kafka_ssl_certfile`` when brokers ask for a
    client certificate.
    """
    if settings.kafka_security_protocol not in _TLS_PROTOCOLS:
        return None
    cafile = settings.kafka_ssl_cafile
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if settings.kafka_ssl_certfile is not None:
        key_password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            certfile=str(settings.kafka_ssl_certfile),
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            password=key_password.get_secret_value() if key_password else None,
        )
    return context


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap, TLS, SASL) for a producer, consumer or admin."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_sasl_mechanism is not None:
        password = settings.kafka_sasl_password
        # aiokafka names the SCRAM credentials sasl_plain_* too.
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """faststream's security object for the same options, or None for PLAINTEXT."""
    context = tls_context(settings)
    use_ssl = context is not None
    mechanism = settings.kafka_sasl_mechanism
    if mechanism is None:
        return BaseSecurity(ssl_context=context, use_ssl=True) if use_ssl else None
    password = settings.kafka_sasl_password
    return _SASL[mechanism](
        settings.kafka_sasl_username or "",
        password.get_secret_value() if password else "",
        ssl_context=context,
        use_ssl=use_ssl,
    )
