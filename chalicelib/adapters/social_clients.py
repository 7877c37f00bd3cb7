"""Adapters for the official accounts: Mastodon through Mastodon.py, Bluesky through atproto.

Only the delivery worker builds these (chalicelib/wiring.py `social_posters`): atproto alone
takes about 2 s to import, which the API and the stream consumer must not pay at cold start.
Each client is made once per warm Lambda and account, and dropped after a failure so the next
try logs in afresh (Bluesky rate-limits createSession to a few dozen an hour).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Mapping, NamedTuple, Optional

import requests
from atproto import Client, client_utils, models
from atproto_client.exceptions import AtProtocolError, RequestErrorBase
from atproto_client.request import Request
from mastodon import Mastodon, MastodonAPIError, MastodonError

from ..core.errors import PostFailed
from .channel_send import held_to

# The platform refused this post as such (malformed, too long): trying again won't help.
PERMANENT = {400, 404, 413, 422}
_THEIRS = (MastodonError, AtProtocolError, requests.RequestException, OSError)


class Mention(NamedTuple):
    """Someone's post that mentions the official account."""
    id: str                    # the notification's id (the poll's cursor)
    person: str                # a stable id of the author (Mastodon account id, Bluesky DID)
    handle: str                # how to address them: "@bob@host" (Mastodon), "bob.example"
    at: str                    # when it was posted, ISO 8601
    text: str                  # as the platform gives it (Mastodon: HTML)
    ref: dict                  # what a reply to it needs


class MastodonPoster:
    def __init__(self, account, token: str, timeout: float):
        self.account, self.timeout = account, timeout
        self.api = Mastodon(access_token=token, api_base_url=account.instance,
                            request_timeout=timeout, ratelimit_method="throw",
                            version_check_mode="none")

    def post(self, text: str, reply_to: Optional[dict], key: str,
             visibility: str = "public") -> dict:
        parent = (reply_to or {}).get("parent") or {}
        with self._deadline():
            status = self.api.status_post(text, in_reply_to_id=parent.get("id"),
                                          idempotency_key=key, visibility=visibility)
        return {"id": str(status["id"])}

    @contextmanager
    def _deadline(self):
        """One deadline over the whole call: requests' timeout is per read, so an instance
        trickling its answer would hold the worker past the deadline and the post's lease.
        Fresh connections each call (the guard covers only those it sees opened)."""
        try:
            with held_to(self.timeout):
                yield
        finally:
            self.api.session.close()

    def mentions(self, since: Optional[str], limit: int) -> list[Mention]:
        with self._deadline():
            found = self.api.notifications(types=["mention"], since_id=since, limit=limit)
        out = []
        for n in found or ():
            status, who = n.get("status") or {}, n.get("account") or {}
            if not status or not who:
                continue
            out.append(Mention(id=str(n["id"]), person=str(who["id"]),
                               handle="@" + str(who.get("acct") or who.get("username")),
                               at=_iso(n.get("created_at")), text=str(status.get("content") or ""),
                               ref={"parent": {"id": str(status["id"])}}))
        return out

    @staticmethod
    def newest(found: list[Mention], since: Optional[str]) -> Optional[str]:
        ids = [int(m.id) for m in found if m.id.isdigit()] + ([int(since)] if since else [])
        return str(max(ids)) if ids else since


class BlueskyPoster:
    def __init__(self, account, password: str, timeout: float):
        self.account = account
        self.client = Client(base_url=account.service, request=Request(timeout=timeout))
        # One session per warm Lambda: Bluesky rate-limits createSession (tens an hour).
        self.client.login(account.handle, password, fetch_bsky_profile=False)

    def post(self, text: str, reply_to: Optional[dict], key: str,
             visibility: str = "public") -> dict:
        body, _, link = text.rpartition("\n")
        rich = client_utils.TextBuilder()
        if body:
            rich.text(body + "\n")
        rich.link(link, link)                       # a facet: Bluesky shows it as a link
        reply = None
        if reply_to:
            ref = models.ComAtprotoRepoStrongRef.Main
            reply = models.AppBskyFeedPost.ReplyRef(root=ref(**reply_to["root"]),
                                                    parent=ref(**reply_to["parent"]))
        made = self.client.send_post(rich, profile_identify=self.account.handle, reply_to=reply)
        return {"uri": made.uri, "cid": made.cid}

    def mentions(self, since: Optional[str], limit: int) -> list[Mention]:
        page = self.client.app.bsky.notification.list_notifications(params={"limit": limit})
        out = []
        for n in page.notifications:
            if n.reason != "mention" or (since and n.indexed_at <= since):
                continue
            record = n.record
            me = {"uri": n.uri, "cid": n.cid}
            root = me
            if getattr(record, "reply", None) is not None:
                root = {"uri": record.reply.root.uri, "cid": record.reply.root.cid}
            out.append(Mention(id=n.indexed_at, person=n.author.did, handle=n.author.handle,
                               at=getattr(record, "created_at", None) or n.indexed_at,
                               text=str(getattr(record, "text", "") or ""),
                               ref={"root": root, "parent": me}))
        return out

    @staticmethod
    def newest(found: list[Mention], since: Optional[str]) -> Optional[str]:
        return max([m.id for m in found] + ([since] if since else []), default=None)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


class Posters:
    """The clients of the official accounts, per warm Lambda."""

    def __init__(self, env: Mapping[str, str], timeout: float):
        self.env, self.timeout = env, timeout
        self._made: dict = {}

    def get(self, platform: str, account):
        env_name = account.token_env if platform == "mastodon" else account.app_password_env
        secret = self.env.get(env_name)
        if not secret:
            raise PostFailed(f"the environment variable {env_name} (the {platform} secret) "
                             "is not set")
        key = (platform, account, secret)
        if key not in self._made:
            kind = MastodonPoster if platform == "mastodon" else BlueskyPoster
            try:
                self._made[key] = kind(account, secret, self.timeout)
            except _THEIRS as exc:
                raise self.failure(exc) from exc
        return self._made[key]

    def forget(self, platform: str) -> None:
        for key in [k for k in self._made if k[0] == platform]:
            self._made.pop(key, None)

    @staticmethod
    def failure(exc: Exception) -> Optional[PostFailed]:
        """What went wrong and whether trying again could help; None: not the platform's doing
        (a bug of ours, left to raise)."""
        if isinstance(exc, PostFailed):
            return exc
        if not isinstance(exc, _THEIRS):
            return None
        status = None
        if isinstance(exc, MastodonAPIError) and len(exc.args) > 1 \
                and isinstance(exc.args[1], int):
            status = exc.args[1]
        elif isinstance(exc, RequestErrorBase) and exc.response is not None:
            status = exc.response.status_code
        return PostFailed(f"{type(exc).__name__}: {str(exc)[:300]}",
                          permanent=status in PERMANENT)
