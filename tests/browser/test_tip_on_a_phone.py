"""A citizen on a phone files a tip with a photo that carries GPS in its EXIF, comes back with the codename, reads
the monitor's reply and answers it; the stored photo has no EXIF at all."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import expect

from community.models import User
from tests.browser.browsing import PHONE
from tips.models import Tip, TipAttachment, TipMessage
from tips.triage import tip_reply

pytestmark = [pytest.mark.browser]


def _photo_with_gps(path: Path) -> Path:
    picture = Image.new("RGB", (64, 48), (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (42.0, 20.0, 0.0), 3: "W", 4: (83.0, 2.0, 0.0)})
    picture.save(path, format="JPEG", exif=exif)
    assert Image.open(path).getexif().get_ifd(0x8825), "the test photo should carry GPS"
    return path


def test_a_tip_from_a_phone_keeps_no_exif_and_the_tipster_reads_and_answers_the_reply(
    asgi_server, open_context, monitor: User, tmp_path: Path
) -> None:
    _, page, _ = open_context(**PHONE)
    page.goto(f"{asgi_server.url}/tips/")
    page.locator("label", has_text="Theft").first.click()
    page.fill("#id_description", "Two men took a bike from the rack outside the library.")
    page.fill("#id_occurred_text", "This morning around 9")
    page.fill("#id_place_text", "Library, Woodward Ave")
    page.set_input_files("#id_attachments", str(_photo_with_gps(tmp_path / "bike.jpg")))
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    number = page.locator("#tip-number").inner_text()
    codename = page.locator("#tip-codename").inner_text()
    assert len(codename.split()) == 7
    assert not any(cookie["name"] == "sessionid" for cookie in page.context.cookies())

    tip = Tip.objects.get(number=number)
    attachment = TipAttachment.objects.get(tip=tip)
    assert attachment.state == TipAttachment.State.READY, attachment.refusal
    with default_storage.open(attachment.file.name, "rb") as stored:
        data = stored.read()
    assert not Image.open(io.BytesIO(data)).getexif()
    assert b"Exif" not in data and b"PhoneMaker" not in data

    tip_reply(tip=tip, by=monitor, body="Thank you. Which way did they go?")

    page.goto(f"{asgi_server.url}/tips/follow-up/")
    page.fill("#id_number", number)
    page.fill("#id_codename", codename)
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("Which way did they go?")
    page.fill("#id_body", "Towards the river, on one bike.")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("Towards the river")
    assert TipMessage.objects.filter(tip=tip, author_kind="citizen", body__contains="Towards the river").exists()


def test_the_phone_places_the_pin_where_it_is_and_the_tip_keeps_it_blurred(asgi_server, open_context) -> None:
    _, page, _ = open_context(
        **PHONE, geolocation={"latitude": 42.331427, "longitude": -83.045754}, permissions=["geolocation"]
    )
    page.goto(f"{asgi_server.url}/tips/")
    page.locator("label", has_text="Vandalism").first.click()
    page.fill("#id_description", "Someone sprayed the bus shelter.")
    page.locator("#use-location").click()
    expect(page.locator("#id_latitude")).to_have_value("42.331427")
    expect(page.locator("#id_longitude")).to_have_value("-83.045754")
    expect(page.locator("#id_coarsen")).to_be_checked()  # blurred unless the tipster says otherwise
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    tip = Tip.objects.get(number=page.locator("#tip-number").inner_text())
    assert (str(tip.latitude), str(tip.longitude), tip.place_precision_m) == ("42.330000", "-83.045000", 500)


def test_a_phone_without_javascript_files_a_tip(asgi_server, open_context) -> None:
    _, page, _ = open_context(**PHONE, java_script_enabled=False)
    page.goto(f"{asgi_server.url}/tips/")
    expect(page.locator("#use-location")).to_be_hidden()  # it could do nothing without the script
    page.locator("label", has_text="Drugs").first.click()
    page.fill("#id_description", "Dealing from the corner store's back door every evening.")
    page.fill("#id_latitude", "42.3401")
    page.fill("#id_longitude", "-83.0552")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert len(page.locator("#tip-codename").inner_text().split()) == 7
    # Refreshing the receipt sends the form again: it files nothing new.
    with page.expect_navigation():
        page.reload()
    expect(page.locator("h1")).to_contain_text("already sent")
    assert Tip.objects.filter(category=Tip.Category.DRUGS).count() == 1
