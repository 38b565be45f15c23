"""Runtime settings from MCU_* environment variables (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """Everything an operator of МЦУ may set without touching code."""

    model_config = SettingsConfigDict(env_prefix="MCU_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'mcu.db'}"
    timezone: str | None = None  # None: the municipality.yaml time zone
    secret_key: str = "dev-insecure-change-me"
    config_dir: Path = CONFIG_DIR
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "var" / "models"
    base_url: str = "http://127.0.0.1:8000"

    demo_mode: bool = True
    demo_rate_per_minute: float = Field(default=20.0, ge=0)

    review_threshold: float = Field(default=0.5, ge=0, le=1)
    web_cache_seconds: float = Field(default=30.0, ge=0)
    web_page_cache_mb: float = Field(default=64.0, ge=0)
    duplicate_window_hours: int = Field(default=72, ge=1)
    # PostgreSQL: a batch's writes overlap the next batch's decisions (app.overlap).
    intake_overlap: bool = True

    vk_token: str | None = None
    vk_user_token: str | None = None
    vk_api_base: str = "https://api.vk.ru"
    telegram_token: str | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_username: str | None = None  # for t.me deep links on the profile page
    alerts_digest_minutes: int = Field(default=60, ge=1)  # sector heads' new-incident digest

    # Outgoing mail for answers to e-mail messages; no smtp_host: answers are not e-mailed.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # None: 465, 587 or 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None  # "МЦУ <mcu@example.ru>"; None: smtp_user if an address
    smtp_starttls: bool = True  # never falls back to plain text when the server lacks it
    smtp_ssl: bool = False  # implicit TLS (SMTPS, port 465) instead of STARTTLS
    smtp_timeout: float = Field(default=30.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"неизвестный часовой пояс {value!r}") from exc
        return value

    @field_validator("vk_api_base", "telegram_api_base", "base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process (cached; tests build their own Settings)."""
    return Settings()
