/* test_readplan.c - read planning: coalescing rules and request limits, lookups,
 * and reading real baskets through plans and the readahead (same columns as basket
 * by basket reads, one vector read per block, prefetch hits, errors surfacing). */
#include <stdlib.h>
#include <unistd.h>

#include "root/basket.h"
#include "root/evgen.h"
#include "root/readplan.h"
#include "root/rootfile.h"
#include "test.h"
#include "root/ttree.h"

static readplan_limits lim(uint64_t gap, size_t ranges, uint64_t req)
{
    readplan_limits l = {gap, ranges, req};
    return l;
}

TEST(coalesce_gaps_and_overlaps)
{
    rp_span s[] = {{1000, 100}, {0, 100}, {100, 50}, {200, 10}, {150, 0}, {1000, 50}, {1040, 100}, {5000, 1}};
    readplan_limits l = lim(50, 1024, 1 << 20);
    rp_range *r;
    size_t n, nreq;
    mlhep_err e;
    CHECK(readplan_coalesce(s, sizeof s / sizeof *s, &l, &r, &n, &nreq, &e) == 0);
    /* [0,150) + gap 50 + [200,210) -> [0,210); [1000,1140) (overlaps); [5000,5001) */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(r[0].off, 0);
    CHECK_EQ_INT(r[0].len, 210);
    CHECK_EQ_INT(r[1].off, 1000);
    CHECK_EQ_INT(r[1].len, 140);
    CHECK_EQ_INT(r[2].off, 5000);
    CHECK_EQ_INT(r[2].len, 1);
    CHECK_EQ_INT(nreq, 1);
    free(r);
    /* gap 51 > 50: not merged */
    rp_span t[] = {{0, 10}, {61, 10}};
    CHECK(readplan_coalesce(t, 2, &l, &r, &n, &nreq, &e) == 0);
    CHECK_EQ_INT(n, 2);
    free(r);
}

TEST(coalesce_limits)
{
    mlhep_err e;
    rp_range *r;
    size_t n, nreq;
    /* 10 adjacent spans of 100 bytes, merged ranges capped at 250 bytes */
    rp_span s[10];
    for (int i = 0; i < 10; i++)
        s[i] = (rp_span){(uint64_t)i * 100, 100};
    readplan_limits l = lim(1000, 1024, 250);
    CHECK(readplan_coalesce(s, 10, &l, &r, &n, &nreq, &e) == 0);
    CHECK_EQ_INT(n, 5); /* 200 bytes each: a third span would make 300 > 250 */
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(r[i].len, 200);
    CHECK_EQ_INT(nreq, 5); /* 200 + 200 > 250: one range per request */
    free(r);
    /* no merging (gap 0 and spread out), 3 ranges per request */
    for (int i = 0; i < 10; i++)
        s[i] = (rp_span){(uint64_t)(9 - i) * 1000, 10};
    l = lim(0, 3, 1 << 20);
    CHECK(readplan_coalesce(s, 10, &l, &r, &n, &nreq, &e) == 0);
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_INT(nreq, 4);
    CHECK_EQ_INT(r[0].off, 0);
    CHECK_EQ_INT(r[2].req, 0);
    CHECK_EQ_INT(r[3].req, 1);
    CHECK_EQ_INT(r[9].req, 3);
    free(r);
    /* a span larger than a request gets a request of its own */
    rp_span big[] = {{0, 10}, {20, 5000}, {6000, 10}};
    l = lim(10, 1024, 1000);
    CHECK(readplan_coalesce(big, 3, &l, &r, &n, &nreq, &e) == 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(nreq, 3);
    CHECK(r[0].req != r[1].req && r[1].req != r[2].req);
    free(r);
    /* nothing to do */
    CHECK(readplan_coalesce(s, 0, &l, &r, &n, &nreq, &e) == 0);
    CHECK(n == 0 && r == NULL && nreq == 0);
    rp_span z[] = {{5, 0}};
    CHECK(readplan_coalesce(z, 1, &l, &r, &n, &nreq, &e) == 0);
    CHECK(n == 0 && r == NULL);
}

/* Random spans: every span lies inside exactly one range, ranges are sorted and
 * separated by more than the gap (or merging would break the size cap), requests
 * respect both limits. */
TEST(coalesce_invariants)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(rand() % 300);
        rp_span *s = malloc(n * sizeof *s), *copy = malloc(n * sizeof *s);
        for (size_t i = 0; i < n; i++) {
            s[i].off = (uint64_t)(rand() % 200000);
            s[i].len = (uint64_t)(rand() % 3000);
        }
        memcpy(copy, s, n * sizeof *s);
        readplan_limits l = lim((uint64_t)(rand() % 2000), 1 + (size_t)(rand() % 20), 2000 + (uint64_t)(rand() % 20000));
        rp_range *r;
        size_t m, nreq;
        mlhep_err e;
        CHECK(readplan_coalesce(s, n, &l, &r, &m, &nreq, &e) == 0);
        for (size_t i = 0; i < n; i++) {
            if (!copy[i].len)
                continue;
            int inside = 0;
            for (size_t j = 0; j < m; j++)
                inside += copy[i].off >= r[j].off && copy[i].off + copy[i].len <= r[j].off + r[j].len;
            CHECKF(inside == 1, "span %zu in %d ranges", i, inside);
        }
        size_t cnt = 0;
        uint64_t bytes = 0;
        for (size_t j = 0; j < m; j++) {
            if (j) {
                uint64_t end = r[j - 1].off + r[j - 1].len;
                CHECK(r[j].off > end);
                CHECK(r[j].off - end > l.max_gap || r[j].off + r[j].len - r[j - 1].off > l.max_request);
                CHECK(r[j].req == r[j - 1].req || r[j].req == r[j - 1].req + 1);
                if (r[j].req != r[j - 1].req) {
                    cnt = 0;
                    bytes = 0;
                }
            }
            cnt++;
            bytes += r[j].len;
            CHECK(cnt <= l.max_ranges);
            CHECK(bytes <= l.max_request || cnt == 1);
        }
        CHECK(m == 0 || nreq == r[m - 1].req + 1);
        free(r);
        free(s);
        free(copy);
    }
}

