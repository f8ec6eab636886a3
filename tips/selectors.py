"""Citizen-side reads: a tip opened by its number and codename, and the thread the tipster may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from tips.models import Tip, TipAttachment, TipMessage
from tips.services import codename_burn_time, codename_guess_allowed, codename_guess_failed, codename_matches


class CodenameThrottled(Exception):
    """Too many wrong codenames for this tip, or from this client, this hour; nothing was checked."""


def tip_for_codename(*, number: str, codename: str, client_key: str) -> Tip | None:
    """The tip with this number if the codename is its own, else None. Wrong tries are counted (per tip, per
    client and in all); past the limits nothing is checked at all (so the answer says nothing about the
    codename)."""
    number = number.strip().upper()
    if not codename_guess_allowed(number=number, client_key=client_key):
        raise CodenameThrottled
    tip = Tip.objects.filter(number=number).first() if number else None
    if tip is None:
        codename_burn_time()
        codename_guess_failed(number=number, client_key=client_key)
        return None
    if not codename_matches(codename=codename, encoded=tip.codename_hash):
        codename_guess_failed(number=number, client_key=client_key)
        return None
    return tip


@dataclass(frozen=True)
class CitizenThread:
    tip: Tip
    messages: list[TipMessage]
    attachments: list[TipAttachment]


def tip_thread_for_citizen(*, tip: Tip) -> CitizenThread:
    """What the tipster sees: their tip, the thread with replies (never internal notes or officers' names)
    and how their attachments fared."""
    messages: QuerySet[TipMessage] = TipMessage.objects.filter(tip=tip).order_by("created_at", "id")
    attachments = TipAttachment.objects.filter(tip=tip).order_by("position", "id")
    return CitizenThread(tip=tip, messages=list(messages), attachments=list(attachments))
