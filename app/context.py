"""Assemble what every entry point needs: settings, config, database, calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from config.errors import ConfigError
from config.reference import ReferenceConfig, load_reference
from config.settings import Settings, get_settings
from core.calendar import WorkCalendar
from core.db import check_connection, get_engine
from core.errors import DatabaseUnavailableError
from incidents.escalation import EscalationSettings
from incidents.intake import IntakeSettings
from rating.scoring import RatingConfig


@dataclass
class AppContext:
    settings: Settings
    config: ReferenceConfig
    engine: Engine
    calendar: WorkCalendar
    tz: str
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def intake_settings(self) -> IntakeSettings:
        """Duplicate and SLA knobs for intake (config/sla.yaml + MCU_* settings)."""
        return IntakeSettings.from_config(
            self.config.sla, duplicate_window_hours=float(self.settings.duplicate_window_hours)
        )

    @property
    def rating_config(self) -> RatingConfig:
        """Weights and fairness knobs of config/rating.yaml."""
        return RatingConfig.from_mapping(self.config.rating.model_dump())

    @property
    def escalation_settings(self) -> EscalationSettings:
        """The escalation ladder of config/sla.yaml."""
        return EscalationSettings.from_config(self.config.sla.escalation)


def load_calendar(config: ReferenceConfig, *, tz: str, config_dir: str) -> WorkCalendar:
    """The production calendar from calendar.yaml, errors naming the file."""
    try:
        return WorkCalendar.from_mapping(config.calendar, tz=tz)
    except ValueError as exc:
        raise ConfigError(
            file=f"{config_dir}/calendar.yaml", field="(см. текст)", problem=str(exc)
        ) from exc


_KEYS = {"holiday": "holidays", "working_weekend": "working_weekends", "shortened": "shortened"}


def calendar_mapping(work_hours: Any, days: dict[date, str]) -> dict[str, Any]:
    """calendar.yaml's shape rebuilt from the calendar_days table (admins edit it there)."""
    years: dict[int, dict[str, list[str]]] = {}
    for day, kind in sorted(days.items()):
        year = years.setdefault(day.year, {key: [] for key in _KEYS.values()})
        # A shortened weekend day can only be a working one (rows seeded before
        # "shortened_weekend" existed say just "shortened").
        weekend_work = kind == "shortened_weekend" or (kind == "shortened" and day.weekday() >= 5)
        kinds = ("working_weekend", "shortened") if weekend_work else (kind,)
        for one in kinds:
            year[_KEYS[one]].append(day.isoformat())
    return {"work_hours": work_hours, "years": years}


def _calendar_from_database(
    engine: Engine, config: ReferenceConfig, *, tz: str, fallback: WorkCalendar
) -> WorkCalendar:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from app.repository import calendar_exceptions
    from core.db import session_scope

    try:
        with session_scope(engine) as session:
            days = calendar_exceptions(session)
    except (OperationalError, ProgrammingError):  # not migrated yet: config/ is the truth
        return fallback
    if not days:
        return fallback
    try:
        return WorkCalendar.from_mapping(
            calendar_mapping(config.calendar["work_hours"], days), tz=tz
        )
    except ValueError as exc:
        raise ConfigError(file="calendar_days", field="(таблица)", problem=str(exc)) from exc


def _require_current_schema(engine: Engine) -> None:
    from core import migrate

    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        safe = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailableError(
            f"схема базы {safe} на ревизии {current or 'нет'}, нужна {head}: "
            "выполните `mcu db upgrade` (или `make run`)"
        )


def build_context(
    settings: Settings | None = None, *, check_db: bool = True, require_schema: bool = True
) -> AppContext:
    """Load and validate everything; raise ConfigError / DatabaseUnavailableError clearly."""
    settings = settings or get_settings()
    config = load_reference(settings.config_dir)
    tz = settings.timezone or config.municipality.municipality.timezone
    calendar = load_calendar(config, tz=tz, config_dir=str(settings.config_dir))
    engine = get_engine(settings.database_url)
    if check_db:
        check_connection(engine)
        if require_schema:
            _require_current_schema(engine)
        calendar = _calendar_from_database(engine, config, tz=tz, fallback=calendar)
    return AppContext(settings=settings, config=config, engine=engine, calendar=calendar, tz=tz)
