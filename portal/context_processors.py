from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from portal.navigation import nav_items_for


def portal(request: HttpRequest) -> dict[str, object]:
    """Navigation and page-wide facts for the base layout."""
    items: list[dict[str, object]] = [{"label": "Home", "url": reverse("home")}]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        items = nav_items_for(user)
        for item in items:
            if item["name"] == "notification-list":
                from evaluations.selectors.notifications import notification_unread_count

                item["count"] = notification_unread_count(user=user)
    for item in items:
        url = str(item["url"])
        item["active"] = request.path == url or (url != "/" and request.path.startswith(url))
    return {"nav_items": items, "portal_time_zone": settings.TIME_ZONE}
