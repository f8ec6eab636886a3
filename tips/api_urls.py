"""The citizens' tips API (under /api/tips/, where the anonymity middleware applies)."""

from django.urls import path

from tips import api

urlpatterns = [
    path("", api.TipCreateView.as_view(), name="api-tip-create"),
    path("thread/", api.TipThreadView.as_view(), name="api-tip-thread"),
    path("messages/", api.TipMessageView.as_view(), name="api-tip-message"),
]
