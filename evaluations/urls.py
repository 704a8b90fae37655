from django.urls import path

from evaluations import views_runs
from evaluations.views import catalogue as catalogue_views
from evaluations.views import registry as registry_views

urlpatterns: list = [
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
