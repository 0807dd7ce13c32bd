/* mlhep_gateway.c - the front door: the only part of mlhep users reach (HTTPS).
 *
 *   mlhep-gateway [--config FILE] [--port-file FILE] [--quiet]
 *   mlhep-gateway --routes        the API's routes, methods and required scopes
 *   mlhep-gateway --check URL     probe: GET URL/readyz, exit 0 when ready
 *
 * It checks tokens, workflows and limits, publishes jobs with its own broker account,
 * reads job records with its own Redis account, forwards predictions to mlhep-infer
 * over the broker and serves the dashboard (common/gateway/: gateway.h lists the
 * routes, httpd.h the server). SIGTERM or SIGINT stops it: open requests end, live
 * streams end at their next poll. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigbuf.h"
#include "gateway/gateway.h"
#include "gateway/httpd.h"
#include "service/config.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-gateway [--config FILE] [--port-file FILE] [--quiet]\n"
"       mlhep-gateway --routes\n"
"       mlhep-gateway --check URL [--ca-file PEM]\n"
"\n"
"  --config FILE     key=value configuration (default $MLHEP_CONFIG); the gateway_* keys\n"
"                    (docs/operations.md) say where it listens, its TLS files and limits;\n"
"                    amqp_* and redis_* are the gateway's own broker and Redis accounts\n"
"  --port-file FILE  write the port it listens on to FILE once it listens (with\n"
"                    gateway_port = 0 the system picks a free port)\n"
"  --quiet           no access log (errors are still printed)\n"
"  --routes          print every route with its methods and the token scope it needs\n"
"  --check URL       exit 0 if URL/readyz answers 200 (container and systemd probes)\n"
"  --ca-file PEM     --check: the CA of the gateway's certificate (default: the system's)\n"
"  -h, --help        this text\n"
"\n"
"examples:\n"
"  MLHEP_GATEWAY_PORT=8443 mlhep-gateway --config /etc/mlhep/gateway.conf\n"
"  curl -H \"Authorization: Bearer $TOKEN\" --cacert ca.pem https://host:8443/v1/jobs\n"
"  mlhep-gateway --check https://127.0.0.1:8443 --ca-file ca.pem && echo ready\n"
"\n"
"exit codes: 0 stopped cleanly by SIGTERM/SIGINT (--check: ready), 1 --check: not ready\n"
"or unreachable, 2 usage, 3 configuration, cannot listen or cannot write the port file\n");
}

static int check(const char *url, const char *ca)
{
    CURL *c = curl_easy_init();
    if (!c)
        return 1;
    char u[2048];
    snprintf(u, sizeof u, "%s/readyz", url);
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (sink)
        fclose(sink);
    if (rc != CURLE_OK) {
        fprintf(stderr, "mlhep-gateway: %s: %s\n", u, curl_easy_strerror(rc));
        return 1;
    }
    if (code != 200) {
        fprintf(stderr, "mlhep-gateway: %s: not ready (HTTP %ld)\n", u, code);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *port_file = NULL, *check_url = NULL, *ca = NULL;
    int quiet = 0, routes = 0;
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"port-file", required_argument, 0, 'p'},
        {"quiet", no_argument, 0, 'q'},        {"routes", no_argument, 0, 'r'},
        {"check", required_argument, 0, 'k'},  {"ca-file", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'p': port_file = optarg; break;
        case 'q': quiet = 1; break;
        case 'r': routes = 1; break;
        case 'k': check_url = optarg; break;
        case 'a': ca = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (routes) {
        gateway_print_routes(stdout);
        return 0;
    }
    if (check_url)
        return check(check_url, ca);
    mlhep_config cfg;
    mlhep_err e = {0};
    if (config_load(&cfg, config, &e)) {
        fprintf(stderr, "mlhep-gateway: configuration: %s\n", e.msg);
        return 3;
    }
    bigbuf_retain_freed(); /* request bodies of many MB: their buffers are reused, not re-faulted */
    /* SIGTERM/SIGINT are taken by sigwait below; every thread inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    gw_ctx *g = NULL;
    if (gateway_open(&cfg, &g, &e)) {
        fprintf(stderr, "mlhep-gateway: %s\n", e.msg);
        config_free(&cfg);
        return 3;
    }
    httpd *h = NULL;
    if (httpd_start(g, quiet ? NULL : stderr, &h, &e)) {
        fprintf(stderr, "mlhep-gateway: %s\n", e.msg);
        gateway_close(g);
        config_free(&cfg);
        return 3;
    }
    int tls = cfg.gateway_tls_cert && *cfg.gateway_tls_cert;
    fprintf(stderr, "mlhep-gateway: listening on %s://%s:%u (dashboard files from %s)\n", tls ? "https" : "http",
            cfg.gateway_bind, httpd_port(h), webfiles_dir(g->web));
    mlhep_err re = {0};
    if (gwctx_ready(g, &re))
        fprintf(stderr, "mlhep-gateway: not ready yet: %s (it keeps trying)\n", re.msg);
    if (port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", httpd_port(h)) < 0 || fclose(f) || rename(tmp, port_file)) {
            fprintf(stderr, "mlhep-gateway: cannot write %s\n", port_file);
            httpd_stop(h);
            gateway_close(g);
            config_free(&cfg);
            return 3;
        }
    }
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "mlhep-gateway: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    httpd_stop(h);
    gateway_close(g);
    config_free(&cfg);
    return 0;
}
