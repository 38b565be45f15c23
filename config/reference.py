"""Typed reference configuration loaded from config/*.yaml, with errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Municipality(_Strict):
    code: str
    name: str
    region: str = ""
    admin_center: str = ""
    timezone: str = "Asia/Vladivostok"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"неизвестный часовой пояс {value!r}") from exc
        return value


class Block(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    head_role: str | None = None


class Role(_Strict):
    code: str
    kind: str = Field(pattern=r"^(admin|coordinator|operator|sector_head|executor|head)$")
    title: str


class Department(_Strict):
    code: str
    name: str


class RoutingRule(_Strict):
    block: str
    department: str
    settlement: str | None = None
    street: str | None = None


class MunicipalityFile(_Strict):
    municipality: Municipality
    blocks: list[Block] = Field(min_length=1)
    roles: list[Role] = []
    departments: list[Department] = []
    routing: list[RoutingRule] = []


class SlaPolicy(_Strict):
    code: str
    name: str
    first_answer_working_hours: float | None = Field(default=None, gt=0)
    final_answer_working_days: int | None = Field(default=None, gt=0)
    final_answer_calendar_days: int | None = Field(default=None, gt=0)
    extension_calendar_days: int | None = Field(default=None, gt=0)


class SlaChoice(_Strict):
    normal: str
    urgent: str


class Escalation(_Strict):
    remind_at: list[float] = [0.5, 0.8]
    coordinator_after_overdue_working_hours: float = 4


class SlaFile(_Strict):
    policies: list[SlaPolicy] = Field(min_length=1)
    assignment: dict[str, SlaChoice]
    escalation: Escalation = Escalation()


class RatingWeights(_Strict):
    volume: float = Field(ge=0)
    speed: float = Field(ge=0)
    completeness: float = Field(ge=0)


class RatingFile(_Strict):
    weights: RatingWeights
    min_incidents: int = Field(default=2, ge=1)
    prior_strength: float = Field(default=5, ge=0)


class ReferenceConfig(_Strict):
    """Everything in config/ that the database is seeded from."""

    municipality: MunicipalityFile
    sla: SlaFile
    rating: RatingFile
    calendar: dict[str, Any]
    gazetteer: dict[str, Any]

    @property
    def block_codes(self) -> list[str]:
        return [block.code for block in self.municipality.blocks]


_M = TypeVar("_M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file or raise ConfigError naming it."""
    if not path.exists():
        raise ConfigError(file=str(path), field="(файл)", problem="файл не найден")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"строка {mark.line + 1}, столбец {mark.column + 1}" if mark else "(разбор)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(file=str(path), field=where, problem=f"ошибка YAML: {problem}") from exc


def _parse(model: type[_M], path: Path) -> _M:
    data = read_yaml(path)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(корень)"
        raise ConfigError(file=str(path), field=field, problem=first["msg"]) from exc


def _mapping(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(file=str(path), field="(корень)", problem="ожидается словарь YAML")
    return data


def _check_references(cfg: ReferenceConfig, config_dir: Path) -> None:
    blocks = set(cfg.block_codes)
    departments = {dept.code for dept in cfg.municipality.departments}
    mfile = str(config_dir / "municipality.yaml")
    for index, rule in enumerate(cfg.municipality.routing):
        if rule.block not in blocks:
            raise ConfigError(
                file=mfile,
                field=f"routing.{index}.block",
                problem=f"неизвестный блок {rule.block!r}",
            )
        if rule.department not in departments:
            raise ConfigError(
                file=mfile,
                field=f"routing.{index}.department",
                problem=f"неизвестный отдел {rule.department!r}",
            )
    policies = {policy.code for policy in cfg.sla.policies}
    for kind, choice in cfg.sla.assignment.items():
        for level in ("normal", "urgent"):
            code = getattr(choice, level)
            if code not in policies:
                raise ConfigError(
                    file=str(config_dir / "sla.yaml"),
                    field=f"assignment.{kind}.{level}",
                    problem=f"неизвестная политика {code!r}",
                )


def load_reference(config_dir: Path) -> ReferenceConfig:
    """Load and cross-check every reference YAML in `config_dir`."""
    cfg = ReferenceConfig(
        municipality=_parse(MunicipalityFile, config_dir / "municipality.yaml"),
        sla=_parse(SlaFile, config_dir / "sla.yaml"),
        rating=_parse(RatingFile, config_dir / "rating.yaml"),
        calendar=_mapping(config_dir / "calendar.yaml"),
        gazetteer=_mapping(config_dir / "gazetteer.yaml"),
    )
    _check_references(cfg, config_dir)
    return cfg
