"""Seed reference tables from config/ YAML; idempotent, never overwrites admin edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig
from core.models import (
    Block,
    CalendarDay,
    Department,
    RoutingRule,
    Settlement,
    SlaPolicy,
    Street,
)


@dataclass
class SeedStats:
    blocks: int = 0
    departments: int = 0
    routing_rules: int = 0
    sla_policies: int = 0
    calendar_days: int = 0
    settlements: int = 0
    streets: int = 0


def _seed_blocks(session: Session, cfg: ReferenceConfig, stats: SeedStats) -> None:
    existing = set(session.scalars(select(Block.code)))
    for order, block in enumerate(cfg.municipality.blocks):
        if block.code not in existing:
            session.add(
                Block(code=block.code, name=block.name, head_role=block.head_role, sort_order=order)
            )
            stats.blocks += 1


def _seed_departments(session: Session, cfg: ReferenceConfig, stats: SeedStats) -> dict[str, int]:
    by_code = {d.code: d for d in session.scalars(select(Department))}
    for dept in cfg.municipality.departments:
        if dept.code not in by_code:
            row = Department(code=dept.code, name=dept.name)
            session.add(row)
            by_code[dept.code] = row
            stats.departments += 1
    session.flush()
    return {code: row.id for code, row in by_code.items()}


def _seed_routing(
    session: Session, cfg: ReferenceConfig, dept_ids: dict[str, int], stats: SeedStats
) -> None:
    # Routing is seeded only into an empty table: once an admin edits it, config stops applying.
    if session.scalar(select(RoutingRule.id).limit(1)) is not None:
        return
    for rule in cfg.municipality.routing:
        session.add(
            RoutingRule(
                block_code=rule.block,
                settlement=rule.settlement,
                street=rule.street,
                department_id=dept_ids[rule.department],
            )
        )
        stats.routing_rules += 1


def _seed_sla(session: Session, cfg: ReferenceConfig, stats: SeedStats) -> None:
    existing = set(session.scalars(select(SlaPolicy.code)))
    for policy in cfg.sla.policies:
        if policy.code not in existing:
            session.add(SlaPolicy(**policy.model_dump()))
            stats.sla_policies += 1


def calendar_exceptions(calendar: dict[str, Any]) -> dict[date, str]:
    """Flatten calendar.yaml years into {date: kind}.

    A working Saturday that is also shortened (2025-11-01) becomes "shortened_weekend",
    so one row per day keeps both facts.
    """
    days: dict[date, str] = {}
    for year in (calendar.get("years") or {}).values():
        for kind, key in (
            ("holiday", "holidays"),
            ("working_weekend", "working_weekends"),
            ("shortened", "shortened"),
        ):
            for value in year.get(key) or []:
                day = value if isinstance(value, date) else date.fromisoformat(str(value))
                both = {days.get(day), kind} == {"working_weekend", "shortened"}
                days[day] = "shortened_weekend" if both else kind
    return days


def _seed_calendar(session: Session, cfg: ReferenceConfig, stats: SeedStats) -> None:
    existing = set(session.scalars(select(CalendarDay.day)))
    for day, kind in sorted(calendar_exceptions(cfg.calendar).items()):
        if day not in existing:
            session.add(CalendarDay(day=day, kind=kind))
            stats.calendar_days += 1


def _seed_gazetteer(session: Session, cfg: ReferenceConfig, stats: SeedStats) -> None:
    existing = {s.name: s for s in session.scalars(select(Settlement))}
    for item in cfg.gazetteer.get("settlements") or []:
        settlement = existing.get(item["name"])
        if settlement is None:
            settlement = Settlement(
                name=item["name"],
                kind=item.get("kind") or "село",
                rural_settlement=item.get("rural_settlement"),
                admin_center=bool(item.get("admin_center")),
                lat=item.get("lat"),
                lon=item.get("lon"),
            )
            session.add(settlement)
            session.flush()
            stats.settlements += 1
            for street in item.get("streets") or []:
                session.add(
                    Street(
                        settlement_id=settlement.id,
                        name=str(street["name"]),
                        kind=street.get("kind") or "улица",
                    )
                )
                stats.streets += 1


def seed_reference(session: Session, cfg: ReferenceConfig) -> SeedStats:
    """Insert what config/ declares and the database lacks."""
    stats = SeedStats()
    _seed_blocks(session, cfg, stats)
    dept_ids = _seed_departments(session, cfg, stats)
    session.flush()
    _seed_routing(session, cfg, dept_ids, stats)
    _seed_sla(session, cfg, stats)
    _seed_calendar(session, cfg, stats)
    _seed_gazetteer(session, cfg, stats)
    session.flush()
    return stats
