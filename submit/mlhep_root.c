/* mlhep-root - look inside ROOT files with mlhep's native reader.
 *
 *   mlhep-root ls FILE                         trees, entries, branches (type, kind, compression)
 *   (FILE may be root://host//path or http(s)://host/path: see docs/remote-data.md)
 *   mlhep-root stats FILE [--tree PATH]        per-branch statistics as one JSON document
 *   mlhep-root dump FILE --tree PATH --branch B|--all [--entries A:B] [--csv]
 *   (--all: every branch in turn, each after "# branch NAME"; unreadable ones refused)
 *
 * A thin front end over common/ (rootfile, ttree, basket, rootstats). Exit codes:
 * 0 ok, 1 bad usage, 2 the file cannot be read (message on stderr names file, tree,
 * branch and problem). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/numarg.h"
#include "base/team.h"
#include "root/basket.h"
#include "root/compress.h"
#include "root/rootfile.h"
#include "root/rootstats.h"
#include "root/ttree.h"

#include "gen_cmd.h"

static void usage(FILE *o)
{
    fprintf(o, "usage:\n"
               "  mlhep-root ls FILE\n"
               "  mlhep-root stats FILE [--tree PATH] [--threads N]\n"
               "  mlhep-root dump FILE --tree PATH --branch NAME|--all [--entries A:B] [--csv]\n"
               "  mlhep-root gen --events N --class signal|background --out FILE.root [--seed S]\n"
               "                 [--compression zlib:1] [--preset tth|nanoaod]   (see gen --help)\n"
               "FILE is a local path or a URL: root://host[:port]//path, http(s)://host/path\n"
               "(see docs/remote-data.md for credentials and the MLHEP_REMOTE_* settings).\n");
}

static int fail(const mlhep_err *e)
{
    fprintf(stderr, "mlhep-root: %s\n", e->msg);
    return 2;
}

static const char *alg_of(int fcompress)
{
    int alg = fcompress / 100, level = fcompress % 100;
    if (level == 0)
        return "none";
    return compress_alg_name(alg == 0 ? 1 : alg);
}

static void human(double bytes, char *out, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) {
        bytes /= 1024;
        i++;
    }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

static int cmd_ls(const char *path)
{
    mlhep_err e;
    rootfile *f;
    if (rootfile_open(path, &f, &e))
        return fail(&e);
    rootfile_tree *trees;
    size_t nt;
    if (rootfile_list_trees(f, &trees, &nt, &e)) {
        err_prefix(&e, "file %s", path);
        rootfile_close(f);
        return fail(&e);
    }
    char sz[32];
    human((double)f->src->size, sz, sizeof sz);
    printf("%s: ROOT %d.%02d/%02d, %s, compression %s:%d, %zu tree%s\n", path, f->version / 10000,
           (f->version / 100) % 100, f->version % 100, sz, alg_of(f->compress), f->compress % 100, nt,
           nt == 1 ? "" : "s");
    int rc = 0;
    char rnt[400];
    mlhep_err ignore;
    if (rootfile_rntuples(f, rnt, sizeof rnt, &ignore) > 0)
        printf("\nRNTuple %s: ROOT's newer columnar format, which mlhep does not read (only TTrees)\n", rnt);
    for (size_t i = 0; i < nt; i++) {
        ttree *t;
        if (ttree_open_key(f, &trees[i].key, trees[i].path, &t, &e)) {
            err_prefix(&e, "file %s", path);
            rc = fail(&e);
            continue;
        }
        printf("\ntree %s  (%" PRId64 " entries, %d branches)\n", t->path, t->entries, t->nbranches);
        int w = 6;
        for (int j = 0; j < t->nbranches; j++) {
            int l = (int)strlen(t->branches[j]->name);
            if (l > w)
                w = l;
        }
        if (w > 60)
            w = 60;
        printf("  %-*s  %-22s %-11s %-6s %8s %7s\n", w, "branch", "type", "kind", "codec", "baskets", "ratio");
        for (int j = 0; j < t->nbranches; j++) {
            const tbranch *b = t->branches[j];
            char ratio[16] = "-";
            if (b->zip_bytes > 0 && b->tot_bytes > 0)
                snprintf(ratio, sizeof ratio, "%.2f", (double)b->tot_bytes / (double)b->zip_bytes);
            printf("  %-*s  %-22s %-11s %-6s %8d %7s%s%s\n", w, b->name, b->type_name ? b->type_name : "",
                   tkind_name(b->kind), b->kind == TK_GROUP ? "" : alg_of(b->compress), b->nbaskets, ratio,
                   b->kind == TK_SKIPPED ? "  # " : "", b->kind == TK_SKIPPED && b->skip_reason ? b->skip_reason : "");
        }
        ttree_free(t);
    }
    free(trees);
    rootfile_close(f);
    return rc;
}

static int cmd_stats(const char *path, const char *tree, int threads)
{
    mlhep_err e;
    json_t *doc;
    if (rootstats_file(path, tree, threads, &doc, &e))
        return fail(&e);
    json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    printf("\n");
    json_decref(doc);
    return 0;
}

static void print_value(const column *c, size_t i)
{
    switch (c->dt) {
    case DT_F32: printf("%.9g", column_get(c, i)); break;
    case DT_F64: printf("%.17g", column_get(c, i)); break;
    case DT_U64: printf("%" PRIu64, ((const uint64_t *)c->values)[i]); break;
    case DT_I64: printf("%" PRId64, ((const int64_t *)c->values)[i]); break;
    case DT_BOOL: printf("%s", ((const uint8_t *)c->values)[i] ? "true" : "false"); break;
    default: printf("%.0f", column_get(c, i)); break;
    }
}

/* Prints entries [a, z) of branch b (clamped to its entries); 0, or 2 after printing
 * the one-line message. */
