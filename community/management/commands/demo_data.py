"""Demo data for the embedded run: an agency with a supervisor and a monitor, and partners on the simulator."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from alerts.services import rule_save
from cameras.models import Camera
from cameras.services import camera_create, camera_probe
from community import services
from community.models import Agency, Business, User

PASSWORD = "lantern-demo-2026"  # noqa: S105  (the published demo password)
# Fixed demo keys, so that `demo_data --otp EMAIL` can print the current code. Demo only.
DEMO_TOTP_KEYS = {
    "sam@demo.lantern": "3132333435363738393031323334353637383930",
    "monica@demo.lantern": "4142434445464748494a4b4c4d4e4f5051525354",
}


class Command(BaseCommand):
    help = "Create (idempotently) Lantern's demo agency, officers and partner businesses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--simulator", default="rtsp://127.0.0.1:8554", help="Base URL of the camera simulator.")
        parser.add_argument("--extra-cameras", type=int, default=150, help="Registry-only cameras spread on the map.")
        parser.add_argument("--probe", action="store_true", help="Probe the demo cameras now.")
        parser.add_argument("--print-logins", action="store_true", help="Print the demo logins.")
        parser.add_argument("--otp", metavar="EMAIL", help="Print the current two-factor code of a demo officer.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["otp"]:
            key = DEMO_TOTP_KEYS.get(options["otp"])
            if key is None:
                self.stderr.write("Only the demo officers have a printable code.")
                return
            self.stdout.write(f"{totp(bytes.fromhex(key)):06d}")
            return
        if options["probe"]:
            for camera in Camera.objects.filter(
                business__owner__email__endswith="@demo.lantern", source=Camera.Source.PULL
            ):
                result = camera_probe(camera=camera)
                self.stdout.write(f"  probe {camera.name}: {result.health} {result.message}")
            return
        if options["print_logins"]:
            self._print_logins()
            return
        if User.objects.filter(email="alice@demo.lantern").exists():
            self.stdout.write("Demo data already there.")
            return
        with transaction.atomic():
            self._create(simulator=options["simulator"].rstrip("/"), extra=options["extra_cameras"])
        self.stdout.write("Demo data created.")

    def _create(self, *, simulator: str, extra: int) -> None:
        agency = Agency.objects.create(name="Detroit Police Department (demo)", jurisdiction="City of Detroit")
        sam = User.objects.create_user(
            email="sam@demo.lantern",
            password=PASSWORD,
            full_name="Sam Supervisor",
            role=User.Role.SUPERVISOR,
            agency=agency,
            is_staff=True,
        )
        monica = User.objects.create_user(
            email="monica@demo.lantern",
            password=PASSWORD,
            full_name="Monica Monitor",
            role=User.Role.MONITOR,
            agency=agency,
        )
        for officer in (sam, monica):
            TOTPDevice.objects.create(
                user=officer, name="Demo authenticator", key=DEMO_TOTP_KEYS[officer.email], confirmed=True
            )

        alice = User.objects.create_user(email="alice@demo.lantern", password=PASSWORD, full_name="Alice Owner")
        market = services.business_create(
            owner=alice,
            name="Alice's Market",
            contact_name="Alice Owner",
            contact_email="alice@demo.lantern",
            contact_phone="+1 313 555 0101",
        )
        site = services.site_create(
            business=market,
            by=alice,
            name="Woodward store",
            address="1500 Woodward Ave, Detroit, MI",
            latitude=Decimal("42.335200"),
            longitude=Decimal("-83.049800"),
            timezone="America/Detroit",
            listed_publicly=True,
        )
        for n, (name, views) in enumerate(
            [("Front door", "Entrance and sidewalk"), ("Parking lot", "Customer parking")], 1
        ):
            camera_create(
                business=market, by=alice, site=site, name=name, stream_url=f"{simulator}/cam{n}", views=views
            )
        services.agreement_create(
            business=market,
            by=alice,
            name="Storefront, live always",
            mode="always",
            terms_accepted=True,
            recording_allowed=True,
            retention_days=30,
            camera_ids=list(market.cameras.values_list("id", flat=True)),  # type: ignore[attr-defined]
        )
        services.business_submit(business=market, by=alice)
        services.business_verify(business=market, by=sam, reason="Demo: owner met in person, deed checked.")
        # The simulator's cam1 and cam2 show a pedestrian every 12 s (`./dev run` starts it with --walker):
        # a zone on the near pavement's right half raises an alert each time, once the segment is analysed.
        for camera in market.cameras.all():  # type: ignore[attr-defined]
            rule_save(
                camera=camera,
                by=alice,
                data={
                    "name": "Sidewalk by the door",
                    "kind": "zone",
                    "zone": [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]],
                    "classes": ["person"],
                    "cooldown_s": 0,
                },
            )

        dana = User.objects.create_user(email="dana@demo.lantern", password=PASSWORD, full_name="Dana Pharmacist")
        pharmacy = services.business_create(
            owner=dana,
            name="Cass Avenue Pharmacy",
            contact_name="Dana Pharmacist",
            contact_email="dana@demo.lantern",
        )
        site = services.site_create(
            business=pharmacy,
            by=dana,
            name="Cass Ave",
            address="4200 Cass Ave, Detroit, MI",
            latitude=Decimal("42.351000"),
            longitude=Decimal("-83.064300"),
            timezone="America/Detroit",
        )
        camera_create(
            business=pharmacy,
            by=dana,
            site=site,
            name="Counter",
            stream_url=f"{simulator}/cam3",
            placement=Camera.Placement.INDOOR,
            views="Pharmacy counter",
        )
        services.agreement_create(
            business=pharmacy,
            by=dana,
            name="Evenings",
            mode="schedule",
            terms_accepted=True,
            schedule={day: [["18:00", "06:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
            camera_ids=list(pharmacy.cameras.values_list("id", flat=True)),  # type: ignore[attr-defined]
        )
        services.business_submit(business=pharmacy, by=dana)
        self._spread(extra=extra, sam=sam)

    def _spread(self, *, extra: int, sam: User) -> None:
        """Many registry-only cameras around Detroit, so that the map shows its clustering."""
        rng = random.Random(7)
        for batch in range(0, extra, 50):
            owner = User.objects.create_user(
                email=f"block{batch}@demo.lantern", password=PASSWORD, full_name=f"Block {batch}"
            )
            business = services.business_create(
                owner=owner, name=f"Block association {batch}", contact_name=owner.full_name, contact_email=owner.email
            )
            for i in range(batch, min(batch + 50, extra)):
                site = services.site_create(
                    business=business,
                    by=owner,
                    name=f"Site {i}",
                    address=f"{100 + i} Demo St, Detroit, MI",
                    latitude=Decimal(f"{42.33 + rng.uniform(-0.08, 0.08):.6f}"),
                    longitude=Decimal(f"{-83.05 + rng.uniform(-0.12, 0.12):.6f}"),
                    timezone="America/Detroit",
                )
                camera_create(business=business, by=owner, site=site, name=f"Camera {i}", source=Camera.Source.PUSH)
            services.agreement_create(
                business=business,
                by=owner,
                name="Registry",
                mode="registry",
                terms_accepted=True,
                camera_ids=list(business.cameras.values_list("id", flat=True)),  # type: ignore[attr-defined]
            )
            services.business_submit(business=business, by=owner)
            services.business_verify(business=business, by=sam, reason="Demo block association.")

    def _print_logins(self) -> None:
        pending = Business.objects.filter(state=Business.State.PENDING).first()
        otp = "./.venv/bin/python manage.py demo_data --otp"
        self.stdout.write(
            f"\nDemo logins (password for all: {PASSWORD})\n"
            "  business owner     alice@demo.lantern   (Alice's Market, verified, 2 cameras)\n"
            f"  business owner     dana@demo.lantern    ({pending.name if pending else 'Cass Avenue Pharmacy'},"
            " waiting for verification)\n"
            f"  police supervisor  sam@demo.lantern     two-factor code: {otp} sam@demo.lantern\n"
            f"  police monitor     monica@demo.lantern  two-factor code: {otp} monica@demo.lantern\n"
            "  Or sign up as a new business at http://127.0.0.1:8000/account/signup/"
            " and enrol rtsp://127.0.0.1:8554/cam4\n"
        )
