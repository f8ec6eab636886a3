"""Fixtures for the API tests: a client for a persona named by a string, so that tests can parametrize over people."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client_as(request, api_client_for) -> Callable[[str], APIClient]:
    """`client_as("monitor")` is an API client logged in as the monitor; "anonymous" is nobody."""

    def make(persona: str) -> APIClient:
        user = None if persona == "anonymous" else request.getfixturevalue(persona)
        return api_client_for(user)

    return make