/* ---------------------------------------------------------------- real file */

/* A local source that counts vector reads and can be told to fail them. */
typedef struct cnt_impl {
    source *inner;
    int readv_calls;
    int fail_after; /* readv calls that succeed before failures start; -1 never */
} cnt_impl;

static int cnt_read_at(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    cnt_impl *c = s->impl;
    return source_read(c->inner, off, len, buf, e);
}

static int cnt_readv(source *s, source_range *r, size_t n, mlhep_err *e)
{
    cnt_impl *c = s->impl;
    int k = __atomic_fetch_add(&c->readv_calls, 1, __ATOMIC_RELAXED);
    if (c->fail_after >= 0 && k >= c->fail_after)
        return err_set(e, MLHEP_ENET, "%s: connection reset (test)", s->name);
    for (size_t i = 0; i < n; i++) {
        int rc = source_read(c->inner, r[i].off, r[i].len, r[i].buf, e);
        if (rc)
            return rc;
    }
    return 0;
}

static void cnt_close(source *s)
{
    cnt_impl *c = s->impl;
    source_close(c->inner);
    free(c);
}

static const source_ops cnt_ops = {cnt_read_at, cnt_readv, cnt_close};

static char gen_path[256];

static rootfile *open_counted(cnt_impl **impl, int fail_after)
{
    mlhep_err e;
    source *inner, *s = calloc(1, sizeof *s);
    if (!s || source_open_local(gen_path, &inner, &e)) {
        free(s);
        return NULL;
    }
    cnt_impl *c = calloc(1, sizeof *c);
    c->inner = inner;
    c->fail_after = fail_after;
    s->ops = &cnt_ops;
    s->impl = c;
    s->size = inner->size;
    snprintf(s->name, sizeof s->name, "test://%s", gen_path);
    rootfile *f;
    if (rootfile_open_source(s, &f, &e)) {
        printf("  %s\n", e.msg);
        return NULL;
    }
    *impl = c;
    return f;
}

static int same_column(const column *x, const column *y)
{
    if (x->n != y->n || x->nvalues != y->nvalues || x->dt != y->dt || x->jagged != y->jagged)
        return 0;
    if (memcmp(x->values, y->values, x->nvalues * dtype_size(x->dt)) != 0)
        return 0;
    return !x->jagged || memcmp(x->offsets, y->offsets, ((size_t)x->n + 1) * sizeof(int64_t)) == 0;
}

static int numeric(const tbranch *b)
{
    return b->kind == TK_FLAT || b->kind == TK_FIXED || b->kind == TK_JAGGED;
}

