"""The lifecycle service's repositories on one connection (and its transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_lifecycle.adapters.flow_repository import SqlFlowRepository
from skuhub_lifecycle.adapters.policy_repository import SqlPolicyRepository
from skuhub_lifecycle.adapters.stage_repository import SqlStageRepository


@dataclass(frozen=True, slots=True)
class SqlUnitOfWork:
    """The lifecycle service's repositories on one connection."""

    stages: SqlStageRepository
    flows: SqlFlowRepository
    policies: SqlPolicyRepository


def sql_unit_of_work(conn: AsyncConnection) -> SqlUnitOfWork:
    return SqlUnitOfWork(
        stages=SqlStageRepository(conn),
        flows=SqlFlowRepository(conn),
        policies=SqlPolicyRepository(conn),
    )
