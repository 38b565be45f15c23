"""All ORM tables of МЦУ (import from here)."""

from core.models.base import Base, UTCDateTime, inline_values, utcnow
from core.models.incidents import (
    INCIDENT_STATUSES,
    OPEN_STATUSES,
    Answer,
    CitizenFeedback,
    FeedbackRequest,
    Incident,
    IncidentEvent,
)
from core.models.messages import (
    SOURCE_KINDS,
    Classification,
    Message,
    Source,
    TrainingExample,
)
from core.models.ops import AlertOutbox, JobRun, RatingSnapshot
from core.models.reference import (
    Block,
    CalendarDay,
    Department,
    RoutingRule,
    Settlement,
    SlaPolicy,
    Street,
)
from core.models.users import ROLES, ApiKey, LoginEvent, TelegramLink, User, UserBlock

__all__ = [
    "INCIDENT_STATUSES",
    "OPEN_STATUSES",
    "ROLES",
    "SOURCE_KINDS",
    "AlertOutbox",
    "Answer",
    "ApiKey",
    "Base",
    "Block",
    "CalendarDay",
    "CitizenFeedback",
    "Classification",
    "Department",
    "FeedbackRequest",
    "Incident",
    "IncidentEvent",
    "JobRun",
    "LoginEvent",
    "Message",
    "RatingSnapshot",
    "RoutingRule",
    "Settlement",
    "SlaPolicy",
    "Source",
    "Street",
    "TelegramLink",
    "TrainingExample",
    "UTCDateTime",
    "User",
    "UserBlock",
    "inline_values",
    "utcnow",
]
