"""Use case: change the rule settings, optionally only from the version the caller read."""

from __future__ import annotations

from datetime import datetime

from skuhub_lifecycle.domain.rules import RuleSettings, RulesVersionConflictError
from skuhub_lifecycle.service_layer.ports import PolicyRepository


async def change_rules(
    repo: PolicyRepository,
    settings: RuleSettings,
    *,
    expected_version: int | None,
    now: datetime,
) -> int:
    """Save the settings as the next version; that version.

    Raises:
        RulesVersionConflictError: ``expected_version`` is not the current version.
    """
    _, version = await repo.rules()
    if expected_version is not None and expected_version != version:
        raise RulesVersionConflictError(
            f"the rules are at version {version}, not {expected_version}; read them again"
        )
    await repo.save_rules(settings, version + 1, at=now)
    return version + 1
