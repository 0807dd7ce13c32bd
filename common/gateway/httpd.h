/* httpd.h - the gateway's HTTP(S) server, on libmicrohttpd (Debian's libmicrohttpd12).
 *
 * One event loop (epoll; gateway_http_threads loops when more are wanted) reads every
 * connection and never waits: a request is handed to gateway_start (gateway.h) and its
 * connection suspended until the answer comes, from the loop itself (quick answers), an
 * RPC pump (predictions) or a worker thread (handlers that may block); a live event
 * stream parks its connection until its feeder wakes it. Up to gateway_connections
 * connections; one silent for gateway_idle_timeout seconds is closed (slow clients). A request body larger than gateway_max_body_mb is refused
 * with 413 from its Content-Length, before it is read. TLS (GnuTLS, TLS 1.2+) comes
 * from gateway_tls_cert/gateway_tls_key; without them the server refuses to listen on
 * anything but a loopback address. The request handling itself is gateway_handle's:
 * this module only moves bytes between the connection and gw_req/gw_resp.
 *
 * Ownership: httpd_start allocates and starts the threads, httpd_stop stops and frees. */
#ifndef MLHEP_GW_HTTPD_H
#define MLHEP_GW_HTTPD_H

#include <stdio.h>

#include "base/err.h"
#include "gateway/gwctx.h"

typedef struct httpd httpd;

/* Starts serving g on cfg's gateway_bind:gateway_port (port 0: any free port, see
 * httpd_port). log: access log (NULL: none). */
int httpd_start(gw_ctx *g, FILE *log, httpd **out, mlhep_err *e);
void httpd_stop(httpd *h);

/* The port the server listens on. */
unsigned httpd_port(const httpd *h);

/* 1 if addr (a numeric IPv4/IPv6 address or "localhost") is a loopback address. */
int httpd_is_loopback(const char *addr);

#endif
