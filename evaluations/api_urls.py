from django.urls import include, path
from rest_framework.routers import SimpleRouter

from evaluations.api.catalogue import EvalTaskViewSet
from evaluations.api.registry import RegisteredModelViewSet

registry_router = SimpleRouter(trailing_slash=True)
registry_router.register("models", RegisteredModelViewSet, basename="api-model")
registry_router.register("tasks", EvalTaskViewSet, basename="api-task")

urlpatterns: list = [
    path("", include(registry_router.urls)),
]
