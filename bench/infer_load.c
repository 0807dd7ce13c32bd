/* infer_load.c - load generator for bench_infer.sh (and the inference script tests):
 * sends one request N times over the broker (predict_rpc.h, direct reply-to) with up to W
 * requests in flight, checks every reply is a success with the expected number of
 * predictions, and prints requests/s, rows/s and latency percentiles.
 *
 *   infer_load CONFIG TOKEN_FILE REQUEST N W ROWS_PER_REQUEST [--raw | --any]
 *       REQUEST: a JSON document, or a binary columnar request (starts with "MLHC",
 *       colreq.h: sent with content type application/x-mlhep-columns and its binary
 *       reply decoded). --raw sends JSON bytes as they are and prints each reply
 *       instead of timing; --any times without checking replies (echo baseline).
 *   infer_load --to-binary COLUMNS.json OUT.bin f32|f64 REPEAT
 *       converts a JSON "columns" request into a binary one (the C writer, colreq_add),
 *       its rows repeated REPEAT times.
 *   infer_load --inproc MODEL.mlhep REQUEST.bin N
 *       the worker's binary path without the broker, on this thread: colreq_parse +
 *       predict_columns + predict_format_binary, N times; prints rows/s and CPU time.
 *   infer_load --echo-server CONFIG QUEUE THREADS
 *       the baseline: THREADS consumers of QUEUE (one connection each, prefetch 64,
 *       batched acks as mlhep-infer) answering every request at once with a fixed
 *       20-byte reply, until SIGTERM. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/amqp_rpc.h"
#include "service/auth_glue.h"
#include "infer/colreq.h"
#include "service/config.h"
#include "infer/predict.h"
#include "infer/predict_rpc.h"

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

/* ---- --to-binary ---- */

static int to_binary(const char *in, const char *out, const char *type, long repeat)
{
    json_error_t je;
    json_t *d = json_load_file(in, 0, &je);
    json_t *cols = json_object_get(d, "columns");
    if (!json_is_object(cols) || repeat < 1) {
        fprintf(stderr, "infer_load: %s: not a columns request (%s)\n", in, je.text);
        return 3;
    }
    int f32 = !strcmp(type, "f32");
    const char *model = json_string_value(json_object_get(d, "model"));
    size_t n0 = json_array_size(json_object_iter_value(json_object_iter(cols))), n = n0 * (size_t)repeat;
    wbuf cb = WBUF_INIT;
    mlhep_err e;
    int rc = colreq_begin(&cb, model ? model : "m", n, json_object_size(cols), &e);
    const char *k;
    json_t *a;
    json_object_foreach(cols, k, a) {
        if (rc)
            break;
        int jag = json_is_array(json_array_get(a, 0));
        size_t nv = 0;
        for (size_t r = 0; r < n0; r++)
            nv += jag ? json_array_size(json_array_get(a, r)) : 1;
        nv *= (size_t)repeat;
        double *dv = malloc((nv + 1) * sizeof *dv);
        float *fv = malloc((nv + 1) * sizeof *fv);
        int64_t *off = malloc((n + 1) * sizeof *off);
        size_t v = 0;
        off[0] = 0;
        for (size_t r = 0; r < n; r++) {
            json_t *x = json_array_get(a, r % n0);
            if (jag) {
                for (size_t j = 0; j < json_array_size(x); j++)
                    dv[v++] = json_number_value(json_array_get(x, j));
            } else {
                dv[v++] = json_number_value(x);
            }
            off[r + 1] = (int64_t)v;
        }
        for (size_t i = 0; i < v; i++)
            fv[i] = (float)dv[i];
        rc = colreq_add(&cb, k, f32 ? COL_F32 : COL_F64, f32 ? (void *)fv : (void *)dv, jag ? off : NULL, n, &e);
        free(dv);
        free(fv);
        free(off);
    }
    if (!rc)
        rc = colreq_end(&cb, &e);
    FILE *f = rc ? NULL : fopen(out, "wb");
    if (rc || !f || fwrite(cb.p, 1, cb.len, f) != cb.len || fclose(f)) {
        fprintf(stderr, "infer_load: %s: %s\n", out, rc ? e.msg : "cannot write");
        rc = 3;
    }
    wbuf_free(&cb);
    json_decref(d);
    return rc ? 3 : 0;
}

/* ---- --echo-server ---- */

static volatile sig_atomic_t g_stop;
static void on_term(int s)
{
    (void)s;
    g_stop = 1;
}

typedef struct echo {
    amqpc_params p;
    const char *queue;
    unsigned long served;
} echo;

static void *echo_thread(void *arg)
{
    echo *x = arg;
    rpc_conn *rc = NULL;
    mlhep_err e;
    if (rpc_connect(&x->p, &rc, &e) || rpc_serve(rc, x->queue, 64, &e)) {
        fprintf(stderr, "echo: %s\n", e.msg);
        rpc_close(rc);
        return NULL;
    }
    uint64_t last = 0;
    int pending = 0;
    static const char reply[] = "{\"predictions\":[0]}";
    while (!g_stop) {
        if (pending && !rpc_buffered(rc)) {
            rpc_ack_multiple(rc, last, &e);
            pending = 0;
        }
        rpc_msg m;
        int r = rpc_next(rc, &m, 500, &e);
        if (r == RPC_TIMEOUT)
            continue;
        if (r < 0)
            break;
        rpc_reply(rc, &m, reply, sizeof reply - 1, &e);
        last = m.tag;
        if (++pending >= 16) {
            rpc_ack_multiple(rc, last, &e);
            pending = 0;
        }
        x->served++;
        rpc_msg_free(&m);
    }
    if (pending)
        rpc_ack_multiple(rc, last, &e);
    rpc_close(rc);
    return NULL;
}

