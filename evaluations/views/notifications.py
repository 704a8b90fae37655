"""The user's own notices about runs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import visible_to
from accounts.gates import institute_member_required
from evaluations.models import Notification
from evaluations.services.notifications import notifications_mark_all_read
from portal.pagination import page_of


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def notification_list_view(request: HttpRequest) -> HttpResponse:
    """The user's own notices about runs; POST marks them all read."""
    notices = visible_to(request.user, Notification.objects.select_related("run"))
    if request.method == "POST":
        notifications_mark_all_read(actor=request.user)
        return redirect("notification-list")
    page = page_of(request, notices)
    return render(request, "evaluations/runs/notifications.html", {
        "page": page, "unread": notices.filter(read_at__isnull=True).count()})
