"""Which incidents a user may see, as a SQL condition."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, true

from core.models import Incident


@dataclass(frozen=True)
class IncidentScope:
    """All incidents (default), those of some blocks, or an executor's own and department's."""

    blocks: tuple[str, ...] | None = None
    executor_id: int | None = None
    department_id: int | None = None
    own_only: bool = False

    @property
    def everything(self) -> bool:
        """True when nothing is filtered out."""
        return self.blocks is None and not self.own_only

    def clause(self) -> ColumnElement[bool]:
        """The WHERE condition on `incidents` for this scope."""
        if self.blocks is not None:
            return Incident.block_code.in_(self.blocks) if self.blocks else false()
        if self.own_only:
            conditions = [Incident.executor_id == self.executor_id]
            if self.department_id is not None:
                conditions.append(Incident.department_id == self.department_id)
            return or_(*conditions)
        return true()

    def allows(self, incident: Incident) -> bool:
        """The same rule in Python, for an incident already loaded."""
        if self.blocks is not None:
            return incident.block_code in self.blocks
        if self.own_only:
            return incident.executor_id == self.executor_id or (
                self.department_id is not None and incident.department_id == self.department_id
            )
        return True
