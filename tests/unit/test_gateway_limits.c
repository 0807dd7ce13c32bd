/* test_gateway_limits.c - the gateway's per-user limits (gateway/ratelimit.h: rate with
 * bursts, concurrency, Retry-After, the bounded user table and its eviction) and its
 * figures (gateway/promstats.h), whose page is checked line by line by a strict reader
 * of the Prometheus text format 0.0.4 (names, labels, values, HELP/TYPE once per family
 * before its samples, histogram buckets cumulative up to +Inf = _count, no duplicate
 * series). */
#include "gateway/promstats.h"
#include "gateway/ratelimit.h"
#include "test.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>

TEST(rate_and_burst)
{
    ratelimit *rl = NULL;
    mlhep_err e = {0};
    CHECK(ratelimit_new(2, 3, 0, 16, &rl, &e) == 0);
    double ra = 0;
    /* a burst of 3, then refused with the time until the next token */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ratelimit_enter(rl, "alice", 100.0, &ra), RL_OK);
        ratelimit_leave(rl, "alice");
    }
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 100.0, &ra), RL_RATE);
    CHECK_NEAR(ra, 0.5, 1e-9);
    /* bob has his own bucket */
    CHECK_EQ_INT(ratelimit_enter(rl, "bob", 100.0, &ra), RL_OK);
    ratelimit_leave(rl, "bob");
    /* 0.25 s later half a token: still refused, 0.25 s to wait */
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 100.25, &ra), RL_RATE);
    CHECK_NEAR(ra, 0.25, 1e-9);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 100.5, &ra), RL_OK);
    ratelimit_leave(rl, "alice");
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 100.5, &ra), RL_RATE);
    /* a long pause refills up to the burst, not beyond */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1000.0, &ra), RL_OK);
        ratelimit_leave(rl, "alice");
    }
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1000.0, &ra), RL_RATE);
    /* a clock that goes back does not add tokens */
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 10.0, &ra), RL_RATE);
    ratelimit_free(rl);
    /* rate 0: no rate limit; burst below 1 is taken as 1 */
    CHECK(ratelimit_new(0, 0, 0, 16, &rl, &e) == 0);
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(ratelimit_enter(rl, "alice", 5.0, &ra), RL_OK);
        ratelimit_leave(rl, "alice");
    }
    ratelimit_free(rl);
    CHECK(ratelimit_new(1, 0.2, 0, 16, &rl, &e) == 0);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 5.0, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 5.0, &ra), RL_RATE);
    CHECK_NEAR(ra, 1.0, 1e-9);
    ratelimit_free(rl);
    /* no limiter, no user: admitted */
    CHECK_EQ_INT(ratelimit_enter(NULL, "alice", 1, &ra), RL_OK);
    ratelimit_leave(NULL, "alice");
}

TEST(concurrency)
{
    ratelimit *rl = NULL;
    mlhep_err e = {0};
    CHECK(ratelimit_new(0, 1, 2, 16, &rl, &e) == 0);
    double ra = 0;
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_CONCURRENCY);
    CHECK(ra >= 1);
    CHECK_EQ_INT(ratelimit_enter(rl, "bob", 1, &ra), RL_OK);
    ratelimit_leave(rl, "alice");
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    ratelimit_leave(rl, "alice");
    ratelimit_leave(rl, "alice");
    ratelimit_leave(rl, "alice"); /* one too many: harmless */
    ratelimit_leave(rl, "nobody");
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_CONCURRENCY);
    /* a refusal for concurrency takes no token: with a rate, the bucket is untouched */
    ratelimit_free(rl);
    CHECK(ratelimit_new(1, 1, 1, 16, &rl, &e) == 0);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 5, &ra), RL_CONCURRENCY);
    ratelimit_leave(rl, "alice");
    CHECK_EQ_INT(ratelimit_enter(rl, "alice", 5, &ra), RL_OK);
    ratelimit_leave(rl, "alice");
    ratelimit_free(rl);
}

