"""Reference data people change in the admin UI, seeded from config/ YAML."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class Block(Base):
    __tablename__ = "blocks"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_role: Mapped[str | None] = mapped_column(String(40))
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)


class RoutingRule(Base):
    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    block_code: Mapped[str] = mapped_column(ForeignKey("blocks.code"), index=True)
    settlement: Mapped[str | None] = mapped_column(String(120))
    street: Mapped[str | None] = mapped_column(String(120))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    executor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    first_answer_working_hours: Mapped[float | None]
    final_answer_working_days: Mapped[int | None]
    final_answer_calendar_days: Mapped[int | None]
    extension_calendar_days: Mapped[int | None]


class CalendarDay(Base):
    """An exception to the Mon–Fri week: holiday, working weekend or shortened day."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    # holiday | working_weekend | shortened | shortened_weekend (a shortened working Saturday)
    kind: Mapped[str] = mapped_column(String(20))


class Settlement(Base):
    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40), default="село")
    rural_settlement: Mapped[str | None] = mapped_column(String(200))
    admin_center: Mapped[bool] = mapped_column(default=False)
    lat: Mapped[float | None]
    lon: Mapped[float | None]


class Street(Base):
    __tablename__ = "streets"
    __table_args__ = (UniqueConstraint("settlement_id", "name", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40), default="улица")
