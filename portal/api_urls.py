"""/api/v1/: one router; each app registers its viewsets in its own api_urls module."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash=True)

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("evaluations.api_urls")),
    path("", include(router.urls)),
]
