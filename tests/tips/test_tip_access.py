"""The access matrix for tips on the citizen side: a codename opens only its own tip, for anyone who holds
it, and being logged in (owner or police) opens nothing more; guessing is throttled per tip and in all."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from tips.models import Tip, TipMessage
from tips.services import tip_create

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "alice", "charlie", "monitor", "supervisor"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.fixture
def two_tips() -> tuple[tuple[Tip, str], tuple[Tip, str]]:
    first = tip_create(category="theft", description="First tip: the bikes.")
    second = tip_create(category="drugs", description="Second tip: the corner.")
    TipMessage.objects.create(tip=second.tip, author_kind="police", body="Reply meant for the second tipster")
    return (first.tip, first.codename), (second.tip, second.codename)


def _client(persona: str, request, client_for) -> Client:
    return client_for(None if persona == "anonymous" else request.getfixturevalue(persona))


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_codename_opens_its_own_tip_only(persona: str, request, client_for, two_tips) -> None:
    (first, first_codename), (second, _) = two_tips
    client = _client(persona, request, client_for)
    own = client.post("/tips/follow-up/", {"number": first.number, "codename": first_codename})
    assert own.status_code == 200 and "First tip: the bikes." in own.content.decode()
    crossed = client.post("/tips/follow-up/", {"number": second.number, "codename": first_codename})
    assert crossed.status_code == 404
    page = crossed.content.decode()
    assert "Second tip" not in page and "Reply meant for the second tipster" not in page


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_codename_cannot_post_to_another_tip(persona: str, request, client_for, two_tips) -> None:
    (_, first_codename), (second, _) = two_tips
    client = _client(persona, request, client_for)
    response = client.post(
        "/tips/follow-up/reply/", {"number": second.number, "codename": first_codename, "body": "sneaky"}
    )
    assert response.status_code == 404
    assert not TipMessage.objects.filter(body="sneaky").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_number_alone_opens_nothing(persona: str, request, client_for, two_tips) -> None:
    (first, _), _ = two_tips
    client = _client(persona, request, client_for)
    assert client.post("/tips/follow-up/", {"number": first.number, "codename": ""}).status_code == 400
    assert client.get(f"/tips/follow-up/?number={first.number}").status_code == 200
    assert "First tip" not in client.get(f"/tips/follow-up/?number={first.number}").content.decode()


def test_an_unknown_number_answers_like_a_wrong_codename(two_tips) -> None:
    (_, codename), _ = two_tips
    response = Client().post("/tips/follow-up/", {"number": "ZZZZ-ZZZZ", "codename": codename})
    assert response.status_code == 404


def test_wrong_guesses_lock_the_tip_for_the_hour_even_for_the_right_codename(settings, two_tips) -> None:
    settings.TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR = 3
    (first, first_codename), (second, second_codename) = two_tips
    client = Client()
    for _ in range(3):
        assert client.post("/tips/follow-up/", {"number": first.number, "codename": "a b c"}).status_code == 404
    assert client.post("/tips/follow-up/", {"number": first.number, "codename": first_codename}).status_code == 429
    # Other tips are not affected by one tip's guesses.
    assert client.post("/tips/follow-up/", {"number": second.number, "codename": second_codename}).status_code == 200


def test_a_right_codename_does_not_count_as_a_guess(settings, two_tips) -> None:
    settings.TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR = 2
    (first, first_codename), _ = two_tips
    client = Client()
    for _ in range(4):
        assert client.post("/tips/follow-up/", {"number": first.number, "codename": first_codename}).status_code == 200


def test_guesses_across_all_tips_slow_the_guessers_but_lock_no_one_out(settings, two_tips) -> None:
    settings.TIP_CODENAME_GUESSES_PER_HOUR = 4
    settings.TIP_CODENAME_GUESSES_PER_CLIENT_UNDER_PRESSURE = 2
    (first, first_codename), (second, _) = two_tips
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    for n in range(4):
        guesser.post("/tips/follow-up/", {"number": f"AAAA-AAA{n + 2}", "codename": "a b c"})
    # Past the count across all tips, a client that has guessed wrong twice this hour is held back...
    assert guesser.post("/tips/follow-up/", {"number": second.number, "codename": "a b c"}).status_code == 429
    # ...while a tipster with the right codename still opens their tip.
    tipster = Client(REMOTE_ADDR="198.51.100.7")
    assert tipster.post("/tips/follow-up/", {"number": first.number, "codename": first_codename}).status_code == 200


def test_the_guess_limit_holds_whatever_the_address(settings, two_tips) -> None:
    settings.TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR = 2
    (first, first_codename), _ = two_tips
    for n in range(2):
        Client(REMOTE_ADDR=f"192.0.2.{n + 1}").post("/tips/follow-up/", {"number": first.number, "codename": "x"})
    response = Client(REMOTE_ADDR="192.0.2.99").post(
        "/tips/follow-up/", {"number": first.number, "codename": first_codename}
    )
    assert response.status_code == 429
