"""Pure: how long public representations may be cached, the one policy the API's answers and
the S3 static copy share (CloudFront honours it; infra/ sets the edge's own TTLs from it)."""
from __future__ import annotations

# Browsers and CDNs may reuse a response for 15 s and keep serving it for a minute while they
# fetch a fresh one. If we are failing they may keep it for 5 minutes more, no longer: an old
# copy must not pass for the present (a day-old green page while the API fails). Past that,
# CloudFront fails over to the S3 copy, which, like the API's HTML, says in the browser when its
# data is too old (render/templates/age.js).
STALE_IF_ERROR_SECONDS = 300
PUBLIC_CACHE_CONTROL = ("public, max-age=15, stale-while-revalidate=60, "
                        f"stale-if-error={STALE_IF_ERROR_SECONDS}")
