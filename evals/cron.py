"""Cron expressions, read by croniter: which slots a schedule has, in UTC.

Five fields as in crontab (``0 3 * * *``: 03:00 every day), the ``@daily`` style
names, or six fields, the last being seconds (for schedules more frequent than a
minute). Times are UTC, so a schedule never shifts or repeats a run at a daylight
saving change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import croniter


class CronError(ValueError):
    """Not a schedule croniter can read."""


def check(expression: str) -> str:
    """The expression, if valid; :class:`CronError` says why not."""
    fields = expression.split()
    if not expression.startswith("@") and len(fields) not in (5, 6):
        raise CronError(
            f"{expression!r} has {len(fields)} fields; a schedule has 5 "
            "(minute hour day month weekday) or 6 (and seconds)"
        )
    if not croniter.is_valid(expression):
        raise CronError(f"{expression!r} is not a cron expression")
    try:  # valid fields can still name no day ("0 0 31 2 *": February 31st)
        next_slot(expression, datetime.now(UTC))
    except (ValueError, KeyError, ArithmeticError) as error:
        raise CronError(f"{expression!r} never comes round: {error}") from None
    return expression


def next_slot(expression: str, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    slot: datetime = croniter(expression, after).get_next(datetime)
    return slot


def latest_slot(expression: str, at: datetime, known: datetime) -> datetime:
    """The latest slot at or before ``at``, given ``known``, a slot at or before it.

    Slots missed while nothing ran collapse into this one: after downtime a schedule
    runs once, not once per missed slot.
    """
    previous: datetime = croniter(expression, at).get_prev(datetime)
    return max(previous, known)
