"""The 2026 production calendar (Asia/Vladivostok) as an inline mapping for tests."""

from __future__ import annotations

from datetime import date

TZ = "Asia/Vladivostok"
CALENDAR_2026 = {
    "work_hours": {
        "start": "09:00",
        "end": "18:00",
        "lunch_start": "13:00",
        "lunch_end": "14:00",
        "shortened_by_minutes": 60,
    },
    "years": {
        2026: {
            "holidays": [
                date(2026, 1, 1),
                date(2026, 1, 2),
                date(2026, 1, 5),
                date(2026, 1, 6),
                date(2026, 1, 7),
                date(2026, 1, 8),
                date(2026, 1, 9),
                date(2026, 2, 23),
                date(2026, 3, 9),
                date(2026, 5, 1),
                date(2026, 5, 11),
                date(2026, 6, 12),
                date(2026, 11, 4),
                date(2026, 12, 31),
            ],
            "working_weekends": [],
            "shortened": [
                date(2026, 4, 30),
                date(2026, 5, 8),
                date(2026, 6, 11),
                date(2026, 11, 3),
            ],
        }
    },
}
