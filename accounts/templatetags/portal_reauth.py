"""Why the re-authentication page asks for a password or a code again (issue 12): named from the page the user
was on its way to (allauth's ``next``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.urls import Resolver404, resolve

register = template.Library()

RUN_ACTIONS = {"approve": "approve run {run}", "reject": "reject run {run}"}
PAGES = {
    "model-credential": "change the API key of a model",
    "model-create": "register a model with an API key",
    "token_create": "create an API token",  # words on a page, not a password  # nosec B105
}


@register.simple_tag(takes_context=True)
def reauth_reason(context: Any) -> str:
    """"To approve run 5, ..." for the action waiting behind the re-authentication, else a general sentence."""
    request = context.get("request")
    path = (request.GET.get("next") if request is not None else "") or ""
    action = ""
    try:
        match = resolve(path.split("?", 1)[0]) if path.startswith("/") else None
    except Resolver404:
        match = None
    if match is not None:
        if match.url_name == "run-action" and match.kwargs.get("action") in RUN_ACTIONS:
            action = RUN_ACTIONS[match.kwargs["action"]].format(run=match.kwargs.get("pk"))
        else:
            action = PAGES.get(match.url_name or "", "")
    minutes = max(1, settings.ACCOUNT_REAUTHENTICATION_TIMEOUT // 60)
    why = (f"You last confirmed who you are more than {minutes} minute{'s' if minutes != 1 else ''} ago. Decisions "
           "recorded in your name (approving or rejecting runs, signing off or releasing findings, changing a "
           "model's API key, creating an API token) need a recent confirmation, so nobody else can act for you "
           "from a browser left signed in.")
    if action:
        return f"To {action}, confirm it is you. {why}"
    return f"Confirm it is you to carry on. {why}"
