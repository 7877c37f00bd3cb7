"""The local edge's nginx configuration: CloudFront's behaviours for this stack (infra/resources.yaml,
`Distribution`), as text. Pure: settings in, nginx.conf out; local/edge.py runs it.

What each CloudFront setting becomes here:

  PublicCachePolicy (MinTTL 0, DefaultTTL 10, only ?page= in the key, gzip + br)
      proxy_cache keyed on path + page; the origin's Cache-Control decides (max-age, s-maxage,
      stale-while-revalidate, stale-if-error: nginx reads all four); 10 s without one.
      Accept-Encoding is not sent to the origin and Vary is not stored per client: the edge
      compresses, as CloudFront's Compress does, so every visitor shares one cached copy.
  request collapsing                 proxy_cache_lock: one origin request per object at a time;
                                     stale-while-revalidate refreshes in the background, once.
  origin group api-then-static       a 500/502/503/504 from the API: the same path from the S3
                                     static copy, `/` being index.html. No answer at all
                                     (refused, reset, nothing in 5 s): a cached copy while the
                                     origin's stale-if-error window lasts, then the S3 copy.
  /heartbeat.json                    the static copy's heartbeat, from S3 only (no-cache).
  /api/v1/openapi.json               cached like the pages, from the API only.
  /api/v1/*                          the API, never cached, never compressed, every method.
  AllowedMethods GET, HEAD, OPTIONS  anything else on a public path is 403, as CloudFront's is.
  OriginCustomHeaders                X-Outpost-Origin: this stack's origin secret, overwriting
                                     any value a viewer sends.
  ApiOriginRequestPolicy             CloudFront-Viewer-Address from the real peer (ip:port),
                                     overwriting any value a viewer sends; public paths forward
                                     no viewer headers (no origin request policy there).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# CloudFront's numbers (infra/resources.yaml), kept equal here.
DEFAULT_TTL = 10            # PublicCachePolicy.DefaultTTL: a response without Cache-Control
CONNECT_TIMEOUT = 2         # Origins[api].ConnectionTimeout
READ_TIMEOUT = 5            # Origins[api].CustomOriginConfig.OriginReadTimeout
# CloudFront compresses these types (text/html is always included by nginx) when the object is 1,000 to 10,000,000 bytes.
COMPRESSIBLE = ("text/plain text/css text/calendar application/json "
                "application/javascript application/atom+xml application/rss+xml "
                "image/svg+xml")
MIN_COMPRESS = 1000


@dataclass(frozen=True)
class EdgeSettings:
    port: int                       # where visitors connect (the page URL)
    origin: str                     # host:port of the API (chalice local)
    static: str                     # host:port of S3 (the moto server)
    bucket: str                     # the static copy's bucket
    origin_secret: str              # X-Outpost-Origin
    workdir: str                    # cache, temp files, pid, access log
    brotli_module: Optional[str] = None     # path of ngx_http_brotli_filter_module.so, if any
    user: Optional[str] = None      # "root" when started as root: workers keep the same user
    cache_max_size: str = "256m"


def _brotli(s: EdgeSettings, on: bool) -> str:
    if not s.brotli_module:
        return ""
    if not on:
        return "brotli off;"
    return (f"brotli on; brotli_comp_level 5; brotli_min_length {MIN_COMPRESS}; "
            f"brotli_types {COMPRESSIBLE};")


def render(s: EdgeSettings) -> str:
    if '"' in s.origin_secret or "\\" in s.origin_secret or "$" in s.origin_secret:
        raise ValueError("origin_secret may not contain quotes, backslashes or $")
    head = []
    if s.brotli_module:
        head.append(f"load_module {s.brotli_module};")
    if s.user:
        # nginx started as root would switch its workers to `nobody`, who cannot write the
        # stack's cache directory; keep the starting user (unprivileged when not root).
        head.append(f"user {s.user};")
    w = s.workdir
    return "\n".join(head) + f"""
worker_processes 1;
worker_rlimit_nofile 16384;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 8192; }}