TEST(table_eviction)
{
    ratelimit *rl = NULL;
    mlhep_err e = {0};
    /* 16 slots (the minimum), rate 1 burst 1: every user spends their one token */
    CHECK(ratelimit_new(1, 1, 1, 4, &rl, &e) == 0);
    double ra;
    char u[32];
    for (int i = 0; i < 200; i++) {
        snprintf(u, sizeof u, "user%d", i);
        CHECK_EQ_INT(ratelimit_enter(rl, u, 1.0 + i * 1e-3, &ra), RL_OK);
        ratelimit_leave(rl, u);
    }
    /* the table holds at most 16 users: the first ones were evicted (a fresh bucket),
     * the last one is remembered (no token left) */
    CHECK_EQ_INT(ratelimit_enter(rl, "user0", 1.5, &ra), RL_OK);
    ratelimit_leave(rl, "user0");
    CHECK_EQ_INT(ratelimit_enter(rl, "user199", 1.2, &ra), RL_RATE);
    /* users with requests in flight are never evicted: fill the table with them, then
     * a newcomer is refused (briefly) rather than anyone's count lost */
    ratelimit_free(rl);
    CHECK(ratelimit_new(0, 1, 1, 16, &rl, &e) == 0);
    int admitted = 0, refused = 0;
    for (int i = 0; i < 400; i++) {
        snprintf(u, sizeof u, "busy%d", i);
        int rc = ratelimit_enter(rl, u, 1, &ra);
        if (rc == RL_OK)
            admitted++;
        else
            refused++;
    }
    CHECK(admitted <= 16 && refused >= 384);
    /* every admitted user is still counted: a second request is over their limit */
    int still = 0;
    for (int i = 0; i < 400; i++) {
        snprintf(u, sizeof u, "busy%d", i);
        if (ratelimit_enter(rl, u, 1, &ra) == RL_CONCURRENCY)
            still++;
        else
            ratelimit_leave(rl, u);
    }
    CHECK_EQ_INT(still, 400);
    /* long user names are cut to JOB_USER_MAX for the table, consistently */
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ratelimit_free(rl);
    CHECK(ratelimit_new(0, 1, 1, 16, &rl, &e) == 0);
    CHECK_EQ_INT(ratelimit_enter(rl, longname, 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(rl, longname, 1, &ra), RL_CONCURRENCY);
    ratelimit_leave(rl, longname);
    CHECK_EQ_INT(ratelimit_enter(rl, longname, 1, &ra), RL_OK);
    ratelimit_free(rl);
}

/* Many threads entering and leaving: the counts come back to zero. */
static ratelimit *shared_rl;
static void *hammer(void *arg)
{
    const char *u = arg;
    double ra;
    for (int i = 0; i < 2000; i++)
        if (ratelimit_enter(shared_rl, u, 1, &ra) == RL_OK)
            ratelimit_leave(shared_rl, u);
    return NULL;
}

TEST(threads)
{
    mlhep_err e = {0};
    CHECK(ratelimit_new(0, 1, 3, 64, &shared_rl, &e) == 0);
    pthread_t t[6];
    static const char *const users[] = {"a", "b", "a", "c", "a", "b"};
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, hammer, (void *)users[i]);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    double ra;
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ratelimit_enter(shared_rl, "a", 1, &ra), RL_OK);
    CHECK_EQ_INT(ratelimit_enter(shared_rl, "a", 1, &ra), RL_CONCURRENCY);
    ratelimit_free(shared_rl);
}

/* ---- a strict reader of the Prometheus text format ----------------------------------- */

#define MAXFAM 64
#define MAXSER 4096

typedef struct family {
    char name[128], type[16];
    int help, samples;
} family;

typedef struct page {
    family fam[MAXFAM];
    int nfam;
    char *series[MAXSER];
    int nser;
    char err[256];
} page;

static int name_ok(const char *s, size_t n, int colon)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        int ok = isalpha(c) || c == '_' || (colon && c == ':') || (i > 0 && isdigit(c));
        if (!ok)
            return 0;
    }
    return 1;
}

static int value_ok(const char *s)
{
    if (!strcmp(s, "NaN") || !strcmp(s, "+Inf") || !strcmp(s, "-Inf"))
        return 1;
    char *end;
    strtod(s, &end);
    return *s && !*end && strspn(s, "0123456789+-.eE") == strlen(s);
}

static family *fam_of(page *p, const char *name)
{
    for (int i = 0; i < p->nfam; i++)
        if (!strcmp(p->fam[i].name, name))
            return &p->fam[i];
    return NULL;
}

