"""The exercise page at scale (issue 13, "Speed"): the compare picker lists the newest finished items only, and
says so; the runs-by-state table still counts every run of the exercise."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from evaluations.models import Run
from tests.findings.factories import finished_run

pytestmark = pytest.mark.django_db


def test_the_compare_picker_lists_the_newest_items_and_says_it_is_cut(
    client, sign_in, exercise, uk_staff, monkeypatch
):
    monkeypatch.setattr("evaluations.templatetags.runs.COMPARE_PICKER_SIZE", 2)
    runs = [finished_run(exercise=exercise, user=uk_staff, name=f"Run {n}") for n in range(3)]
    for age, run in enumerate(reversed(runs)):  # Run 2 the newest
        Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=age))
    sign_in(client, uk_staff)
    html = client.get(f"/exercises/{exercise.pk}/").content.decode()
    picker = html[html.index('id="compare-results"') :]
    picked = re.findall(r'name="items" type="checkbox" value="(\d+)"', picker)
    assert picked and len(picked) == 2
    assert {int(pk) for pk in picked} == {runs[2].items.get().pk, runs[1].items.get().pk}
    assert "These are the 2 newest finished items of this exercise." in picker
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "3 runs by state" in table  # the counts are not cut


def test_the_picker_says_nothing_of_a_cut_below_its_size(client, sign_in, exercise, uk_staff):
    finished_run(exercise=exercise, user=uk_staff, name="Only run")
    sign_in(client, uk_staff)
    html = client.get(f"/exercises/{exercise.pk}/").content.decode()
    assert "newest finished items of this exercise" not in html
    assert len(re.findall(r'name="items" type="checkbox"', html)) == 1
