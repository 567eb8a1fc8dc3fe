"""The attribute helpers: what a URL becomes in ``url.full``, and where a try went."""

from __future__ import annotations

from aioeas.otel.names import error_type, server_of, url_without_credentials


def test_url_full_has_no_credentials_query_or_fragment() -> None:
    assert (
        url_without_credentials("https://user:pa55@eas.example.com:8443/api/predict/s?k=v#f")
        == "https://REDACTED:REDACTED@eas.example.com:8443/api/predict/s"
    )
    assert url_without_credentials("http://h/api/predict/s") == "http://h/api/predict/s"


def test_server_of_a_try() -> None:
    assert server_of("http://10.0.0.1:9000/api/predict/s", "10.0.0.1:9000") == ("10.0.0.1", 9000)
    assert server_of("https://eas.example.com/api/predict/s", None) == ("eas.example.com", 443)
    assert server_of("http://eas.example.com/api/predict/s", None) == ("eas.example.com", 80)
    assert server_of("http://[::1]:81/x", None) == ("::1", 81)
    assert server_of("http://x/y", "[fe80::1]:8080") == ("fe80::1", 8080)


def test_error_type_is_the_status_of_an_error_answer_else_the_exception() -> None:
    assert error_type(503, RuntimeError()) == "503"
    assert error_type(None, TimeoutError()) == "TimeoutError"
    assert error_type(200, None) is None
