"""The status file's sign-up caps for email and webhooks: defaults, and file:line errors."""
import pytest

from chalicelib.core.config import ConfigError, load_status_text

HEAD = "page: {id: p, name: P, url: 'https://p.example'}\ncomponents: []\n"


def test_sign_up_caps_default_and_can_be_set():
    default = load_status_text(HEAD, environ={}).subscribers
    assert (default.email_per_ip_per_hour, default.email_global_per_hour,
            default.webhook_per_ip_per_hour, default.webhook_global_per_hour) == (10, 1000, 10, 100)
    policy = load_status_text(HEAD + "subscribers:\n  email_per_ip_per_hour: 3\n"
                              "  webhook_global_per_hour: 7\n", environ={}).subscribers
    assert (policy.email_per_ip_per_hour, policy.webhook_global_per_hour) == (3, 7)


@pytest.mark.parametrize("key, value", [("email_per_ip_per_hour", "0"),
                                        ("email_global_per_hour", "lots"),
                                        ("webhook_per_ip_per_hour", "-1"),
                                        ("webhook_global_per_hour", "1.5")])
def test_a_bad_cap_names_file_line_and_key(key, value):
    text = HEAD + f"subscribers:\n  debounce: 5m\n  {key}: {value}\n"
    with pytest.raises(ConfigError) as caught:
        load_status_text(text, source="caps.yaml", environ={})
    assert (caught.value.file, caught.value.line, caught.value.key) == \
        ("caps.yaml", 5, f"subscribers.{key}"), str(caught.value)
