"""Where to go: the service points of the resident's village or town, from the service directory.

Asked as "去哪里办事" (``action_where_to_go``) or with 3 after an answer (``action_answer_details``). The place
is the one the message names (a village, or a town: also a town chosen from the list offered, as
``/where_to_go{"place": code}``), else the village the resident told before (``handoff_residents``, as the
handoff desk remembers it); a village named here is remembered the same way. The points listed are those of
that village, its town and the county, nearest first; with no place known, the county's, and the towns are
offered to choose from. Every field comes from the directory (``handoff/data``), a missing one is said to be
missing, a map link is given only for a point with coordinates, and sample data are marked as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from bot.handoff_adapters import conversation_key_for_sender
from handoff.directory import Directory, Place, ServicePoint
from handoff.ports import utc_now
from handoff.residents import profile, village_of

__all__ = ["PLACE_PAYLOAD", "Places", "WhereToGo"]

PLACE_PAYLOAD = "/where_to_go"


@dataclass(frozen=True, slots=True)
class WhereToGo:
    """The lines for the resident and, when no place is known, the towns to choose from (as buttons)."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    place: str | None = None  # the place code the points are for (None: the county's)


class Places:
    """The service points near a resident, in the curated words of ``bot/data/replies.yaml`` (``where``)."""

    def __init__(self, sessions: sessionmaker[Session], directory: Callable[[], Directory],
                 texts: dict[str, str]) -> None:
        self.sessions = sessions
        self.directory = directory  # the directory as loaded now (an editor may publish a new one)
        self.texts = texts

    def where(self, sender: str | None, said: str, *, chosen: str | None = None, offer_towns: bool = True) -> WhereToGo:
        """The points for the place ``said`` or ``chosen`` names, else the resident's remembered village."""
        directory = self.directory()
        key = conversation_key_for_sender(self.sessions, sender) if sender else None
        place = directory.place(chosen) or self._named(directory, said)
        if place is not None and place.level == "village" and key is not None:
            self._remember(key, place.code)
        if place is None and key is not None:
            with self.sessions() as session:
                place = directory.place(village_of(session, key))
        return self._compose(directory, place, offer_towns=offer_towns)

    @staticmethod
    def _named(directory: Directory, said: str) -> Place | None:
        villages = directory.find_village(said)
        if len(villages) == 1:
            return villages[0]
        towns = [t for t in directory.towns if any(name and name in said for name in (t.name, *t.aliases))]
        return towns[0] if len(towns) == 1 and not villages else None

    def _remember(self, key: str, village: str) -> None:
        now = utc_now()
        with self.sessions.begin() as session:
            profile(session, key, now).village = village

    def _compose(self, directory: Directory, place: Place | None, *, offer_towns: bool) -> WhereToGo:
        t = self.texts
        chain = [p.code for p in directory.ancestors(place.code)] if place is not None else [directory.county.code]
        points = sorted((p for p in directory.points if p.place in chain), key=lambda p: chain.index(p.place))
        named = directory.full_name(place.code) if place is not None and place.level != "county" else t["county"]
        lines = [t["intro"].format(place=named) if place is not None else t["intro_county"]]
        lines += [line for point in points for line in self._point(point)]
        if points:
            lines.append(t["hotline"])
        else:
            lines = [t["none"].format(place=named)]
        buttons: list[dict[str, str]] = []
        if place is None and directory.towns and offer_towns:
            towns = directory.towns
            lines.append(t["ask_town"].format(towns=" / ".join(f"{i}. {town.name}" for i, town in enumerate(towns, 1))))
            buttons = [{"title": town.name, "payload": PLACE_PAYLOAD + f'{{"place": "{town.code}"}}'} for town in towns]
        elif place is None and directory.towns:
            lines.append(t["ask_again"])
        return WhereToGo(directory.mark("\n".join(lines)), buttons, place.code if place is not None else None)

    def _point(self, point: ServicePoint) -> list[str]:
        t = self.texts
        missing = t["missing"]
        lines = [t["point"].format(name=point.name, kind=point.kind_label, address=point.address or missing,
                                   phone=point.phone or missing, hours=point.hours or missing)]
        if point.coordinates is not None:
            lat, lon = point.coordinates
            lines.append(t["map"].format(lat=f"{lat:.6f}", lon=f"{lon:.6f}", name=quote(point.name)))
        return lines