http {{
    # one line per request: who, what, whether the cache answered, which origin was asked
    log_format edge '$remote_addr:$remote_port "$request" $status $body_bytes_sent '
                    'cache=$upstream_cache_status origin=$upstream_addr '
                    'origin_status=$upstream_status $request_time';
    access_log {w}/access.log edge;
    client_body_temp_path {w}/tmp/body;
    proxy_temp_path {w}/tmp/proxy;
    fastcgi_temp_path {w}/tmp/fastcgi;
    uwsgi_temp_path {w}/tmp/uwsgi;
    scgi_temp_path {w}/tmp/scgi;
    types {{ }}
    default_type application/octet-stream;
    server_tokens off;
    client_max_body_size 1m;
    keepalive_requests 10000;

    proxy_cache_path {w}/cache levels=1:2 keys_zone=edge:16m max_size={s.cache_max_size}
                     inactive=1h use_temp_path=off;

    # PublicCachePolicy: only ?page= reaches the origin and the key
    map $arg_page $edge_args {{
        ""      "";
        default "page=$arg_page";
    }}

    upstream api {{
        server {s.origin} max_fails=0;
        keepalive 64;
    }}
    upstream s3 {{
        server {s.static} max_fails=0;
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{s.port} backlog=4096;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout {CONNECT_TIMEOUT}s;
        proxy_read_timeout {READ_TIMEOUT}s;
        proxy_send_timeout {READ_TIMEOUT}s;

        gzip_proxied any;
        gzip_vary on;
        gzip_comp_level 6;
        gzip_min_length {MIN_COMPRESS};
        gzip_types {COMPRESSIBLE};

        # -- public GETs: cached, collapsed, compressed, failing over to the S3 copy --------
        location / {{
            limit_except GET HEAD OPTIONS {{ deny all; }}
            set $args $edge_args;
            proxy_pass_request_headers off;
            proxy_set_header X-Outpost-Origin "{s.origin_secret}";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_key "$uri?$edge_args";
            proxy_cache_methods GET HEAD;
            proxy_cache_convert_head on;
            proxy_cache_valid 200 203 204 206 301 302 404 {DEFAULT_TTL}s;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 30s;
            proxy_cache_lock_age 10s;
            proxy_cache_background_update on;
            proxy_cache_revalidate on;
            proxy_ignore_headers Vary;
            add_header X-Cache $upstream_cache_status always;
            gzip on;
            {_brotli(s, True)}
            proxy_intercept_errors on;
            error_page 500 502 503 504 = @static;
            proxy_pass http://api;
        }}

        # the S3 failover: the same path from the static copy
        location @static {{
            proxy_pass_request_headers off;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_set_header Host "{s.static}";
            proxy_method GET;
            proxy_intercept_errors off;
            proxy_hide_header x-amz-request-id;
            proxy_hide_header x-amz-id-2;
            proxy_hide_header x-amzn-requestid;
            add_header X-Cache "Error from origin; served by the static copy" always;
            gzip on;
            {_brotli(s, True)}
            set $args "";
            rewrite ^/$ /{s.bucket}/index.html break;
            rewrite ^(.*)$ /{s.bucket}$1 break;
            proxy_pass http://s3;
        }}

        # the static copy's heartbeat: from S3 only, revalidated on every request (no-cache)
        location = /heartbeat.json {{
            limit_except GET HEAD OPTIONS {{ deny all; }}
            proxy_pass_request_headers off;
            proxy_set_header Host "{s.static}";
            proxy_set_header Connection "";
            set $args "";
            rewrite ^(.*)$ /{s.bucket}$1 break;
            proxy_pass http://s3;
        }}

        # a public document: cached like the pages, from the API only
        location = /api/v1/openapi.json {{
            limit_except GET HEAD OPTIONS {{ deny all; }}
            set $args "";
            proxy_pass_request_headers off;
            proxy_set_header X-Outpost-Origin "{s.origin_secret}";
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_key "$uri";
            proxy_cache_valid 200 {DEFAULT_TTL}s;
            proxy_cache_lock on;
            proxy_cache_background_update on;
            proxy_cache_revalidate on;
            proxy_ignore_headers Vary;
            add_header X-Cache $upstream_cache_status always;
            gzip on;
            {_brotli(s, True)}
            proxy_pass http://api;
        }}

        # operator API, subscribe, reports, heartbeats: the API, uncached, every method
        location /api/v1/ {{
            proxy_cache off;
            gzip off;
            {_brotli(s, False)}
            proxy_set_header Host "{s.origin}";
            proxy_set_header Connection "";
            proxy_set_header X-Outpost-Origin "{s.origin_secret}";
            proxy_set_header CloudFront-Viewer-Address "$remote_addr:$remote_port";
            proxy_set_header X-Forwarded-For "";
            proxy_pass http://api;
        }}
    }}
}}
"""
