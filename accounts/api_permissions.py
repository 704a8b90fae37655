from rest_framework.permissions import IsAuthenticated


class IsMFAAuthenticated(IsAuthenticated):
    pass
