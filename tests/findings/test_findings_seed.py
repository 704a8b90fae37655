"""seed_demo creates one released demo finding (so the partner viewer's first sign-in shows something), once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from evaluations.models import Finding, Release

pytestmark = pytest.mark.django_db


def test_seed_demo_releases_one_demo_finding_to_the_partner_once(settings, sign_in):
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    for _ in range(2):
        call_command("seed_demo", stdout=io.StringIO())
    finding = Finding.objects.get()
    assert finding.state == "released" and finding.author.email == "uk.staff@example.org"
    release = Release.objects.get()
    assert list(release.partners.values_list("name", flat=True)) == ["Partner Institute CA"]
    partner = sign_in(Client(), User.objects.get(email="partner.viewer@example.org"))
    results = partner.get("/api/v1/findings/").json()["results"]
    assert [r["id"] for r in results] == [finding.pk]
    excerpt = results[0]["snapshot"]["evidence"][0]["excerpt"]
    assert excerpt.endswith("[redacted]") and "run 42" not in excerpt
    assert results[0]["snapshot"]["models"] == [{"name": "Demo mock model", "version": 1}]
