import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from evaluations.endpoints import validate_base_url


def fake_dns(mapping):
    return lambda host: mapping.get(host, [])


@pytest.mark.parametrize("url,kind", [
    ("ftp://models.example.org/v1", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://10.0.0.1/", "scheme"),
    ("http://user:pw@models.example.org/v1", "userinfo"),
    ("http://127.0.0.1:8765/v1", "loopback"),
    ("http://[::1]:8765/v1", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/v1", "link-local"),
    ("http://10.1.2.3/v1", "private"),
    ("http://172.16.0.5/v1", "private"),
    ("http://192.168.1.10/v1", "private"),
    ("http://[fd00::1]/v1", "private"),
    ("http://0.0.0.0/v1", "unspecified"),
    ("http://[::ffff:127.0.0.1]/v1", "loopback"),
    ("http://100.64.0.1/v1", "reserved"),
])
def test_refused_url_classes_outside_debug(url, kind):
    with pytest.raises(ValidationError) as info:
        validate_base_url(url, debug=False, allowlist=[])
    assert info.value.code == kind
    assert info.value.messages[0]  # a clear sentence


def test_a_host_name_is_checked_after_dns_resolution():
    dns = fake_dns({"internal.example.org": ["10.0.0.7"], "public.example.org": ["93.184.216.34"],
                    "mixed.example.org": ["93.184.216.34", "192.168.0.2"]})
    validate_base_url("https://public.example.org/v1", debug=False, allowlist=[], resolver=dns)
    for host in ("internal.example.org", "mixed.example.org"):
        with pytest.raises(ValidationError, match="private"):
            validate_base_url(f"https://{host}/v1", debug=False, allowlist=[], resolver=dns)


def test_localhost_resolves_to_loopback_and_is_refused_outside_debug():
    with pytest.raises(ValidationError, match="loopback"):
        validate_base_url("http://localhost:8000/v1", debug=False, allowlist=[])


def test_public_addresses_are_allowed():
    validate_base_url("https://93.184.216.34/v1", debug=False, allowlist=[])
    validate_base_url("https://[2606:4700::1111]/v1", debug=False, allowlist=[])


def test_debug_allows_loopback_but_not_private_or_link_local():
    validate_base_url("http://127.0.0.1:8765/v1", debug=True, allowlist=[])
    validate_base_url("http://localhost:8765/v1", debug=True, allowlist=[])
    for url in ("http://10.0.0.1/v1", "http://169.254.169.254/"):
        with pytest.raises(ValidationError):
            validate_base_url(url, debug=True, allowlist=[])


def test_allowlist_by_cidr_and_by_host_name():
    dns = fake_dns({"gpu-box.internal": ["10.20.30.40"], "other.internal": ["10.99.0.1"]})
    validate_base_url("http://10.20.30.40/v1", debug=False, allowlist=["10.20.0.0/16"])
    validate_base_url("http://gpu-box.internal/v1", debug=False, allowlist=["gpu-box.internal"], resolver=dns)
    validate_base_url("http://127.0.0.1:9000/v1", debug=False, allowlist=["127.0.0.1"])
    with pytest.raises(ValidationError):
        validate_base_url("http://other.internal/v1", debug=False, allowlist=["gpu-box.internal", "10.20.0.0/16"],
                          resolver=dns)


def test_unresolvable_host_is_refused_at_use_and_accepted_at_registration():
    dns = fake_dns({})
    with pytest.raises(ValidationError, match="does not resolve"):
        validate_base_url("https://nowhere.invalid/v1", debug=False, allowlist=[], resolver=dns)
    validate_base_url("https://nowhere.invalid/v1", debug=False, allowlist=[], resolver=dns, allow_unresolved=True)


@pytest.mark.django_db
def test_registration_refuses_a_private_base_url_with_a_field_error(uk_staff, exercise):
    from tests.support.registry import make_model

    with override_settings(DEBUG=False, MODEL_ENDPOINT_ALLOWLIST=[]), pytest.raises(ValidationError) as info:
        make_model(uk_staff, exercise, base_url="http://192.168.0.10:8000/v1")
    assert "base_url" in info.value.message_dict
    with override_settings(DEBUG=False, MODEL_ENDPOINT_ALLOWLIST=["192.168.0.0/24"]):
        assert make_model(uk_staff, exercise, base_url="http://192.168.0.10:8000/v1").pk
