"""The citizen's side of the tip portal: filing a tip, the receipt, and following up with the codename."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from tips.models import Tip, TipMessage
from tips.services import codename_matches, codename_words

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def file_tip(client: Client, **extra: str) -> tuple[str, str]:
    data = {"category": "theft", "description": "A man took bikes from the rack behind the library."}
    data.update(extra)
    response = client.post("/tips/", data)
    assert response.status_code == 201, response.content.decode()
    page = response.content.decode()
    number = re.search(r'id="tip-number">([^<]+)<', page)
    codename = re.search(r'id="tip-codename">([^<]+)<', page)
    assert number and codename
    return number.group(1), codename.group(1)


def test_the_form_needs_no_javascript() -> None:
    page = Client().get("/tips/").content.decode()
    assert 'for="id_description"' in page and 'for="id_latitude"' in page
    assert "<legend>" in page
    # The only script is our own place picker; its button stays hidden unless the script shows it.
    assert re.findall(r'<script src="([^"]+)"', page) == ["/static/js/place_picker.js"]
    assert re.search(r'<button type="button" id="use-location"[^>]* hidden', page)


def test_the_form_shows_a_map_only_with_tiles_from_this_site(settings) -> None:
    settings.MAP_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    page = Client().get("/tips/").content.decode()
    assert "openstreetmap" not in page and 'id="place-map"' not in page and "leaflet" not in page
    settings.MAP_TILE_URL = "/tiles/{z}/{x}/{y}.png"
    page = Client().get("/tips/").content.decode()
    assert 'data-tile-url="/tiles/{z}/{x}/{y}.png"' in page and "leaflet.js" in page


def test_it_gives_a_number_and_a_seven_word_codename_kept_only_as_a_hash() -> None:
    number, codename = file_tip(Client())
    words = codename.split()
    assert len(words) == 7 and set(words) <= set(codename_words())
    tip = Tip.objects.get(number=number)
    assert codename not in tip.codename_hash
    assert tip.codename_hash.startswith("scrypt$1024$8$1$")
    assert codename_matches(codename=codename.upper().replace(" ", "  "), encoded=tip.codename_hash)


def test_the_word_list_holds_enough_words_for_ninety_bits() -> None:
    assert len(set(codename_words())) >= 7776


def test_it_coarsens_the_pin_when_asked() -> None:
    number, _ = file_tip(Client(), latitude="42.331427", longitude="-83.045754", coarsen="on")
    tip = Tip.objects.get(number=number)
    assert tip.latitude == Decimal("42.330000") and tip.longitude == Decimal("-83.045000")
    assert tip.place_precision_m == 500


def test_it_keeps_an_exact_pin_when_not_coarsened() -> None:
    number, _ = file_tip(Client(), latitude="42.331427", longitude="-83.045754")
    tip = Tip.objects.get(number=number)
    assert tip.latitude == Decimal("42.331427") and tip.place_precision_m is None


def test_it_refuses_a_description_over_5000_characters() -> None:
    response = Client().post("/tips/", {"category": "other", "description": "x" * 5001})
    assert response.status_code == 400
    assert not Tip.objects.exists()


def test_it_speaks_spanish_when_asked() -> None:
    response = Client().get("/tips/?lang=es")
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in response.content.decode()


def test_it_speaks_spanish_to_a_spanish_browser() -> None:
    response = Client(headers={"accept-language": "es-MX,es;q=0.9"}).get("/tips/")
    assert response["Content-Language"] == "es"


def test_a_tip_records_its_language() -> None:
    client = Client()
    response = client.post("/tips/?lang=es", {"category": "drugs", "description": "Venta en la esquina."})
    assert response.status_code == 201
    assert Tip.objects.get().language == "es"


def test_the_codename_opens_the_thread_and_the_tipster_can_reply() -> None:
    client = Client()
    number, codename = file_tip(client)
    tip = Tip.objects.get(number=number)
    TipMessage.objects.create(tip=tip, author_kind="police", body="Thank you, which rack?")
    page = client.post("/tips/follow-up/", {"number": number.lower(), "codename": codename.upper()})
    assert page.status_code == 200
    assert "Thank you, which rack?" in page.content.decode()
    reply = client.post("/tips/follow-up/reply/", {"number": number, "codename": codename, "body": "The north one."})
    assert reply.status_code == 200
    assert "The north one." in reply.content.decode()
    assert tip.messages.filter(author_kind="citizen", body="The north one.").exists()
    tip.refresh_from_db()
    assert tip.has_unread_from_citizen


def test_it_never_shows_internal_notes_or_officer_names(monitor) -> None:
    client = Client()
    number, codename = file_tip(client)
    tip = Tip.objects.get(number=number)
    tip.notes.create(author=monitor, body="Internal: suspect known to us")
    TipMessage.objects.create(tip=tip, author_kind="police", author=monitor, body="We are looking into it.")
    page = client.post("/tips/follow-up/", {"number": number, "codename": codename}).content.decode()
    assert "We are looking into it." in page
    assert "suspect known" not in page
    assert monitor.email not in page and (monitor.full_name or "@@") not in page


def test_it_limits_tips_per_client_per_hour(settings) -> None:
    settings.TIP_RATE_PER_HOUR = 2
    client = Client(REMOTE_ADDR="192.0.2.10")
    file_tip(client)
    file_tip(client)
    refused = client.post("/tips/", {"category": "other", "description": "third"})
    assert refused.status_code == 429
    # Another address has its own allowance.
    file_tip(Client(REMOTE_ADDR="192.0.2.11"))


def test_the_spanish_pages_are_translated() -> None:
    page = Client().get("/tips/?lang=es").content.decode()
    assert "Enviar un aviso anónimo" in page
    assert "¿Qué pasó?" in page and "Violencia o amenaza" in page
    assert "Usar mi ubicación actual" in page and "Hora local (America/Detroit)." in page
    assert "What happened?" not in page


def test_the_spanish_receipt_and_thread_are_translated() -> None:
    client = Client(headers={"accept-language": "es"})
    response = client.post("/tips/", {"category": "other", "description": "Algo raro."})
    assert "Gracias. Recibimos su aviso." in response.content.decode()
    number = re.search(r'id="tip-number">([^<]+)<', response.content.decode())
    assert number
    wrong = client.post("/tips/follow-up/", {"number": number.group(1), "codename": "no"})
    assert "no coinciden" in wrong.content.decode()


def _form_submission(client: Client) -> str:
    token = re.search(r'name="submission" value="([^"]+)"', client.get("/tips/").content.decode())
    assert token, "the form carries its submission token"
    return token.group(1)


def test_sending_the_same_form_again_files_no_second_tip() -> None:
    client = Client()
    submission = _form_submission(client)
    number, codename = file_tip(client, submission=submission)
    again = client.post(
        "/tips/", {"category": "theft", "description": "A man took bikes from the rack.", "submission": submission}
    )
    assert again.status_code == 409
    page = again.content.decode()
    assert number in page and "already sent" in page
    assert codename not in page  # shown once, never again
    assert Tip.objects.count() == 1


def test_each_showing_of_the_form_may_file_its_own_tip() -> None:
    client = Client()
    first, second = _form_submission(client), _form_submission(client)
    assert first != second
    file_tip(client, submission=first)
    file_tip(client, submission=second)
    assert Tip.objects.count() == 2


def test_a_form_whose_tip_failed_to_save_can_be_sent_again(monkeypatch) -> None:
    from tips import services

    client = Client(raise_request_exception=False)
    submission = _form_submission(client)
    real_insert = services._tip_insert

    def broken(**kwargs: object) -> Tip:
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "_tip_insert", broken)
    failed = client.post("/tips/", {"category": "theft", "description": "Bikes.", "submission": submission})
    assert failed.status_code == 500 and not Tip.objects.exists()
    monkeypatch.setattr(services, "_tip_insert", real_insert)
    file_tip(client, submission=submission)
    assert Tip.objects.count() == 1


def test_the_receipt_says_which_file_was_refused_and_why() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    notes = SimpleUploadedFile("notes.txt", b"just some text, not a photo", content_type="text/plain")
    response = Client().post(
        "/tips/", {"category": "theft", "description": "Bikes.", "attachments": [notes]}, format="multipart"
    )
    assert response.status_code == 201
    files = re.search(r'<ul id="tip-files">(.*?)</ul>', response.content.decode(), re.S)
    assert files and "notes.txt" in files.group(1) and "not accepted" in files.group(1)
    assert "neither" in files.group(1)  # the reason: only photos and videos are taken


def test_the_when_is_read_in_the_agencys_time_zone(settings) -> None:
    settings.AGENCY_TIME_ZONE = "America/Detroit"
    page = Client().get("/tips/").content.decode()
    assert "America/Detroit" in page  # the tipster is told which clock the time is on
    number, _ = file_tip(Client(), occurred_at="2026-07-04T21:30")
    occurred = Tip.objects.get(number=number).occurred_at
    assert occurred is not None and occurred.isoformat() == "2026-07-05T01:30:00+00:00"  # EDT is UTC-4


def test_sending_the_same_reply_again_adds_no_second_message() -> None:
    client = Client()
    number, codename = file_tip(client)
    thread = client.post("/tips/follow-up/", {"number": number, "codename": codename}).content.decode()
    token = re.search(r'name="submission" value="([^"]+)"', thread)
    assert token, "the reply form carries its submission token"
    reply = {"number": number, "codename": codename, "body": "It was a red van.", "submission": token.group(1)}
    first, again = client.post("/tips/follow-up/reply/", reply), client.post("/tips/follow-up/reply/", reply)
    assert first.status_code == again.status_code == 200
    assert again.content.decode().count("It was a red van.") == 1
    assert TipMessage.objects.filter(body="It was a red van.").count() == 1
