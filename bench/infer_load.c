/* infer_load.c - load generator for bench_infer.sh (and the inference script tests):
 * sends one request document N times over the broker (pclient, direct reply-to) with
 * up to W requests in flight, checks every reply is a success with the expected number
 * of predictions, and prints requests/s, rows/s and latency percentiles.
 *
 *   infer_load CONFIG TOKEN_FILE REQUEST.json N W ROWS_PER_REQUEST [--raw]
 * --raw sends the file's bytes as they are (no JSON check: for malformed input tests)
 * and prints each reply instead of timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_glue.h"
#include "config.h"
#include "predict_client.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: infer_load CONFIG TOKEN_FILE REQUEST.json N WINDOW ROWS [--raw]\n");
        return 2;
    }
    long n = atol(argv[4]), w = atol(argv[5]), rows = atol(argv[6]);
    int raw = argc > 7 && !strcmp(argv[7], "--raw");
    mlhep_config cfg;
    mlhep_err e;
    char *tok = NULL;
    if (config_load(&cfg, argv[1], &e) || auth_token_load(argv[2], &tok, &e)) {
        fprintf(stderr, "infer_load: %s\n", e.msg);
        return 3;
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        perror(argv[3]);
        return 3;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *body = malloc((size_t)len + 1);
    if (fread(body, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        return 3;
    }
    fclose(f);
    body[len] = 0;
    pclient *c;
    if (pclient_open(&cfg, tok, &c, &e)) {
        fprintf(stderr, "infer_load: %s\n", e.msg);
        return 6;
    }
    double *sent = calloc((size_t)n + 2, sizeof *sent), *lat = calloc((size_t)n + 1, sizeof *lat);
    long nsent = 0, nrecv = 0, bad = 0;
    char expect[64];
    snprintf(expect, sizeof expect, "\"predictions\":[");
    double t0 = now();
    int rc = 0;
    while (nrecv < n && !rc) {
        while (nsent < n && nsent - nrecv < w) {
            uint64_t seq;
            sent[nsent + 1] = now();
            if (pclient_send(c, "predict", body, (size_t)len, &seq, &e)) {
                rc = 6;
                break;
            }
            nsent++;
        }
        if (rc)
            break;
        uint64_t seq;
        char *reply;
        size_t rl;
        if (pclient_recv(c, &seq, &reply, &rl, 30000, &e)) {
            rc = 6;
            break;
        }
        double t = now();
        if (seq >= 1 && seq <= (uint64_t)n)
            lat[nrecv] = t - sent[seq];
        if (raw) {
            printf("%s\n", reply);
        } else {
            /* count predictions: commas at depth 1 of the array + 1 */
            const char *p = strstr(reply, expect);
            long got = 0;
            if (p) {
                int depth = 0;
                got = 1;
                for (p += strlen(expect); *p && !(depth == 0 && *p == ']'); p++) {
                    if (*p == '[')
                        depth++;
                    else if (*p == ']')
                        depth--;
                    else if (*p == ',' && depth == 0)
                        got++;
                }
            }
            if (got != rows) {
                if (bad++ < 3)
                    fprintf(stderr, "infer_load: unexpected reply: %.300s\n", reply);
            }
        }
        free(reply);
        nrecv++;
    }
    double dt = now() - t0;
    if (rc)
        fprintf(stderr, "infer_load: %s\n", e.msg);
    if (!raw && !rc) {
        qsort(lat, (size_t)nrecv, sizeof *lat, cmpd);
        double p50 = lat[nrecv / 2] * 1e6, p99 = lat[(size_t)((double)nrecv * 0.99)] * 1e6;
        printf("requests %ld  rows/request %ld  window %ld  time %.3f s  requests/s %.0f  rows/s %.0f  "
               "latency p50 %.0f us  p99 %.0f us  bad %ld\n",
               nrecv, rows, w, dt, (double)nrecv / dt, (double)(nrecv * rows) / dt, p50, p99, bad);
    }
    pclient_close(c);
    free(sent);
    free(lat);
    free(body);
    free(tok);
    config_free(&cfg);
    return rc ? rc : bad ? 1 : 0;
}