static int echo_server(const char *cfgpath, const char *queue, int threads)
{
    mlhep_config cfg;
    mlhep_err e;
    if (config_load(&cfg, cfgpath, &e)) {
        fprintf(stderr, "echo: %s\n", e.msg);
        return 3;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    if (threads < 1 || threads > 64)
        threads = 1;
    echo xs[64];
    pthread_t t[64];
    for (int i = 0; i < threads; i++) {
        xs[i] = (echo){{cfg.amqp_host, cfg.amqp_port, cfg.amqp_user, cfg.amqp_password, cfg.amqp_vhost, 30, 5000},
                       queue, 0};
        pthread_create(&t[i], NULL, echo_thread, &xs[i]);
    }
    fprintf(stderr, "echo: ready, %d threads on %s\n", threads, queue);
    unsigned long served = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        served += xs[i].served;
    }
    fprintf(stderr, "echo: served %lu\n", served);
    config_free(&cfg);
    return 0;
}

/* ---- --inproc ---- */

static int inproc(const char *model, const char *path, long n)
{
    predict_model *pm = NULL;
    predict_ctx pc = {0};
    mlhep_err e;
    FILE *f = fopen(path, "rb");
    if (!f || predict_model_load_file(model, &pm, &e)) {
        fprintf(stderr, "infer_load: %s\n", f ? e.msg : path);
        return 3;
    }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    if (fread(buf, 1, len, f) != len)
        return 3;
    fclose(f);
    struct timespec c0, c1;
    double t0 = now();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    size_t rows = 0;
    for (long i = 0; i < n; i++) {
        if (colreq_parse(buf, len, &pc.creq, &e) || predict_columns(pm, &pc, &e) ||
            predict_format_binary(pm, "m", pc.out, pc.nrows, 0, &pc, &e)) {
            fprintf(stderr, "infer_load: %s\n", e.msg);
            return 1;
        }
        rows += pc.nrows;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double wall = now() - t0, cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
    printf("in-process: %zu rows in %.3f s wall, %.3f s CPU: %.0f rows/s per CPU-second (%.1f us per request)\n", rows,
           wall, cpu, (double)rows / cpu, cpu * 1e6 / (double)n);
    predict_ctx_free(&pc);
    predict_model_free(pm);
    free(buf);
    return 0;
}

/* ---- load ---- */

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--to-binary"))
        return to_binary(argv[2], argv[3], argv[4], atol(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "--inproc"))
        return inproc(argv[2], argv[3], atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "--echo-server"))
        return echo_server(argv[2], argv[3], atoi(argv[4]));
    if (argc < 7) {
        fprintf(stderr, "usage: infer_load CONFIG TOKEN_FILE REQUEST N WINDOW ROWS [--raw|--any]\n"
                        "       infer_load --to-binary COLUMNS.json OUT.bin f32|f64 REPEAT\n"
                        "       infer_load --echo-server CONFIG QUEUE THREADS\n");
        return 2;
    }
    long n = atol(argv[4]), w = atol(argv[5]), rows = atol(argv[6]);
    int raw = argc > 7 && !strcmp(argv[7], "--raw"), any = argc > 7 && !strcmp(argv[7], "--any");
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
    int binary = len >= 4 && !memcmp(body, COLREQ_MAGIC, 4);
    wbuf cb = {(uint8_t *)body, (size_t)len, (size_t)len, 0};
    colresp cr = {0};
    predict_rpc *c;
    if (predict_rpc_open(&cfg, tok, &c, &e)) {
        fprintf(stderr, "infer_load: %s\n", e.msg);
        return 6;
    }
    double *sent = calloc((size_t)n + 2, sizeof *sent), *lat = calloc((size_t)n + 1, sizeof *lat);
    long nsent = 0, nrecv = 0, bad = 0;
    double worker_us = 0; /* binary replies: the worker's own time per request (elapsed_us) */
    char expect[64];
    snprintf(expect, sizeof expect, "\"predictions\":[");
    double t0 = now();
    int rc = 0;
    while (nrecv < n && !rc) {
        while (nsent < n && nsent - nrecv < w) {
            uint64_t seq;
            sent[nsent + 1] = now();
            if (binary ? predict_rpc_send_columns(c, &cb, &seq, &e)
                       : predict_rpc_send(c, "predict", body, (size_t)len, &seq, &e)) {
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
        if (predict_rpc_recv(c, &seq, &reply, &rl, 30000, &e)) {
            rc = 6;
            break;
        }
        double t = now();
        if (seq >= 1 && seq <= (uint64_t)n)
            lat[nrecv] = t - sent[seq];
        if (raw) {
            printf("%s\n", reply);
        } else if (any) {
            /* the echo baseline: any reply counts */
        } else if (binary) {
            if (predict_rpc_reply_columns(reply, rl, &cr, &e) || cr.nrows != (size_t)rows) {
                if (bad++ < 3)
                    fprintf(stderr, "infer_load: unexpected reply: %s (%zu rows)\n", e.msg, cr.nrows);
            } else {
                worker_us += cr.elapsed_us;
            }
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
        if (binary && !any && nrecv > bad && worker_us > 0)
            printf("worker time per request %.0f us (parse + rows + model + reply): %.0f rows/s per consumer thread\n",
                   worker_us / (double)(nrecv - bad), (double)rows * (double)(nrecv - bad) / (worker_us * 1e-6));
    }
    predict_rpc_close(c);
    colresp_free(&cr);
    free(sent);
    free(lat);
    free(body);
    free(tok);
    config_free(&cfg);
    return rc ? rc : bad ? 1 : 0;
}
