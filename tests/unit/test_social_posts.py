"""Pure: the posts' words and limits, and the status file's `social:` section."""
import pytest

from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.render import posts

LINK = "https://status.acme.example/incidents/abc"
INC = {"name": "API errors", "shortlink": LINK,
       "incident_updates": [{"status": "monitoring", "body": "A fix is **out**."}]}


@pytest.mark.parametrize("platform,limit", [("mastodon", 500), ("bluesky", 300)])
@pytest.mark.parametrize("body", ["short", "x" * 5000, "👩‍👩‍👧" * 400, "é" * 2999])
def test_posts_fit_and_end_with_the_link(platform, limit, body):
    text = posts.update_post(INC, {"status": "identified", "body": body}, platform)
    count = posts.graphemes(text) if platform == "bluesky" else len(text)
    assert count <= limit and text.endswith("\n" + LINK)
    if platform == "bluesky":
        assert posts.bluesky_fits(text)
    assert text.startswith("API errors: Identified")


def test_a_short_post_is_whole_and_markdown_is_plain():
    assert posts.update_post(INC, INC["incident_updates"][0], "mastodon") == \
        f"API errors: Monitoring\n\nA fix is out.\n{LINK}"


def test_maintenance_and_replies():
    m = {**INC, "name": "DB upgrade", "scheduled_for": "2026-12-01T02:00:00.000Z"}
    assert posts.headline(m, {"status": "in_progress"}) == "Maintenance: DB upgrade (In progress)"
    reply = posts.reply_post(INC, "mastodon", "@bob@x.example")
    assert reply.startswith("@bob@x.example We know") and reply.endswith("\n" + LINK)
    assert "A fix is out." in reply


@pytest.mark.parametrize("text,hit", [("<p>is <b>it</b> DOWN?</p>", True), ("downtown", False),
                                      ("Not   working here", True), ("hello", False)])
def test_keywords_are_whole_words(text, hit):
    assert posts.asks_about_service(text, ["down", "not working"]) is hit


BASE = """
page: {id: acme, name: Acme, url: https://status.acme.example}
components: [{id: api, name: API}]
social:
"""


def load(extra, env=None):
    return load_status_text(BASE + extra, "s.yaml", env or {})


def test_social_names_variables_never_secrets():
    cfg = load("  mastodon: {instance: https://m.example, account: acme, token: '${MT}'}\n"
               "  bluesky: {handle: acme.bsky.social}\n  auto_reply: true\n")
    assert cfg.social.mastodon.token_env == "MT"            # the name; MT need not be set
    assert cfg.social.bluesky.app_password_env == "OUTPOST_BLUESKY_APP_PASSWORD"
    assert cfg.social.auto_reply.enabled and cfg.social.posting == ("mastodon", "bluesky")
    assert load("").social.posting == ()


@pytest.mark.parametrize("extra,problem", [
    ("  mastodon: {instance: https://m.example, account: acme, token: hunter2}\n",
     "social.mastodon.token: secrets are not written"),
    ("  mastodon: {instance: https://m.example, account: acme, token: '${A}', token_env: B}\n",
     "give token or token_env, not both"),
    ("  bluesky: {handle: acme.bsky.social, app_password: pw}\n", "social.bluesky.app_password"),
    ("  x: {handle: acme, token: '${X}'}\n", "unknown key 'token'"),
    ("  auto_reply: {enabled: true, page_size: 500}\n", "at most 80"),
    ("  mastodon: {instance: ftp://m.example, account: acme}\n", "unsupported URL scheme"),
])
def test_bad_social_config_names_the_key(extra, problem):
    with pytest.raises(ConfigError) as err:
        load(extra)
    assert problem in str(err.value)
