"""Duplicate candidates of one block as a batch of intake sees them, kept current in memory.

The rule is the one of `repository.duplicate_candidate_rows`: the `limit` newest open
incidents of the block received since `received_at - window`, ordered by (received_at, id).
A pool is loaded once per block and batch with the earliest `since` seen so far; incidents
opened in the batch are added in order (they are the newest and get the highest ids), and a
join refreshes the words and place of its incident. For a later message the candidates are
the pool's entries received since that message's own `since`: the newest `limit` of a list
are also the newest `limit` of any of its prefixes, so the result is what a fresh query
would return.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from incidents.dedupe import DuplicateMatch, Place, Prepared, match_prepared, prepare, rank
from incidents.rows import TextAndPlace

# Incidents opened in a batch have no id until it is written; they sort above every real id
# in the order they were opened, as the ids they will get do.
PENDING_ORDER = 1 << 62


@lru_cache(maxsize=4096)  # the pools of a batch hold at most 200 per block
def side_of(text: TextAndPlace) -> Prepared:
    """The prepared candidate side of an incident (fingerprint and place as stored)."""
    fingerprint, settlement, street, house = text
    return prepare(tuple((fingerprint or "").split()), Place(settlement, street, house))


@dataclass(slots=True, eq=False)
class Candidate:
    """One open incident: its order key, time of receipt, prepared side, and the fingerprint
    and place that side was prepared from."""

    order: int  # the incident id, or PENDING_ORDER + n for the n-th incident opened in the batch
    received_at: datetime
    side: Prepared
    text: TextAndPlace


def _key(candidate: Candidate) -> tuple[datetime, int]:
    return (candidate.received_at, candidate.order)


class CandidatePool:
    """The newest `limit` open incidents of a block received since `since`, oldest first.

    Also grouped by settlement and street key: a message with a known settlement (street)
    only needs the candidates with the same one or none, the others conflict.
    """

    def __init__(self, *, since: datetime, limit: int, newest_first: list[Candidate]) -> None:
        self.since = since
        self.limit = limit
        self._entries = newest_first[::-1]
        # How many incidents received since `since` exist (at least): the pool holds all of
        # them when fewer than `limit`, else the newest `limit`, valid for any earlier since.
        self._covered = len(newest_first)
        self._groups: dict[str | None, dict[str | None, list[Candidate]]] = {}
        groups = self._groups
        for candidate in self._entries:
            settlement, street = candidate.side.settlement, candidate.side.street
            streets = groups.get(settlement)
            if streets is None:
                streets = groups[settlement] = {}
            group = streets.get(street)
            if group is None:
                group = streets[street] = []
            group.append(candidate)

    def _group(self, candidate: Candidate) -> list[Candidate]:
        streets = self._groups.setdefault(candidate.side.settlement, {})
        return streets.setdefault(candidate.side.street, [])

    def covers(self, since: datetime) -> bool:
        """Whether the pool holds every candidate of a message whose window starts at `since`."""
        return since >= self.since or self._covered >= self.limit

    def add(self, candidate: Candidate) -> None:
        """An incident opened in the batch (newer than all but equal-time ones)."""
        bisect.insort(self._entries, candidate, key=_key)
        self._group(candidate).append(candidate)
        if candidate.received_at >= self.since:
            self._covered += 1
        if len(self._entries) > self.limit:
            oldest = self._entries.pop(0)
            self._group(oldest).remove(oldest)

    def holds(self, candidate: Candidate) -> bool:
        """Whether this pool holds the candidate (not one of another block or an old load)."""
        return any(c is candidate for c in self._group(candidate))

    def refresh(self, candidate: Candidate, side: Prepared) -> None:
        """New words and place of a candidate (a message joined its incident)."""
        self._group(candidate).remove(candidate)
        candidate.side = side
        self._group(candidate).append(candidate)

    def _compatible(self, side: Prepared) -> list[list[Candidate]]:
        """The groups whose settlement and street do not conflict with `side`'s."""
        groups = self._groups
        if side.settlement:
            by_settlement = [groups.get(side.settlement), groups.get(None)]
        else:
            by_settlement = list(groups.values())
        found = []
        for streets in by_settlement:
            if not streets:
                continue
            if side.street:
                found += [group for group in (streets.get(side.street), streets.get(None)) if group]
            else:
                found += streets.values()
        return found

    def best(
        self, side: Prepared, *, received_at: datetime, threshold: float, window: timedelta
    ) -> tuple[DuplicateMatch, Candidate] | None:
        """The best match among the candidates, as `rules.best_duplicate` ranks them."""
        since = received_at - window
        best: tuple[DuplicateMatch, Candidate] | None = None
        best_rank = None
        for group in self._compatible(side):
            for candidate in group:
                at = candidate.received_at
                # The pool holds the newest `limit` since `self.since`: a later `since` filters.
                if at < since or at - received_at > window:
                    continue
                match = match_prepared(
                    side, candidate.side, old_id=candidate.order, threshold=threshold
                )
                if match is not None:
                    match_rank = rank(match)
                    if best_rank is None or match_rank > best_rank:
                        best, best_rank = (match, candidate), match_rank
        return best
