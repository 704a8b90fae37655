from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter(trailing_slash=True)
router.register("organisations", api.OrganisationViewSet, basename="api-organisation")
router.register("audit-events", api.AuditEventViewSet, basename="api-audit-event")
router.register("tokens", api.ApiTokenViewSet, basename="api-token")

urlpatterns = [
    path("me/", api.me, name="api-me"),
    *router.urls,
]
