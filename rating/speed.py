"""Pure answer-time arithmetic: working time from receipt to the answer, pauses left out.

While an incident waits for the citizen (status «paused») its SLA clock stands
(docs/sla.md, «Пауза»); that time is not the department's, so the rating leaves it out of
the answer time too (docs/rating.md, §3). The pauses come from the incident's status
changes; nothing here reads the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from core.calendar import WorkCalendar

__all__ = ["PAUSED", "Pause", "StatusChange", "answer_time", "pauses_of"]

PAUSED = "paused"
_ZERO = timedelta(0)

# (at, from_status, to_status) of one event of the incident's history.
StatusChange = tuple[datetime, str | None, str | None]
# (began, ended); ended is None while the pause goes on.
Pause = tuple[datetime, datetime | None]


def pauses_of(changes: Iterable[StatusChange]) -> list[Pause]:
    """The pauses in a history: from entering «paused» to the next change that leaves it.

    Leaving is any change out of «paused» (a resume, or a merge that closes the incident);
    events that keep the status (a reassignment while paused) neither begin nor end one.
    """
    pauses: list[Pause] = []
    began: datetime | None = None
    for at, from_status, to_status in sorted(changes, key=lambda change: change[0]):
        if to_status == PAUSED and from_status != PAUSED and began is None:
            began = at
        elif from_status == PAUSED and to_status != PAUSED and began is not None:
            pauses.append((began, at))
            began = None
    if began is not None:
        pauses.append((began, None))
    return pauses


def answer_time(
    *,
    received: datetime,
    answered: datetime,
    pauses: Sequence[Pause] = (),
    calendar: WorkCalendar,
) -> timedelta:
    """Working time from `received` to `answered`, less the working time of the pauses.

    Only the part of a pause inside [received, answered) counts: a pause still going on at
    `answered` is cut there, one that began after it is ignored.
    """
    spent = calendar.working_time_between(received, answered)
    for began, ended in pauses:
        start = max(began, received)
        stop = answered if ended is None else min(ended, answered)
        if start < stop:
            spent -= calendar.working_time_between(start, stop)
    return max(spent, _ZERO)
