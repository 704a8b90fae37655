from django.contrib import admin

from accounts.models import Organisation, User

admin.site.register(Organisation)
admin.site.register(User)
