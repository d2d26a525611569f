"""A WSGI app on Python's wsgiref that reports what it resolved, for tests/hostile.rs.

wsgiref reads headers as CGI does (`x_auth_user_id` and `X-Auth-User-Id` are both
HTTP_X_AUTH_USER_ID, duplicates joined by commas) and percent-decodes PATH_INFO. Prints its
port on the first line of stdout.
"""

import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def app(environ, start_response):
    get = lambda key: environ.get(key, "")
    lines = [
        "upstream=wsgiref",
        "path=" + get("PATH_INFO"),
        "host=" + get("HTTP_HOST"),
        "user=" + get("HTTP_X_AUTH_USER_ID"),
        "role=" + get("HTTP_X_AUTH_USER_ROLE"),
        "override=" + (get("HTTP_X_ORIGINAL_URL") or get("HTTP_X_REWRITE_URL")),
        "real_ip=" + (get("HTTP_X_REAL_IP") or get("HTTP_X_CLIENT_IP") or get("HTTP_TRUE_CLIENT_IP")),
        "method=" + get("REQUEST_METHOD"),
        "method_override="
        + (get("HTTP_X_HTTP_METHOD_OVERRIDE") or get("HTTP_X_HTTP_METHOD") or get("HTTP_X_METHOD_OVERRIDE")),
    ]
    body = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
print(server.server_port, flush=True)
server.serve_forever()
