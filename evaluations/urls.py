from django.urls import path

from evaluations.views import catalogue as catalogue_views
from evaluations.views import comparisons as comparison_views
from evaluations.views import exercises as exercise_views
from evaluations.views import findings as finding_views
from evaluations.views import log_viewer, notifications
from evaluations.views import registry as registry_views
from evaluations.views import runs as run_views
from evaluations.views import search as search_views
from evaluations.views import trends as trend_views

urlpatterns: list = [
    # exercises (issue 4)
    path("exercises/", exercise_views.exercise_list, name="exercise_list"),
    path("exercises/new/", exercise_views.exercise_create_view, name="exercise_create"),
    path("exercises/<int:pk>/", exercise_views.exercise_detail, name="exercise_detail"),
    path("exercises/<int:pk>/edit/", exercise_views.exercise_edit_view, name="exercise_edit"),
    path("exercises/<int:pk>/archive/", exercise_views.exercise_archive_view, name="exercise_archive"),
    # model registry (issue 5)
    path("models/", registry_views.model_list, name="model-list"),
    path("models/new/", registry_views.model_create, name="model-create"),
    path("models/<int:pk>/", registry_views.model_detail, name="model-detail"),
    path("models/<int:pk>/edit/", registry_views.model_edit, name="model-edit"),
    path("models/<int:pk>/credential/", registry_views.model_credential, name="model-credential"),
    path("models/<int:pk>/archive/", registry_views.model_archive, name="model-archive"),
    path("models/<int:pk>/test-connection/", registry_views.model_test_connection, name="model-test-connection"),
    path("models/<int:pk>/connection-tests/<int:test_pk>/", registry_views.model_connection_test,
         name="model-connection-test"),
    # evaluation catalogue (issue 5)
    path("tasks/", catalogue_views.task_list, name="task-list"),
    path("tasks/catalogue/", catalogue_views.task_catalogue, name="task-catalogue"),
    path("tasks/new/catalogue/", catalogue_views.task_create_registry, name="task-create-registry"),
    path("tasks/new/dataset/", catalogue_views.task_create_dataset, name="task-create-dataset"),
    path("tasks/<int:pk>/", catalogue_views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/edit/", catalogue_views.task_edit, name="task-edit"),
    path("tasks/<int:pk>/archive/", catalogue_views.task_archive, name="task-archive"),
    # runs (issue 6)
    path("runs/", run_views.run_list_view, name="run-list"),
    path("runs/new/", run_views.run_form_view, name="run-create"),
    path("runs/import/", run_views.run_import_view, name="run-import"),
    path("runs/compare/", comparison_views.compare_view, name="run-compare"),
    path("runs/compare/export/", comparison_views.compare_export_view, name="run-compare-export"),
    path("runs/power/", run_views.run_power_partial, name="run-power"),
    path("runs/<int:pk>/", run_views.run_detail_view, name="run-detail"),
    path("runs/<int:pk>/edit/", run_views.run_form_view, name="run-edit"),
    path("runs/<int:pk>/items/", run_views.run_items_partial, name="run-items-partial"),
    path("runs/<int:pk>/samples/", run_views.sample_list_view, name="run-samples"),
    path("runs/<int:pk>/<str:action>/", run_views.run_action_view, name="run-action"),
    path("notifications/", notifications.notification_list_view, name="notification-list"),
    # regressions over time (issue 13)
    path("trends/", trend_views.trend_view, name="trend"),
    path("trends/baseline/", trend_views.trend_baseline_view, name="trend-baseline"),
    path("samples/<int:pk>/", run_views.sample_detail_view, name="sample-detail"),
    path("run-items/<int:pk>/log.<str:ext>", run_views.run_item_log_view, name="run-item-log"),
    path("run-items/<int:pk>/viewer/", log_viewer.log_viewer_view, name="run-item-viewer"),
    path("run-items/<int:pk>/viewer/<path:path>", log_viewer.log_viewer_file_view, name="run-item-viewer-file"),
    # findings (issue 11): one URL per page for every role (partners see their release snapshots)
    path("findings/", finding_views.finding_list_view, name="finding-list"),
    path("findings/new/", finding_views.finding_form_view, name="finding-create"),
    path("findings/export.<str:ext>", finding_views.findings_export_view, name="finding-export"),
    path("findings/<int:pk>/", finding_views.finding_detail_view, name="finding-detail"),
    path("findings/<int:pk>/edit/", finding_views.finding_form_view, name="finding-edit"),
    path("findings/<int:pk>/comments/", finding_views.finding_comment_view, name="finding-comment"),
    path("findings/<int:pk>/evidence/<int:evidence_pk>/reproduce/", finding_views.finding_reproduce_view,
         name="finding-reproduce"),
    path("findings/<int:pk>/<str:action>/", finding_views.finding_action_view, name="finding-action"),
    path("samples/<int:pk>/flag/", finding_views.sample_flag_view, name="sample-flag"),
    path("evidence-flags/<int:pk>/delete/", finding_views.flag_delete_view, name="flag-delete"),
    path("exercises/<int:pk>/report.pdf", finding_views.exercise_report_view, name="exercise-report"),
    # search (issue 13)
    path("search/", search_views.search_view, name="search"),
]