static int dump_branch(rootfile *f, const char *path, const char *tree, const tbranch *b, int64_t a, int64_t z,
                       int csv, column *c, basket_ctx *ctx)
{
    mlhep_err e;
    const int64_t step = 100000;
    if (z > b->entries)
        z = b->entries;
    if (z < a)
        z = a;
    if (csv)
        printf("entry,%s\n", b->name);
    for (int64_t s = a; s < z; s += step) {
        int64_t u = s + step < z ? s + step : z;
        if (basket_read(f, b, s, u, c, ctx, &e)) {
            err_prefix(&e, "file %s: tree '%s'", path, tree);
            return fail(&e);
        }
        for (int64_t i = 0; i < c->n; i++) {
            size_t lo = c->jagged ? (size_t)c->offsets[i] : (size_t)(i * c->per_entry);
            size_t hi = c->jagged ? (size_t)c->offsets[i + 1] : lo + (size_t)c->per_entry;
            int list = c->jagged || b->kind == TK_FIXED;
            printf(csv ? "%" PRId64 "," : "%" PRId64 ": ", s + i);
            if (list)
                printf(csv ? "\"" : "[");
            for (size_t j = lo; j < hi; j++) {
                if (j > lo)
                    printf(csv ? ";" : ", ");
                print_value(c, j);
            }
            if (list)
                printf(csv ? "\"" : "]");
            printf("\n");
        }
    }
    return 0;
}

/* dump one branch, or with all set every branch of the tree in turn (each after a
 * "# branch NAME" line): branches that cannot be read (skipped, groups) are refused
 * with their message and the others still dumped; exit 2 if any was refused. */
static int cmd_dump(const char *path, const char *tree, const char *branch, int all, const char *range, int csv)
{
    mlhep_err e;
    rootfile *f;
    if (rootfile_open(path, &f, &e))
        return fail(&e);
    ttree *t;
    if (ttree_open(f, tree, &t, &e)) {
        err_prefix(&e, "file %s", path);
        rootfile_close(f);
        return fail(&e);
    }
    int rc = 0;
    tbranch *b = all ? NULL : ttree_branch(t, branch);
    if (!all && !b) {
        err_set(&e, MLHEP_ENOTFOUND, "file %s: branch '%s' not found in tree '%s'", path, branch, tree);
        rc = fail(&e);
        goto out;
    }
    int64_t a = 0, z = INT64_MAX;
    if (range) {
        const char *colon = strchr(range, ':');
        char first[32];
        long v;
        if (!colon || (size_t)(colon - range) >= sizeof first) {
            fprintf(stderr, "mlhep-root: --entries wants A:B (either side may be empty)\n");
            rc = 1;
            goto out;
        }
        memcpy(first, range, (size_t)(colon - range));
        first[colon - range] = '\0';
        if (*first) {
            if (numarg_long("--entries (first)", first, 0, LONG_MAX, &v, &e)) {
                fprintf(stderr, "mlhep-root: %s\n", e.msg);
                rc = 1;
                goto out;
            }
            a = v;
        }
        if (colon[1]) {
            if (numarg_long("--entries (end)", colon + 1, 0, LONG_MAX, &v, &e)) {
                fprintf(stderr, "mlhep-root: %s\n", e.msg);
                rc = 1;
                goto out;
            }
            z = v;
        }
    }
    column c;
    column_init(&c);
    basket_ctx *ctx = basket_ctx_new();
    if (!ctx) {
        err_set(&e, MLHEP_ENOMEM, "out of memory");
        rc = fail(&e);
    } else if (!all) {
        rc = dump_branch(f, path, tree, b, a, z, csv, &c, ctx);
    } else {
        for (int i = 0; i < t->nbranches; i++) {
            printf("# branch %s\n", t->branches[i]->name);
            if (dump_branch(f, path, tree, t->branches[i], a, z, csv, &c, ctx))
                rc = 2;
        }
    }
    basket_ctx_free(ctx);
    column_free(&c);
out:
    ttree_free(t);
    rootfile_close(f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "gen"))
        return gen_cmd_main(argc - 1, argv + 1);
    const char *cmd = argv[1];
    const char *file = NULL, *tree = NULL, *branch = NULL, *range = NULL;
    int csv = 0, threads = 2, all = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--tree") && i + 1 < argc)
            tree = argv[++i];
        else if (!strcmp(a, "--branch") && i + 1 < argc)
            branch = argv[++i];
        else if (!strcmp(a, "--entries") && i + 1 < argc)
            range = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            mlhep_err e;
            if (numarg_int("--threads", argv[++i], 1, TEAM_MAX, &threads, &e)) {
                fprintf(stderr, "mlhep-root: %s\n", e.msg);
                return 1;
            }
        }
        else if (!strcmp(a, "--csv"))
            csv = 1;
        else if (!strcmp(a, "--all"))
            all = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mlhep-root: unknown option '%s'\n", a);
            usage(stderr);
            return 1;
        } else if (!file)
            file = a;
        else {
            fprintf(stderr, "mlhep-root: unexpected argument '%s'\n", a);
            return 1;
        }
    }
    if (!file) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(cmd, "ls"))
        return cmd_ls(file);
    if (!strcmp(cmd, "stats"))
        return cmd_stats(file, tree, threads);
    if (!strcmp(cmd, "dump")) {
        if (!tree || (!branch == !all)) {
            fprintf(stderr, "mlhep-root: dump needs --tree and --branch (or --all)\n");
            return 1;
        }
        return cmd_dump(file, tree, branch, all, range, csv);
    }
    fprintf(stderr, "mlhep-root: unknown command '%s'\n", cmd);
    usage(stderr);
    return 1;
}
