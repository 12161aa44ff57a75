"""Routing a case to a team by its days past due: bands are data, editable by admins."""
from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.users import Team


@dataclass(frozen=True)
class Band:
    team: Team
    max_dpd: int | None  # None: unbounded (only the last band)


DEFAULT_BANDS = (Band(Team.CALL_CENTER, 30), Band(Team.FIELD, 90), Band(Team.LEGAL, None))


def route(days_past_due: int, bands: tuple[Band, ...] | list[Band] = DEFAULT_BANDS) -> Team:
    """The team whose band holds `days_past_due` (bands are increasing, the last unbounded)."""
    for band in bands:
        if band.max_dpd is None or days_past_due <= band.max_dpd:
            return band.team
    raise InvalidInput("routing bands do not cover every DPD")  # validate_bands prevents this


def validate_bands(bands: list[Band]) -> list[Band]:
    """Bands must be non-empty, strictly increasing, and end with one unbounded band."""
    problems = []
    if not bands:
        problems.append("at least one band is needed")
    else:
        if bands[-1].max_dpd is not None:
            problems.append("the last band must be unbounded (max_dpd null)")
        bounded = [b.max_dpd for b in bands[:-1]]
        if any(m is None for m in bounded):
            problems.append("only the last band may be unbounded")
        elif any(m < 0 for m in bounded) or any(a >= b for a, b in zip(bounded, bounded[1:])):
            problems.append("max_dpd must be >= 0 and strictly increasing")
    if problems:
        raise InvalidInput("invalid routing bands", {"bands": problems})
    return bands
