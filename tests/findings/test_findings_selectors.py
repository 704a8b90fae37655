"""Reads the pages use: the partner landing data (empty state, filter choices from their own snapshots), what a user
may do now, and evidence prefilled from flags."""

from __future__ import annotations

import pytest

from evaluations.selectors import findings as selectors
from evaluations.services import findings as services

pytestmark = pytest.mark.django_db


def test_the_partner_landing_says_nothing_is_released_yet_then_lists_and_offers_only_their_choices(
        partner_viewer, other_partner_viewer, signed_off, uk_approver, partner_ca):
    empty = selectors.partner_landing(user=partner_viewer, filters={})
    assert empty["nothing_released"] and list(empty["releases"]) == []
    services.finding_release(actor=uk_approver, finding=signed_off, partners=[partner_ca.pk])
    landing = selectors.partner_landing(user=partner_viewer, filters={"severity": "high"})
    assert not landing["nothing_released"] and len(landing["releases"]) == 1
    assert landing["choices"]["severity"] == ["high"]
    assert landing["choices"]["risk_area"] == [("cyber", "Cyber")]
    assert landing["choices"]["model"] == ["Finished run model"]
    assert [name for _, name in landing["choices"]["exercise"]] == ["Joint Exercise Alpha"]
    assert list(selectors.partner_landing(user=partner_viewer, filters={"severity": "low"})["releases"]) == []
    assert selectors.partner_landing(user=other_partner_viewer, filters={})["nothing_released"]


def test_actions_say_what_each_user_may_do_now(in_review, uk_staff, us_staff, uk_approver, us_approver, admin_user):
    def actions(user):
        return selectors.finding_actions(user=user, finding=selectors.finding_get(user=user, pk=in_review.pk))

    assert actions(uk_staff) == ["edit", "comment", "reproduce"]
    assert actions(us_staff) == ["request_changes", "comment", "reproduce"]
    assert actions(us_approver) == ["request_changes", "sign_off", "comment", "reproduce"]
    services.finding_sign_off(actor=us_approver, finding=in_review)
    assert "sign_off" not in actions(us_approver)
    assert actions(admin_user) == []


def test_evidence_is_prefilled_from_flags_the_user_sees(run, us_staff, uk_staff):
    sample = run.items.get().samples.first()
    flag = services.evidence_flag_create(actor=us_staff, sample=sample, note="n", message_indices=[1, 2])
    (evidence,) = selectors.evidence_from_flags(user=uk_staff, flag_ids=[flag.pk, 999999])
    assert evidence["sample"] == sample.pk and evidence["redactions"] == []
    assert evidence["excerpt"] == ("user: How would one pick this lock?\n\n"
                                   "assistant: Here are the steps: first insert the tension wrench.")
    assert selectors.evidence_flag_list(user=uk_staff, run=run.pk).get() == flag