TEST(plan_and_readahead_on_generated_file)
{
    cnt_impl *c;
    rootfile *f = open_counted(&c, -1);
    CHECK(f != NULL);
    mlhep_err e;
    ttree *t;
    CHECKF(ttree_open(f, "Events", &t, &e) == 0, "%s", e.msg);
    const tbranch *b[256];
    int nb = 0;
    for (int i = 0; i < t->nbranches && nb < 256; i++)
        if (numeric(t->branches[i]))
            b[nb++] = t->branches[i];
    CHECK(nb > 20);
    column *ref = calloc((size_t)nb, sizeof *ref), *got = calloc((size_t)nb, sizeof *got);
    readahead *ra;
    CHECK(readahead_new(f, b, nb, t->entries, NULL, &ra, &e) == 0);
    basket_ctx *ctxs[2] = {basket_ctx_new(), basket_ctx_new()};
    CHECK(ctxs[0] && ctxs[1]);
    team *tm;
    CHECK(team_new(2, &tm, &e) == 0 && team_size(tm) == 2);
    int64_t block = 3000;
    int blocks = 0;
    for (int64_t a = 0; a < t->entries; a += block) {
        int64_t z = a + block < t->entries ? a + block : t->entries;
        CHECKF(basket_read_many_plan(f, b, nb, a, z, ref, NULL, tm, NULL, &e) == 0, "%s", e.msg);
        int before = c->readv_calls;
        uint64_t reads_before = f->src->n_requests;
        /* one plan for the block: a single vector read, and no other read */
        readplan *p;
        CHECK(readplan_build(f, b, nb, a, z, NULL, &p, &e) == 0);
        readplan_info info;
        readplan_get_info(p, &info);
        CHECK(info.baskets >= (size_t)nb && info.requests == 1 && info.fetched >= info.useful);
        CHECK(readplan_find(p, b[0]->baskets[0].seek, 1) == NULL); /* not fetched yet */
        CHECKF(readplan_fetch(p, &e) == 0, "%s", e.msg);
        CHECK_EQ_INT(c->readv_calls - before, 1);
        CHECKF(basket_read_many_plan(f, b, nb, a, z, got, NULL, tm, p, &e) == 0, "%s", e.msg);
        CHECK_EQ_INT(f->src->n_requests - reads_before, 1);
        for (int k = 0; k < nb; k++)
            CHECKF(same_column(&ref[k], &got[k]), "branch %s block %lld", b[k]->name, (long long)a);
        readplan_free(p);
        /* the readahead gives the same, also with persistent contexts (basket cache) */
        const readplan *cp;
        CHECKF(readahead_get(ra, a, z, &cp, &e) == 0, "%s", e.msg);
        CHECKF(basket_read_many_plan(f, b, nb, a, z, got, ctxs, tm, cp, &e) == 0, "%s", e.msg);
        for (int k = 0; k < nb; k++)
            CHECKF(same_column(&ref[k], &got[k]), "readahead: branch %s block %lld", b[k]->name, (long long)a);
        /* and so does basket_read_many on a source with native vector reads */
        CHECKF(basket_read_many(f, b, nb, a, z, got, 2, &e) == 0, "%s", e.msg);
        for (int k = 0; k < nb; k++)
            CHECK(same_column(&ref[k], &got[k]));
        blocks++;
    }
    uint64_t hit, miss;
    readahead_stats(ra, &hit, &miss);
    CHECK_EQ_INT(miss, 1);
    CHECK_EQ_INT(hit, blocks - 1);
    /* a jump elsewhere is fetched on demand, the stale prefetch dropped */
    const readplan *cp;
    CHECK(readahead_get(ra, 100, 200, &cp, &e) == 0);
    CHECK(readahead_get(ra, 5000, 5100, &cp, &e) == 0);
    readahead_stats(ra, &hit, &miss);
    CHECK_EQ_INT(miss, 3);
    readahead_free(ra);
    team_free(tm);
    basket_ctx_free(ctxs[0]);
    basket_ctx_free(ctxs[1]);
    for (int k = 0; k < nb; k++) {
        column_free(&ref[k]);
        column_free(&got[k]);
    }
    free(ref);
    free(got);
    ttree_free(t);
    rootfile_close(f);
}

TEST(prefetch_failure_is_reported)
{
    cnt_impl *c;
    rootfile *f = open_counted(&c, 2); /* the third vector read fails */
    CHECK(f != NULL);
    mlhep_err e;
    ttree *t;
    CHECK(ttree_open(f, "Events", &t, &e) == 0);
    const tbranch *b[256];
    int nb = 0;
    for (int i = 0; i < t->nbranches && nb < 256; i++)
        if (numeric(t->branches[i]))
            b[nb++] = t->branches[i];
    readahead *ra;
    CHECK(readahead_new(f, b, nb, t->entries, NULL, &ra, &e) == 0);
    column *cols = calloc((size_t)nb, sizeof *cols);
    team *tm;
    CHECK(team_new(2, &tm, &e) == 0);
    int rc = 0;
    int64_t a = 0;
    for (; a < t->entries && !rc; a += 2000) {
        const readplan *cp;
        rc = readahead_get(ra, a, a + 2000, &cp, &e);
        if (!rc)
            rc = basket_read_many_plan(f, b, nb, a, a + 2000, cols, NULL, tm, cp, &e);
    }
    CHECK(rc == MLHEP_ENET);
    CHECKF(strstr(e.msg, "connection reset (test)") != NULL, "%s", e.msg);
    CHECK_EQ_INT(a, 3 * 2000); /* blocks 0 and 1 fine, block 2's prefetch failed */
    readahead_free(ra);
    team_free(tm);
    for (int k = 0; k < nb; k++)
        column_free(&cols[k]);
    free(cols);
    ttree_free(t);
    rootfile_close(f);
}

int main(void)
{
    RUN(coalesce_gaps_and_overlaps);
    RUN(coalesce_limits);
    RUN(coalesce_invariants);
    snprintf(gen_path, sizeof gen_path, "/tmp/mlhep-readplan-%d.root", (int)getpid());
    evgen_opts o = {.events = 12000, .signal = 1, .out = gen_path, .seed = 3, .cluster_entries = 2000,
                    .basket_bytes = 8192};
    mlhep_err e;
    if (evgen_write(&o, &e)) {
        printf("FAIL test_readplan.c:generate: %s\n", e.msg);
        return 1;
    }
    RUN(plan_and_readahead_on_generated_file);
    RUN(prefetch_failure_is_reported);
    unlink(gen_path);
    return test_summary();
}