/* The family a sample name belongs to (histograms: _bucket, _sum, _count). */
static family *sample_family(page *p, const char *name)
{
    family *f = fam_of(p, name);
    if (f)
        return f;
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(sfx[i]);
        if (n > k && !strcmp(name + n - k, sfx[i])) {
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)(n - k), name);
            f = fam_of(p, base);
            if (f && !strcmp(f->type, "histogram"))
                return f;
        }
    }
    return NULL;
}

/* Parses the labels {a="x",b="y"} at s; end past '}'. 0 or -1. */
static int labels_ok(const char *s, const char **end)
{
    if (*s != '{')
        return -1;
    s++;
    if (*s == '}') {
        *end = s + 1;
        return 0;
    }
    for (;;) {
        const char *n = s;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        if (!name_ok(n, (size_t)(s - n), 0) || *s != '=' || s[1] != '"')
            return -1;
        s += 2;
        while (*s && *s != '"') {
            if (*s == '\n')
                return -1;
            if (*s == '\\') {
                if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                    return -1;
                s++;
            }
            s++;
        }
        if (*s != '"')
            return -1;
        s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '}') {
            *end = s + 1;
            return 0;
        }
        return -1;
    }
}

static int fail(page *p, int line, const char *why, const char *text)
{
    snprintf(p->err, sizeof p->err, "line %d: %s: %.120s", line, why, text);
    return -1;
}

/* Checks a whole page; 0, or -1 with p->err. */
static int prom_check(page *p, const char *text)
{
    memset(p, 0, sizeof *p);
    char *copy = strdup(text);
    size_t tl = strlen(text);
    if (tl == 0 || text[tl - 1] != '\n') {
        free(copy);
        return fail(p, 0, "the page must end with a newline", "");
    }
    int ln = 0, rc = 0;
    /* histogram state: the last bucket's le and count per series prefix */
    char hprefix[512] = "";
    double hle = -1, hcount = -1;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save)) {
        ln++;
        if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
            char name[128], rest[256] = "";
            if (sscanf(l + 7, "%127s %255[^\n]", name, rest) < 1 || !name_ok(name, strlen(name), 1)) {
                rc = fail(p, ln, "bad metadata name", l);
                break;
            }
            family *f = fam_of(p, name);
            if (!f) {
                if (p->nfam == MAXFAM) {
                    rc = fail(p, ln, "too many families", l);
                    break;
                }
                f = &p->fam[p->nfam++];
                snprintf(f->name, sizeof f->name, "%s", name);
            }
            if (f->samples) {
                rc = fail(p, ln, "metadata after the family's samples", l);
                break;
            }
            if (l[2] == 'H') {
                if (f->help++) {
                    rc = fail(p, ln, "HELP twice", l);
                    break;
                }
            } else {
                if (f->type[0] || (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") &&
                                   strcmp(rest, "summary") && strcmp(rest, "untyped"))) {
                    rc = fail(p, ln, "TYPE twice or unknown", l);
                    break;
                }
                snprintf(f->type, sizeof f->type, "%.15s", rest);
            }
            continue;
        }
        if (l[0] == '#') {
            rc = fail(p, ln, "comment lines are not expected", l);
            break;
        }
        const char *s = l;
        while (isalnum((unsigned char)*s) || *s == '_' || *s == ':')
            s++;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(s - l), l);
        if (!name_ok(name, strlen(name), 1)) {
            rc = fail(p, ln, "bad metric name", l);
            break;
        }
        const char *after = s;
        if (*s == '{' && labels_ok(s, &after)) {
            rc = fail(p, ln, "bad labels", l);
            break;
        }
        if (*after != ' ' || !value_ok(after + 1)) {
            rc = fail(p, ln, "bad value", l);
            break;
        }
        family *f = sample_family(p, name);
        if (!f || !f->type[0] || !f->help) {
            rc = fail(p, ln, "sample without HELP and TYPE before it", l);
            break;
        }
        f->samples++;
        char *series = strndup(l, (size_t)(after - l));
        for (int i = 0; i < p->nser; i++)
            if (!strcmp(p->series[i], series)) {
                free(series);
                series = NULL;
                break;
            }
        if (!series || p->nser == MAXSER) {
            rc = fail(p, ln, "duplicate series", l);
            break;
        }
        p->series[p->nser++] = series;
        double v = strtod(after + 1, NULL);
        if (!strcmp(f->type, "counter") && !(v >= 0)) {
            rc = fail(p, ln, "negative counter", l);
            break;
        }
        size_t nl = strlen(name);
        if (!strcmp(f->type, "histogram") && nl > 7 && !strcmp(name + nl - 7, "_bucket")) {
            const char *le = strstr(l, "le=\"");
            if (!le) {
                rc = fail(p, ln, "bucket without le", l);
                break;
            }
            /* the series without its le label */
            char prefix[512];
            snprintf(prefix, sizeof prefix, "%.*s", (int)(le - l), l);
            double b = !strncmp(le + 4, "+Inf", 4) ? INFINITY : strtod(le + 4, NULL);
            if (strcmp(prefix, hprefix)) {
                snprintf(hprefix, sizeof hprefix, "%s", prefix);
                hle = -INFINITY;
                hcount = 0;
            }
            if (!(b > hle) || v < hcount) {
                rc = fail(p, ln, "buckets not increasing", l);
                break;
            }
            hle = b;
            hcount = v;
        } else if (!strcmp(f->type, "histogram") && nl > 6 && !strcmp(name + nl - 6, "_count")) {
            if (hle != INFINITY || v != hcount) {
                rc = fail(p, ln, "_count differs from the +Inf bucket (or no +Inf bucket)", l);
                break;
            }
        }
    }
    free(copy);
    return rc;
}

