from django.urls import include, path
from rest_framework.routers import SimpleRouter

from evaluations.api import runs
from evaluations.api.catalogue import EvalTaskViewSet
from evaluations.api.exercises import ExerciseViewSet
from evaluations.api.registry import RegisteredModelViewSet

router = SimpleRouter(trailing_slash=True)
router.register("exercises", ExerciseViewSet, basename="api-exercise")
router.register("models", RegisteredModelViewSet, basename="api-model")
router.register("tasks", EvalTaskViewSet, basename="api-task")
router.register("runs", runs.RunViewSet, basename="api-run")

urlpatterns: list = [
    path("samples/<int:pk>/", runs.SampleDetailView.as_view(), name="api-sample-detail"),
    path("run-items/<int:pk>/log/", runs.RunItemLogView.as_view(), name="api-run-item-log"),
    path("compare/", runs.CompareView.as_view(), name="api-compare"),
    path("", include(router.urls)),
]
