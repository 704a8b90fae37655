from django.urls import path

from accounts import views

urlpatterns = [
    path("invitations/accept/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/", views.token_create, name="token_create"),
    path("profile/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("manage/organisations/", views.manage_organisations, name="manage_organisations"),
    path("manage/organisations/<int:pk>/", views.manage_organisation_edit, name="manage_organisation_edit"),
    path("manage/users/", views.manage_users, name="manage_users"),
    path("manage/users/<int:pk>/", views.manage_user_edit, name="manage_user_edit"),
    path("manage/invitations/", views.manage_invitations, name="manage_invitations"),
    path("manage/invitations/<int:pk>/revoke/", views.manage_invitation_revoke, name="manage_invitation_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
