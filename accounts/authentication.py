"""API authentication: bearer tokens and browser sessions (with CSRF). No HTTP Basic."""

from rest_framework.authentication import SessionAuthentication


class BearerTokenAuthentication:
    """Placeholder until API tokens land (issue 4): authenticates nobody."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        return None

    def authenticate_header(self, request):  # type: ignore[no-untyped-def]
        return 'Bearer realm="api"'


class MFASessionAuthentication(SessionAuthentication):
    pass
