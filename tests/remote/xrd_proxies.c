/* tests/remote/xrd_proxies.c - one process, many root:// logins with different X.509
 * proxies at once (tests/cli/remote_gsi.sh): shows that each open logs in with the
 * proxy its own access names (source_open_with), never with one another open used,
 * which is what keeps a worker's jobs apart (docs/grid.md, "your proxy for one job").
 *
 *   xrd_proxies URL GOOD_PROXY DIR ROUNDS
 * Each round copies GOOD_PROXY to DIR/good.N (a new file: a new XrdCl connection) and,
 * in two threads started together, opens URL with it and with DIR/none.N (no such
 * file); then, right after, opens URL with no proxy of its own (the default path, which
 * does not exist here) while DIR/good.N still exists. The first must succeed, the others
 * fail. Prints one line per round; exit 0 when every round is as expected. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "root/source_open.h"

typedef struct {
    const char *url;
    char proxy[512];
    int rc;
    char msg[MLHEP_ERR_MAX];
} opener;

static pthread_barrier_t go;

static void *open_one(void *p)
{
    opener *o = p;
    srcaccess a;
    srcaccess_from_env(&a);
    a.proxy = o->proxy[0] ? o->proxy : NULL;
    mlhep_err e;
    err_clear(&e);
    source *s = NULL;
    pthread_barrier_wait(&go);
    o->rc = source_open_with(o->url, &a, &s, &e);
    snprintf(o->msg, sizeof o->msg, "%s", e.msg);
    source_close(s);
    return NULL;
}

static int copy(const char *from, const char *to)
{
    FILE *f = fopen(from, "r"), *t = fopen(to, "w");
    char buf[16384];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    int ok = f && t && n > 0 && fwrite(buf, 1, n, t) == n;
    if (f)
        fclose(f);
    if (t)
        fclose(t);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    int rounds = atoi(argv[4]), bad = 0;
    for (int i = 0; i < rounds; i++) {
        opener g = {.url = argv[1]}, n = {.url = argv[1]}, d = {.url = argv[1]};
        snprintf(g.proxy, sizeof g.proxy, "%s/good.%d", argv[3], i);
        snprintf(n.proxy, sizeof n.proxy, "%s/none.%d", argv[3], i);
        if (copy(argv[2], g.proxy) || chmod(g.proxy, 0600))
            return 3;
        pthread_barrier_init(&go, NULL, 2);
        pthread_t tg, tn;
        pthread_create(&tg, NULL, open_one, &g);
        pthread_create(&tn, NULL, open_one, &n);
        pthread_join(tg, NULL);
        pthread_join(tn, NULL);
        pthread_barrier_destroy(&go);
        pthread_barrier_init(&go, NULL, 1);
        open_one(&d); /* no proxy of its own, right after a login with g's */
        pthread_barrier_destroy(&go);
        int ok = g.rc == 0 && n.rc != 0 && d.rc != 0;
        bad += !ok;
        printf("round %d: own proxy %s; missing proxy %s; no proxy %s%s\n", i, g.rc ? "FAILED" : "read",
               n.rc ? "refused" : "READ", d.rc ? "refused" : "READ", ok ? "" : " <- wrong");
        if (!ok)
            printf("  own: %s\n  missing: %s\n  none: %s\n", g.msg, n.msg, d.msg);
    }
    return bad ? 1 : 0;
}
