"""factory_boy factories for Lantern's models."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from cameras.credentials import stream_url_encrypt, stream_url_mask
from cameras.models import Camera
from community.models import Agency, Business, SharingAgreement, Site, User


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("name",)

    name = "Detroit Police Department"
    jurisdiction = "City of Detroit"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    role = User.Role.OWNER
    password = factory.django.Password("correct horse battery staple")


class OfficerFactory(UserFactory):
    role = User.Role.MONITOR
    agency = factory.SubFactory(AgencyFactory)


class BusinessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Business

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Business {n}")
    contact_name = factory.Faker("name")
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.com")
    contact_phone = "+1 313 555 0100"
    state = Business.State.VERIFIED
    verified_at = factory.LazyFunction(timezone.now)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    business = factory.SubFactory(BusinessFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    address = "1 Woodward Ave, Detroit, MI"
    latitude = Decimal("42.331400")
    longitude = Decimal("-83.045800")
    timezone = "America/Detroit"


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SharingAgreement

    business = factory.SubFactory(BusinessFactory)
    name = factory.Sequence(lambda n: f"Terms {n}")
    mode = SharingAgreement.Mode.ALWAYS
    state = SharingAgreement.State.ACTIVE
    terms_version = "2026-11"
    terms_accepted_at = factory.LazyFunction(timezone.now)
    terms_accepted_by = factory.SelfAttribute("business.owner")


class CameraFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Camera

    site = factory.SubFactory(SiteFactory)
    business = factory.SelfAttribute("site.business")
    name = factory.Sequence(lambda n: f"Camera {n}")
    source = Camera.Source.PULL
    placement = Camera.Placement.OUTDOOR
    views = "Front entrance and sidewalk"

    class Params:
        stream_url = "rtsp://admin:s3cret@127.0.0.1:1/cam1"

    @factory.lazy_attribute
    def stream_url_encrypted(self) -> str:
        return stream_url_encrypt(self.stream_url)

    @factory.lazy_attribute
    def stream_url_masked(self) -> str:
        return stream_url_mask(self.stream_url)
