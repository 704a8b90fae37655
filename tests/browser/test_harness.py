"""The harness itself: axe runs and a violation fails the check with a readable list; the ORM is usable."""

from __future__ import annotations

import pytest

from tests.browser.harness import PageProblems, check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD_PAGE = """<!DOCTYPE html><html><head><title>Bad</title></head>
<body><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><a href="/x"></a></main></body></html>"""


def test_a_page_with_violations_fails_the_check_with_each_rule_listed(page):
    page.set_content(BAD_PAGE)
    with pytest.raises(AssertionError) as failure:
        check_page(page, "about:bad", PageProblems())
    message = str(failure.value)
    assert "html-has-lang" in message
    assert "image-alt" in message
    assert "link-name" in message
    assert "dequeuniversity.com" in message


def test_the_database_is_usable_from_a_browser_test(page, django_user_model):
    from tests.support.factories import UserFactory

    UserFactory(email="browser@example.org")
    assert django_user_model.objects.filter(email="browser@example.org").exists()
