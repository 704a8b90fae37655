"""The user's own notices about runs and findings (institute members and partner viewers)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from evaluations.selectors.notifications import notification_links, notification_list, notification_reader
from evaluations.services.notifications import notifications_mark_all_read
from portal.pagination import page_of


@login_required
@require_http_methods(["GET", "POST"])
def notification_list_view(request: HttpRequest) -> HttpResponse:
    """The user's own notices; POST marks them all read. 404 for anyone without notices (no organisation)."""
    if not notification_reader(request.user):
        raise Http404("Not found.")
    notices = notification_list(user=request.user)
    if request.method == "POST":
        notifications_mark_all_read(actor=request.user)
        return redirect("notification-list")
    page = page_of(request, notices)
    links = notification_links(user=request.user, notices=list(page.object_list))
    for notice in page.object_list:
        notice.link = links.get(notice.pk, "")
    return render(request, "evaluations/runs/notifications.html", {
        "page": page, "unread": notices.filter(read_at__isnull=True).count()})
