"""The Django admin, for supervisors who passed two-factor: a read-only window on every record, without secrets.

Changes go through the app's pages, whose services write the audit trail; the admin never
bypasses them, and the audit trail itself can be neither changed nor deleted here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import TokenProxy

from community.models import Agency, AuditEvent, Business, Invitation, SharingAgreement, Site, User

admin.site.__class__ = OTPAdminSite
admin.site.site_header = "Lantern administration"


def _is_supervisor(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and (getattr(user, "is_supervisor", False) or user.is_superuser))


class ReadOnlyForSupervisors(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_supervisor(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_supervisor(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyForSupervisors):
    list_display = ("created_at", "actor_label", "action", "target_type", "target_label", "camera_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "target_label")
    date_hierarchy = "created_at"

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Not even the bulk "delete selected" action.
        return {}


@admin.register(User)
class UserAdmin(ReadOnlyForSupervisors):
    list_display = ("email", "full_name", "role", "agency", "is_active", "date_joined")
    list_filter = ("role", "is_active", "agency")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Business)
class BusinessAdmin(ReadOnlyForSupervisors):
    list_display = ("name", "owner", "state", "submitted_at", "verified_at")
    list_filter = ("state",)
    search_fields = ("name", "owner__email")


@admin.register(Site)
class SiteAdmin(ReadOnlyForSupervisors):
    list_display = ("name", "business", "address", "timezone", "listed_publicly")
    search_fields = ("name", "address", "business__name")


@admin.register(SharingAgreement)
class SharingAgreementAdmin(ReadOnlyForSupervisors):
    list_display = ("name", "business", "mode", "state", "version", "terms_accepted_at")
    list_filter = ("mode", "state")


admin.site.register(Agency, ReadOnlyForSupervisors)
admin.site.register(Invitation, ReadOnlyForSupervisors)


# The libraries' own admins would show every API token in clear and let a superuser add a second factor
# to an officer's account (and read its secret) with no trace. A second factor someone else set up proves
# nothing, so adding one here is refused: officers enrol their own phone on /account/2fa/setup/, which is
# audited. Both stay readable, without their secrets.
admin.site.unregister(TokenProxy)
admin.site.unregister(TOTPDevice)


@admin.register(TokenProxy)
class TokenAdmin(ReadOnlyForSupervisors):
    list_display = ("key_prefix", "user", "created")
    # No page per token: the admin names an object by str(), and a token's is its key.
    list_display_links = None
    search_fields = ("user__email",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_view_permission(request, obj)

    @admin.display(description="Key")
    def key_prefix(self, token: TokenProxy) -> str:
        # Enough to tell tokens apart when a user reports one; far too little to use.
        return f"{token.key[:6]}…"


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(ReadOnlyForSupervisors):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    search_fields = ("user__email",)
