"""URLs for accounts, the owner portal, supervisors' tools and the public pages."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from community import views
from community.forms import LoginForm

app_name = "community"

urlpatterns = [
    path("", views.home, name="home"),
    path("account/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/signup/", views.signup, name="signup"),
    path(
        "account/password-reset/",
        auth_views.PasswordResetView.as_view(
            success_url=reverse_lazy("community:password_reset_done"),
            email_template_name="registration/password_reset_email.txt",
        ),
        name="password_reset",
    ),
    path("account/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "account/password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("community:password_reset_complete")),
        name="password_reset_confirm",
    ),
    path(
        "account/password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    path("account/2fa/verify/", views.otp_verify, name="otp_verify"),
    path("account/2fa/setup/", views.otp_setup, name="otp_setup"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("portal/", views.portal, name="portal"),
    path("portal/access-log/", views.access_log, name="access_log"),
    path("portal/businesses/new/", views.business_create, name="business_create"),
    path("portal/businesses/<int:business_id>/", views.business_detail, name="business_detail"),
    path("portal/businesses/<int:business_id>/edit/", views.business_edit, name="business_edit"),
    path("portal/businesses/<int:business_id>/submit/", views.business_submit, name="business_submit"),
    path("portal/businesses/<int:business_id>/staff/", views.business_staff_add, name="business_staff_add"),
    path("portal/businesses/<int:business_id>/sites/new/", views.site_create, name="site_create"),
    path("portal/sites/<int:site_id>/edit/", views.site_edit, name="site_edit"),
    path("portal/businesses/<int:business_id>/terms/new/", views.agreement_create, name="agreement_create"),
    path("portal/terms/<int:agreement_id>/", views.agreement_edit, name="agreement_edit"),
    path("portal/terms/<int:agreement_id>/revoke/", views.agreement_revoke, name="agreement_revoke"),
    path("police/partners/", views.partners, name="partners"),
    path("police/partners/<int:business_id>/", views.partner_detail, name="partner_detail"),
    path("police/officers/", views.officers, name="officers"),
    path(
        "police/officers/<int:officer_id>/deactivate/",
        views.officer_set_active,
        {"active": False},
        name="officer_deactivate",
    ),
    path(
        "police/officers/<int:officer_id>/reactivate/",
        views.officer_set_active,
        {"active": True},
        name="officer_reactivate",
    ),
    path("police/audit/", views.audit_search, name="audit_search"),
    path("transparency/", views.transparency, name="transparency"),
    path("partners/", views.public_partners, name="public_partners"),
]
