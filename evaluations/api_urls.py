from django.urls import include, path
from rest_framework.routers import SimpleRouter

from evaluations.api import comparisons, findings, power, reports, runs, search, trends
from evaluations.api.catalogue import EvalTaskViewSet
from evaluations.api.exercises import ExerciseViewSet
from evaluations.api.registry import RegisteredModelViewSet

router = SimpleRouter(trailing_slash=True)
router.register("exercises", ExerciseViewSet, basename="api-exercise")
router.register("models", RegisteredModelViewSet, basename="api-model")
router.register("tasks", EvalTaskViewSet, basename="api-task")
router.register("runs", runs.RunViewSet, basename="api-run")
router.register("findings", findings.FindingViewSet, basename="api-finding")
router.register("evidence-flags", findings.EvidenceFlagViewSet, basename="api-evidence-flag")
router.register("releases", findings.ReleaseViewSet, basename="api-release")
router.register("risk-areas", findings.RiskAreaViewSet, basename="api-risk-area")

urlpatterns: list = [
    path("samples/<int:pk>/", runs.SampleDetailView.as_view(), name="api-sample-detail"),
    path("run-items/<int:pk>/log/", runs.RunItemLogView.as_view(), name="api-run-item-log"),
    path("compare/", comparisons.CompareView.as_view(), name="api-compare"),
    path("power/", power.PowerView.as_view(), name="api-power"),
    path("trends/", trends.TrendView.as_view(), name="api-trend"),
    path("trends/baseline/", trends.TrendBaselineView.as_view(), name="api-trend-baseline"),
    path("search/", search.SearchView.as_view(), name="api-search"),
    path("exercises/<int:pk>/report.pdf", reports.ExerciseReportView.as_view(), name="api-exercise-report"),
    path("", include(router.urls)),
]