static void page_free(page *p)
{
    for (int i = 0; i < p->nser; i++)
        free(p->series[i]);
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *s = text; (s = strstr(s, line)); s++)
        if ((s == text || s[-1] == '\n') && s[n] == '\n')
            return 1;
    return 0;
}

TEST(reader_refuses_bad_pages)
{
    page p;
    static const char *const bad[] = {
        "x 1",                                            /* no newline */
        "x 1\n",                                          /* no HELP/TYPE */
        "# HELP x h\n# TYPE x gauge\nx one\n",            /* value */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n",       /* label */
        "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",         /* duplicate */
        "# HELP x h\n# TYPE x gauge\nx 1\n# HELP x h\n",  /* metadata after samples */
        "# HELP x h\n# TYPE x counter\nx -1\n",           /* negative counter */
        "# HELP x h\n# TYPE x gauge\nx nan\n",            /* NaN spelled wrong */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\n",
        "# HELP 1x h\n# TYPE 1x gauge\n1x 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(prom_check(&p, bad[i]) != 0, "accepted #%zu", i);
        page_free(&p);
    }
    CHECKF(prom_check(&p, "# HELP h h\n# TYPE h histogram\nh_bucket{a=\"x\",le=\"0.5\"} 1\nh_bucket{a=\"x\",le=\"+Inf\"} "
                          "2\nh_sum{a=\"x\"} 3.5\nh_count{a=\"x\"} 2\n# HELP g g\n# TYPE g gauge\ng NaN\n") == 0,
           "%s", p.err);
    page_free(&p);
}

