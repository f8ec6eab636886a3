"""The public transparency page: monthly counts and current totals, and never a name or an address."""

from django.urls import reverse

from community.services import agreement_revoke, business_suspend, business_verify
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory


def test_it_counts_verifications_revocations_and_cameras_by_mode(client, alice_camera, alice, supervisor):
    pending = BusinessFactory(state="pending", name="Secret Pawn Shop")
    agreement = AgreementFactory(
        business=pending, mode="schedule", state="pending", schedule={"mon": [["08:00", "18:00"]]}
    )
    CameraFactory(site=SiteFactory(business=pending, address="99 Hidden Rd"), agreement=agreement)
    business_verify(business=pending, by=supervisor, reason="checked")
    business_suspend(business=pending, by=supervisor, reason="stolen")
    agreement_revoke(agreement=alice_camera.agreement, by=alice)

    response = client.get(reverse("community:transparency"))
    report = response.context["report"]
    assert report["partners"] == 1  # alice's business; the other one is suspended
    month = report["months"][0]
    assert (month["verifications"], month["suspensions"], month["revocations"]) == (1, 1, 1)
    page = response.content.decode()
    for private in ("Secret Pawn Shop", "99 Hidden Rd", "Alice's Market", "alice@example.com", "sam@police.example"):
        assert private not in page


def test_cameras_are_counted_by_sharing_mode(client, alice_camera):
    report = client.get(reverse("community:transparency")).context["report"]
    assert report["cameras_by_mode"]["Live at any time"] == 1
    assert report["cameras_shared"] == 1


def test_listed_sites_appear_on_the_public_partner_list_and_others_do_not(client, alice_site, charlie_camera):
    alice_site.listed_publicly = True
    alice_site.save()
    page = client.get(reverse("community:public_partners")).content.decode()
    assert "Alice&#x27;s Market" in page
    assert "Charlie" not in page
