from django.urls import path

from evaluations import views_runs

urlpatterns: list = [
    path("runs/", views_runs.run_list_view, name="run-list"),
    path("runs/new/", views_runs.run_form_view, name="run-create"),
    path("runs/import/", views_runs.run_import_view, name="run-import"),
    path("runs/compare/", views_runs.compare_view, name="run-compare"),
    path("runs/<int:pk>/", views_runs.run_detail_view, name="run-detail"),
    path("runs/<int:pk>/edit/", views_runs.run_form_view, name="run-edit"),
    path("runs/<int:pk>/items/", views_runs.run_items_partial, name="run-items-partial"),
    path("runs/<int:pk>/samples/", views_runs.sample_list_view, name="run-samples"),
    path("runs/<int:pk>/<str:action>/", views_runs.run_action_view, name="run-action"),
    path("notifications/", views_runs.notification_list_view, name="notification-list"),
    path("samples/<int:pk>/", views_runs.sample_detail_view, name="sample-detail"),
    path("run-items/<int:pk>/log.<str:ext>", views_runs.run_item_log_view, name="run-item-log"),
    path("run-items/<int:pk>/viewer/", views_runs.log_viewer_view, name="run-item-viewer"),
    path("run-items/<int:pk>/viewer/<path:path>", views_runs.log_viewer_view, name="run-item-viewer-file"),
]
