"""Aggregates for the dashboard: counts, deadlines, recent flow and the map's points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.models import Incident, Message, Settlement
from web.repository.incidents import open_clause, paused_running_clause, running_clause
from web.repository.scope import IncidentScope

RECENT_ROWS_CAP = 200_000
MAP_POINTS_CAP = 3_000


def open_by_block_status(session: Session, *, scope: IncidentScope) -> dict[str, dict[str, int]]:
    """Block code → open status → number of incidents (from the partial index of open ones)."""
    stmt = (
        select(Incident.block_code, Incident.status, func.count())
        .where(scope.clause(), open_clause())
        .group_by(Incident.block_code, Incident.status)
    )
    result: dict[str, dict[str, int]] = {}
    for block, status, count in session.execute(stmt):
        result.setdefault(block, {})[status] = int(count)
    return result


def totals_by_block(session: Session, *, scope: IncidentScope) -> dict[str, int]:
    """Block code → incidents of every status since the start (a scan of the archive)."""
    # count(*), not count(id): PostgreSQL answers from ix_incidents_block_status alone.
    stmt = select(Incident.block_code, func.count()).where(scope.clause())
    return {block: int(n) for block, n in session.execute(stmt.group_by(Incident.block_code))}


def _clock_running_count(
    session: Session, *, scope: IncidentScope, conditions: tuple[ColumnElement[bool], ...]
) -> int:
    """Open incidents matching `conditions` whose deadline clock runs, in one round trip.

    A pause stops the clock (docs/sla.md, «Пауза»), so a paused incident is neither overdue
    nor due today. Two counts rather than one OR: the running statuses are still counted from
    `ix_incidents_status_due` alone, and only the few paused incidents are read from the table.
    """
    running = select(func.count()).where(scope.clause(), running_clause(), *conditions)
    paused = select(func.count()).where(scope.clause(), paused_running_clause(), *conditions)
    return session.scalar(select(running.scalar_subquery() + paused.scalar_subquery())) or 0


def overdue_now(session: Session, *, scope: IncidentScope, now: datetime) -> int:
    """Open incidents whose nearest deadline has passed while its clock runs."""
    return _clock_running_count(session, scope=scope, conditions=(Incident.due_at < now,))


def due_between(session: Session, *, scope: IncidentScope, start: datetime, end: datetime) -> int:
    """Open incidents whose nearest deadline falls in [start, end), paused clocks aside."""
    window = (Incident.due_at >= start, Incident.due_at < end)
    return _clock_running_count(session, scope=scope, conditions=window)


def messages_total(session: Session) -> int:
    """All stored messages."""
    return session.scalar(select(func.count(Message.id))) or 0


def received_since(
    session: Session, *, scope: IncidentScope, since: datetime
) -> list[tuple[datetime, str, str | None]]:
    """(received_at, block, settlement) of incidents received since `since` (capped)."""
    stmt = (
        select(Incident.received_at, Incident.block_code, Incident.settlement)
        .where(scope.clause(), Incident.received_at >= since)
        .limit(RECENT_ROWS_CAP)
    )
    return [(at, block, settlement) for at, block, settlement in session.execute(stmt)]


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    admin_center: bool


def settlements_with_coords(session: Session) -> list[Place]:
    """Settlements of the gazetteer that have coordinates."""
    stmt = select(Settlement).where(Settlement.lat.is_not(None), Settlement.lon.is_not(None))
    return [
        Place(s.name, float(s.lat or 0), float(s.lon or 0), s.admin_center)
        for s in session.scalars(stmt.order_by(Settlement.name))
    ]


def open_by_settlement(session: Session, *, scope: IncidentScope) -> dict[str, int]:
    """Open incidents per settlement name."""
    stmt = (
        select(Incident.settlement, func.count())
        .where(scope.clause(), open_clause(), Incident.settlement.is_not(None))
        .group_by(Incident.settlement)
    )
    return {name: int(count) for name, count in session.execute(stmt) if name}


def open_points(session: Session, *, scope: IncidentScope) -> list[tuple[int, float, float, bool]]:
    """(id, lat, lon, urgent) of open incidents with coordinates (newest first, capped)."""
    stmt = (
        select(Incident.id, Incident.lat, Incident.lon, Incident.urgent)
        .where(
            scope.clause(),
            open_clause(),
            Incident.lat.is_not(None),
            Incident.lon.is_not(None),
        )
        .order_by(Incident.received_at.desc())
        .limit(MAP_POINTS_CAP)
    )
    rows = session.execute(stmt)
    return [
        (i, float(lat), float(lon), bool(u))
        for i, lat, lon, u in rows
        if lat is not None and lon is not None
    ]
