# Fixtures of .semgrep/rules/portal.yml: `semgrep --test --config .semgrep/rules/ .semgrep/tests/` (make lint).
# A line after "ruleid" is one the rule must report; after "ok", one it must not. Never imported.
# ruff: noqa
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from rest_framework import serializers


def views(request, user_text, name):
    # ruleid: portal-mark-safe
    a = mark_safe(user_text)
    # ruleid: portal-mark-safe
    b = SafeString("<b>" + user_text + "</b>")
    # ok: portal-mark-safe
    c = format_html("<b>{}</b>", user_text)
    # ok: portal-mark-safe
    d = mark_safe(escape(user_text))  # nosemgrep: portal-mark-safe - escaped just before
    # ok: portal-mark-safe
    e = escape(user_text)
    return a, b, c, d, e


def queries(model, name, table):
    with connection.cursor() as cursor:
        # ruleid: portal-raw-sql-formatting
        cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")
        # ruleid: portal-raw-sql-formatting
        cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
        # ruleid: portal-raw-sql-formatting
        cursor.execute("SELECT * FROM users WHERE name = '{}'".format(name))
        # ruleid: portal-raw-sql-formatting
        cursor.execute("SELECT * FROM users WHERE name = '" + name + "'")
        # ok: portal-raw-sql-formatting
        cursor.execute("SELECT * FROM users WHERE name = %s", [name])
        # ok: portal-raw-sql-formatting
        cursor.execute("SELECT 1")
    query = f"SELECT * FROM {table}"
    # ruleid: portal-raw-sql-formatting
    connection.cursor().execute(query)
    # ruleid: portal-raw-sql-formatting
    model.objects.raw(f"SELECT * FROM app_model WHERE name = '{name}'")
    # ruleid: portal-raw-sql-formatting
    model.objects.raw("SELECT * FROM app_model WHERE name = '%s'" % name)
    # ok: portal-raw-sql-formatting
    model.objects.raw("SELECT * FROM app_model WHERE name = %s", [name])
    # ruleid: portal-raw-sql-formatting
    model.objects.annotate(n=RawSQL(f"SELECT count(*) FROM t WHERE x = {name}", []))
    # ok: portal-raw-sql-formatting
    model.objects.annotate(n=RawSQL("SELECT count(*) FROM t WHERE x = %s", [name]))
    # ruleid: portal-raw-sql-formatting
    model.objects.extra(where=[f"name = '{name}'"])


class ModelSerializer(serializers.ModelSerializer):
    # ruleid: portal-readable-credential-field
    api_key = serializers.CharField()
    # ruleid: portal-readable-credential-field
    client_secret = serializers.CharField(read_only=True)
    # ruleid: portal-readable-credential-field
    password = serializers.CharField(required=False)
    # ok: portal-readable-credential-field
    token = serializers.CharField(write_only=True)
    # ok: portal-readable-credential-field
    secret = serializers.CharField(required=False, write_only=True, allow_blank=True)
    # ok: portal-readable-credential-field
    token_budget = serializers.IntegerField()
    # ok: portal-readable-credential-field
    input_tokens = serializers.IntegerField(read_only=True)

    class Meta:
        # ruleid: portal-readable-credential-meta-field
        fields = ["id", "name", "api_key", "total_tokens"]


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        # ok: portal-readable-credential-meta-field
        fields = ["id", "name", "password", "token_budget"]
        extra_kwargs = {"password": {"write_only": True}}


class PlainSerializer(serializers.Serializer):
    # ruleid: portal-readable-credential-field
    access_token = serializers.CharField()
    # ok: portal-readable-credential-field
    name = serializers.CharField()
