"""The address policy as a table: every URL form a base URL can take, and what the policy says about it.
Django-free (evaluations.engine.netguard) plus the registration wrapper (a malformed URL is a field error)."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ValidationError

from evaluations.endpoints import validate_base_url
from evaluations.engine import netguard
from evaluations.engine.netguard import EndpointPolicy, EndpointRefused, endpoint_check

STRICT = EndpointPolicy(debug=False, allowlist=())


def dns(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda host: mapping.get(host, [])


@pytest.mark.parametrize("url,code", [
    # IPv4-mapped, IPv4-compatible, 6to4 and NAT64 forms are judged by the IPv4 address they carry
    ("http://[::ffff:127.0.0.1]/v1", "loopback"),
    ("http://[::ffff:7f00:1]/v1", "loopback"),
    ("http://[::ffff:169.254.169.254]/v1", "link-local"),
    ("http://[::ffff:10.0.0.1]/v1", "private"),
    ("http://[::127.0.0.1]/v1", "loopback"),
    ("http://[2002:7f00:1::]/v1", "loopback"),
    ("http://[2002:a9fe:a9fe::1]/v1", "link-local"),
    ("http://[2002:c0a8:101::1]/v1", "private"),
    ("http://[64:ff9b::7f00:1]/v1", "loopback"),
    ("http://[64:ff9b::169.254.169.254]/v1", "link-local"),
    ("http://[64:ff9b::a00:1]/v1", "private"),
    ("http://[64:ff9b:1::a00:1]/v1", "reserved"),  # local-use NAT64: no fixed place for the IPv4 address
    # zone ids, unspecified, multicast, shared address space
    ("http://[fe80::1%25eth0]/v1", "link-local"),
    ("http://[::]/v1", "unspecified"),
    ("http://0.0.0.0/v1", "unspecified"),
    ("http://[ff02::1]/v1", "multicast"),
    ("http://224.0.0.1/v1", "multicast"),
    ("http://100.64.0.1/v1", "reserved"),
    ("http://[2001::1]/v1", "private"),  # Teredo
    # names refused without asking DNS, with or without a trailing dot
    ("http://localhost/v1", "loopback"),
    ("http://localhost./v1", "loopback"),
    ("http://LOCALHOST.:8000/v1", "loopback"),
    ("http://api.localhost/v1", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1", "link-local"),
    ("http://metadata.google.internal./computeMetadata/v1", "link-local"),
    ("http://gpu-box.internal./v1", "private"),
    ("http://printer.local/v1", "private"),
    ("http://router.home.arpa/v1", "private"),
    ("http://intranet/v1", "private"),
    # malformed
    ("http://[::1/v1", "host"),
    ("http://[abc]/v1", "host"),
    ("http://[fe80::zz]/v1", "host"),
    ("http://a]b/v1", "host"),
    ("http://[::1]:99999/v1", "port"),
    ("http://models.example.org:port/v1", "port"),
    ("http://models..example.org/v1", "host"),
    ("http:///v1", "host"),
    ("ftp://models.example.org/v1", "scheme"),
    ("http://u:p@models.example.org/v1", "userinfo"),
])
def test_the_policy_refuses_each_internal_or_malformed_form(url, code):
    with pytest.raises(EndpointRefused) as info:
        endpoint_check(url, STRICT, resolver=dns({}))
    assert info.value.code == code
    assert str(info.value)


@pytest.mark.parametrize("url", [
    "https://93.184.216.34/v1",
    "https://[2606:4700::1111]/v1",
    "https://[::ffff:93.184.216.34]/v1",  # mapped public
    "https://[2002:5db8:d822::1]/v1",  # 6to4 of a public address
    "https://[64:ff9b::5db8:d822]/v1",  # NAT64 of a public address
    "https://models.example.org./v1",  # trailing dot, public answer
])
def test_public_addresses_in_every_form_are_allowed(url):
    endpoint = endpoint_check(url, STRICT, resolver=dns({"models.example.org": ["93.184.216.34"]}))
    assert endpoint.addresses


def test_embedded_ipv4_is_found_in_mapped_compatible_6to4_and_nat64_forms():
    table = {"::ffff:10.1.2.3": "10.1.2.3", "::10.1.2.3": "10.1.2.3", "2002:a01:203::": "10.1.2.3",
             "64:ff9b::a01:203": "10.1.2.3", "2606:4700::1111": None, "::1": None, "::": None}
    for text, expected in table.items():
        found = netguard.embedded_ipv4(ipaddress.ip_address(text))
        assert (str(found) if found else None) == expected, text


def test_a_name_with_any_internal_answer_is_refused_and_a_trailing_dot_changes_nothing():
    resolver = dns({"mixed.example.org": ["93.184.216.34", "169.254.169.254"],
                    "v6.example.org": ["2606:4700::1111", "::ffff:127.0.0.1"]})
    for url in ("https://mixed.example.org/v1", "https://mixed.example.org./v1"):
        with pytest.raises(EndpointRefused) as info:
            endpoint_check(url, STRICT, resolver=resolver)
        assert info.value.code == "link-local"
    with pytest.raises(EndpointRefused, match="carries 127.0.0.1"):
        endpoint_check("https://v6.example.org/v1", STRICT, resolver=resolver)


def test_the_allowlist_matches_names_without_their_dot_and_mapped_addresses_by_their_ipv4_network():
    allow = EndpointPolicy(allowlist=("127.0.0.2/32", "gpu-box.internal."))
    endpoint_check("http://[::ffff:127.0.0.2]:9000/v1", allow)
    endpoint_check("http://127.0.0.2:9000/v1", allow)
    endpoint_check("http://gpu-box.internal/v1", allow, resolver=dns({"gpu-box.internal": ["10.2.3.4"]}))
    with pytest.raises(EndpointRefused):
        endpoint_check("http://127.0.0.3:9000/v1", allow)
    with pytest.raises(EndpointRefused):
        endpoint_check("http://[::ffff:127.0.0.3]:9000/v1", allow)


def test_debug_allows_loopback_in_every_form_but_nothing_else():
    debug = EndpointPolicy(debug=True)
    for url in ("http://localhost./v1", "http://[::ffff:127.0.0.1]/v1", "http://[2002:7f00:1::]/v1"):
        endpoint_check(url, debug, resolver=dns({"localhost": ["127.0.0.1"]}))
    for url in ("http://169.254.169.254/", "http://[64:ff9b::a9fe:a9fe]/", "http://metadata.google.internal/"):
        with pytest.raises(EndpointRefused):
            endpoint_check(url, debug)


def test_a_name_that_does_not_resolve_is_refused_at_use_and_accepted_at_registration():
    with pytest.raises(EndpointRefused) as info:
        endpoint_check("https://later.example.org/v1", STRICT, resolver=dns({}))
    assert info.value.code == "dns"
    assert endpoint_check("https://later.example.org/v1", STRICT, resolver=dns({}), allow_unresolved=True)


@pytest.mark.parametrize("url", ["http://[::1/v1", "http://[abc]/v1", "http://[fe80::1%25]/v1"])
def test_registration_turns_a_malformed_ipv6_literal_into_a_validation_error(url):
    with pytest.raises(ValidationError) as info:
        validate_base_url(url, debug=False, allowlist=[], allow_unresolved=True)
    assert info.value.code == "host"


def test_the_error_summary_is_one_short_scrubbed_line():
    text = "Error code: 500 - " + "x" * 1000 + "\n\nTraceback sk-secret-0123456789abcdef\n"
    summary = netguard.error_summary(text, lambda t: t.replace("sk-secret-0123456789abcdef", "[redacted]"))
    assert len(summary) <= netguard.SUMMARY_LENGTH and "\n" not in summary
    assert summary.startswith("Error code: 500")
    assert "sk-secret" not in netguard.error_summary("key sk-secret-0123456789abcdef",
                                                      lambda t: t.replace("sk-secret-0123456789abcdef", "[r]"))


def test_the_error_summary_drops_the_request_inspect_puts_before_the_error():
    text = ('ModelGenerateError: \nRequest:\n{\n  "messages": [\n    {\n      "role": "user",\n'
            '      "content": "a long prompt"\n    }\n  ],\n  "model": "m"\n}\n\n'
            "PermissionDeniedError('Error code: 403 - Refused by the portal before connecting')")
    assert netguard.error_summary(text) == (
        "ModelGenerateError: PermissionDeniedError('Error code: 403 - Refused by the portal before connecting')")


@pytest.mark.django_db
@pytest.mark.parametrize("base_url", ["http://[::1/v1", "http://[abc]/v1", "http://[fe80::1%25]/v1"])
def test_a_malformed_ipv6_base_url_is_a_400_naming_the_field_and_saves_nothing(uk_staff, exercise, sign_in,
                                                                                base_url):
    from evaluations.models import RegisteredModel
    from tests.support.registry import api_client_for, model_payload

    api = api_client_for(uk_staff, sign_in)
    response = api.post("/api/v1/models/", model_payload(exercise, base_url=base_url), format="json")
    assert response.status_code == 400, response.content
    assert "base_url" in response.json() or "base_url" in response.content.decode()
    assert not RegisteredModel.objects.exists()