TEST(promstats_page)
{
    static const char *const names[] = {"healthz", "jobs_submit", "v2_infer"};
    promstats *ps = NULL;
    mlhep_err e = {0};
    CHECK(promstats_new(names, 3, &ps, &e) == 0);
    char *out = NULL;
    size_t len = 0;
    page p;
    /* an empty page is valid too */
    CHECK(promstats_render(ps, NULL, 0, &out, &len, &e) == 0);
    CHECKF(prom_check(&p, out) == 0, "%s\n%s", p.err, out);
    page_free(&p);
    free(out);
    promstats_request(ps, 0, 200, 0.0001);
    promstats_request(ps, 0, 200, 0.003);
    promstats_request(ps, 1, 202, 0.02);
    promstats_request(ps, 1, 400, 100.0);   /* beyond the last bucket: +Inf only */
    promstats_request(ps, -1, 404, 0.0);    /* no route */
    promstats_request(ps, 99, 999, -1.0);   /* out of range: "none", code 0, no negative sum */
    promstats_inflight(ps, 1);
    promstats_inflight(ps, 1);
    promstats_inflight(ps, -1);
    promstats_infer(ps, PS_INFER_OK, 0.004);
    promstats_infer(ps, PS_INFER_TIMEOUT, 30);
    promstats_infer(ps, 42, 1); /* ignored */
    promstats_gauge gs[] = {
        {"mlhep_jobs", "Jobs in each state.", "state=\"queued\"", 3, NULL},
        {"mlhep_jobs", "Jobs in each state.", "state=\"running\"", 0, NULL},
        {"mlhep_x_total", "A counter.", "", 12, "counter"},
        {"mlhep_odd", NULL, "", NAN, NULL},
        {"mlhep_big", "inf", "", INFINITY, NULL},
    };
    CHECK(promstats_render(ps, gs, sizeof gs / sizeof gs[0], &out, &len, &e) == 0);
    CHECK_EQ_INT(len, strlen(out));
    CHECKF(prom_check(&p, out) == 0, "%s\n%s", p.err, out);
    page_free(&p);
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"healthz\",code=\"200\"} 2"));
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"jobs_submit\",code=\"202\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"jobs_submit\",code=\"400\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"none\",code=\"404\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"none\",code=\"0\"} 1"));
    CHECK(!strstr(out, "route=\"v2_infer\"")); /* nothing asked of it yet */
    CHECK(has_line(out, "mlhep_gateway_request_seconds_bucket{route=\"healthz\",le=\"0.0005\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_request_seconds_bucket{route=\"healthz\",le=\"0.005\"} 2"));
    CHECK(has_line(out, "mlhep_gateway_request_seconds_bucket{route=\"jobs_submit\",le=\"10\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_request_seconds_bucket{route=\"jobs_submit\",le=\"+Inf\"} 2"));
    CHECK(has_line(out, "mlhep_gateway_request_seconds_count{route=\"jobs_submit\"} 2"));
    CHECK(has_line(out, "mlhep_gateway_request_seconds_sum{route=\"jobs_submit\"} 100.020000"));
    CHECK(has_line(out, "mlhep_gateway_inflight 1"));
    CHECK(has_line(out, "mlhep_gateway_inference_total{outcome=\"ok\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_inference_total{outcome=\"timeout\"} 1"));
    CHECK(has_line(out, "mlhep_gateway_inference_total{outcome=\"error\"} 0"));
    CHECK(has_line(out, "mlhep_gateway_inference_seconds_count 2"));
    CHECK(has_line(out, "mlhep_jobs{state=\"queued\"} 3"));
    CHECK(has_line(out, "# TYPE mlhep_x_total counter"));
    CHECK(has_line(out, "mlhep_odd NaN"));
    CHECK(has_line(out, "mlhep_big +Inf"));
    free(out);
    promstats_free(ps);
    promstats_free(NULL);
    promstats_request(NULL, 0, 200, 1);
}

/* Requests counted from many threads at once: every one is on the page. */
static promstats *shared_ps;
static void *count_requests(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000; i++) {
        promstats_inflight(shared_ps, 1);
        promstats_request(shared_ps, i % 2, 200, 0.001);
        promstats_inflight(shared_ps, -1);
    }
    return NULL;
}

TEST(promstats_threads)
{
    static const char *const names[] = {"a", "b"};
    mlhep_err e = {0};
    CHECK(promstats_new(names, 2, &shared_ps, &e) == 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, count_requests, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *out;
    size_t len;
    CHECK(promstats_render(shared_ps, NULL, 0, &out, &len, &e) == 0);
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"a\",code=\"200\"} 10000"));
    CHECK(has_line(out, "mlhep_gateway_requests_total{route=\"b\",code=\"200\"} 10000"));
    CHECK(has_line(out, "mlhep_gateway_inflight 0"));
    page p;
    CHECKF(prom_check(&p, out) == 0, "%s", p.err);
    page_free(&p);
    free(out);
    promstats_free(shared_ps);
}

int main(void)
{
    RUN(rate_and_burst);
    RUN(concurrency);
    RUN(table_eviction);
    RUN(threads);
    RUN(reader_refuses_bad_pages);
    RUN(promstats_page);
    RUN(promstats_threads);
    return test_summary();
}
