#!/usr/bin/python3
"""tests/remote/https_server.py - a loopback HTTPS file server that checks bearer tokens.

Serves the files of --root over HTTPS (HEAD, GET with single or multi Range) on
127.0.0.1, a free port written to --port-file once it listens. Used by the grid
credential tests as the "storage" a job reads from.

  --tokens FILE     accepted bearer tokens, one per line, re-read at every request
                    (a renewer replacing the file is seen at once); without it no
                    token is asked for. A JWT-shaped token whose exp has passed gets
                    401 with WWW-Authenticate error_description="The token has expired".
  --redirect BASE   answer every request with 302 to BASE + path (after the token
                    check), like a storage head node sending clients to a data node
  --log FILE        one line per request: "METHOD PATH auth=sent|none status=N"
                    (never the token itself), with " dn=/CN=a/CN=b" when the client
                    presented a certificate
  --client-ca FILE  ask for a client certificate and require one that chains to the
                    CA in FILE; RFC 3820 proxy certificates are accepted (grid X.509
                    proxies), so the proxy's DN is logged
The path /loop redirects to itself (a redirect loop)."""
import argparse, base64, json, os, re, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--tokens")
ap.add_argument("--redirect")
ap.add_argument("--log")
ap.add_argument("--client-ca")
a = ap.parse_args()


def jwt_exp(tok):
    parts = tok.split(".")
    if len(parts) != 3:
        return None
    try:
        p = parts[1] + "=" * (-len(parts[1]) % 4)
        return json.loads(base64.urlsafe_b64decode(p)).get("exp")
    except Exception:
        return None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def note(self, status):
        if a.log:
            auth = "sent" if self.headers.get("Authorization") else "none"
            cert = self.connection.getpeercert() if a.client_ca else None
            dn = "".join("/%s=%s" % kv for rdn in cert.get("subject", ()) for kv in rdn) if cert else ""
            with open(a.log, "a") as f:
                f.write("%s %s auth=%s status=%d%s\n" % (self.command, self.path, auth, status,
                                                          " dn=" + dn if dn else ""))

    def answer(self, status, body=b"", headers=()):
        self.note(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def auth_ok(self):
        if not a.tokens:
            return True
        with open(a.tokens) as f:
            good = {l.strip() for l in f if l.strip()}
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            self.answer(401, b"no token\n", [("WWW-Authenticate", 'Bearer realm="storage"')])
            return False
        tok = h[7:].strip()
        exp = jwt_exp(tok)
        if exp is not None and exp < time.time():
            self.answer(401, b"expired\n", [("WWW-Authenticate",
                        'Bearer error="invalid_token", error_description="The token has expired"')])
            return False
        if tok not in good:
            self.answer(403, b"token refused\n", [("WWW-Authenticate",
                        'Bearer error="insufficient_scope", error_description="token not accepted for this path"')])
            return False
        return True

    def serve(self):
        if not self.auth_ok():
            return
        if self.path == "/loop":
            return self.answer(302, b"", [("Location", "https://%s/loop" % self.headers.get("Host"))])
        if a.redirect:
            return self.answer(302, b"", [("Location", a.redirect + self.path)])
        p = os.path.realpath(os.path.join(a.root, self.path.lstrip("/")))
        if not p.startswith(os.path.realpath(a.root) + "/") or not os.path.isfile(p):
            return self.answer(404, b"not found\n")
        data = open(p, "rb").read()
        rng = self.headers.get("Range")
        if not rng:
            return self.answer(200, data, [("Accept-Ranges", "bytes")])
        spans = []
        for part in rng.split("=", 1)[1].split(","):
            m = re.match(r"\s*(\d+)-(\d+)\s*$", part)
            if not m:
                return self.answer(416)
            x, y = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
            if x > y:
                return self.answer(416)
            spans.append((x, y))
        if len(spans) == 1:
            x, y = spans[0]
            return self.answer(206, data[x:y + 1], [("Content-Range", "bytes %d-%d/%d" % (x, y, len(data)))])
        b = "THIS_STRING_SEPARATES"
        out = b""
        for x, y in spans:
            out += ("\r\n--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %d-%d/%d\r\n\r\n"
                    % (b, x, y, len(data))).encode() + data[x:y + 1]
        out += ("\r\n--%s--\r\n" % b).encode()
        self.answer(206, out, [("Content-Type", "multipart/byteranges; boundary=" + b)])

    do_GET = serve
    do_HEAD = serve


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
if a.client_ca:
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(a.client_ca)
    ctx.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
tmp = a.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, a.port_file)
srv.serve_forever()
