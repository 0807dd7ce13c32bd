/* mlhep-root - look inside ROOT files with mlhep's native reader.
 *
 *   mlhep-root ls FILE                         trees, entries, branches (type, kind, compression)
 *   (FILE may be root://host//path or http(s)://host/path: see docs/remote-data.md)
 *   mlhep-root stats FILE [--tree PATH]        per-branch statistics as one JSON document
 *   mlhep-root dump FILE --tree PATH --branch B[,C...]|--all [--entries A:B] [--csv]
 *   (--all, or several branches without --csv: each branch in turn, after "# branch NAME";
 *   several branches with --csv: one table, one column per branch)
 *   mlhep-root COMMAND --help                  the command's options and examples
 *
 * A thin front end over common/ (rootfile, ttree, basket, rootstats). Exit codes:
 * 0 ok, 1 bad usage (including an empty or reversed --entries range, or one that starts
 * past the tree's end), 2 the file cannot be read (message on stderr names file, tree,
 * branch and problem; an unknown branch or tree with the closest name, "did you mean"). */
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

#define EXIT_CODES \
    "exit codes:\n" \
    "  0 ok\n" \
    "  1 usage error: unknown command or option, missing argument, an --entries range that\n" \
    "    is empty, reversed or starts past the tree's last entry\n" \
    "  2 the file, tree or branch cannot be read (one line on stderr naming file, tree,\n" \
    "    branch and problem; a misspelt tree or branch gets \"did you mean\")\n"

static void usage(FILE *o)
{
    fprintf(o, "usage:\n"
               "  mlhep-root ls FILE\n"
               "  mlhep-root stats FILE [--tree PATH] [--threads N]\n"
               "  mlhep-root dump FILE --tree PATH --branch NAME[,NAME...]|--all [--entries A:B] [--csv]\n"
               "  mlhep-root gen --events N --class signal|background --out FILE.root [--seed S]\n"
               "                 [--compression zlib:1] [--preset tth|nanoaod] [--tree NAME] [--cluster N]\n"
               "  mlhep-root COMMAND --help     one command's options and examples\n"
               "\n"
               "  ls     the file's trees: entries, and every branch with its type, kind, codec,\n"
               "         baskets and compression ratio\n"
               "  stats  per-branch statistics (count, sum, min, max, first entries) as one JSON document\n"
               "  dump   branch values, one entry per line (--csv: comma-separated with a header)\n"
               "  gen    write synthetic ttH(bb)-like or NanoAOD-like events to a ROOT file\n"
               "\n"
               "options (the commands that take them):\n"
               "  --tree PATH      stats, dump: the tree (dir/name inside the file; stats: default all)\n"
               "  --threads N      stats: threads reading branches, 1..%d (default 2)\n"
               "  --branch NAMES   dump: a branch, or several (comma-separated or --branch repeated)\n"
               "  --all            dump: every branch in turn\n"
               "  --entries A:B    dump: entries A to B-1 (either side may be empty: 10: or :5)\n"
               "  --csv            dump: CSV with a header row\n"
               "  -h, --help       this text (COMMAND --help: that command's)\n"
               "FILE is a local path or a URL: root://host[:port]//path, http(s)://host/path\n"
               "(see docs/remote-data.md for credentials and the MLHEP_REMOTE_* settings).\n"
               "\n"
               "examples:\n"
               "  mlhep-root ls data/uproot-HZZ.root\n"
               "  mlhep-root dump data/uproot-HZZ.root --tree events --branch NJet,MET_px --entries 0:3 --csv\n"
               "  mlhep-root stats data/uproot-HZZ.root --tree events > stats.json\n"
               "  mlhep-root gen --events 1000 --class signal --out S.root\n"
               "\n" EXIT_CODES,
            TEAM_MAX);
}

static void usage_ls(FILE *o)
{
    fprintf(o, "usage: mlhep-root ls FILE\n"
               "\n"
               "Lists the file's ROOT version, size and compression, then every tree (any directory\n"
               "depth) with its entries and branches: name, C++ type, kind (flat, fixed array,\n"
               "jagged, group, skipped: why mlhep cannot read it), codec, baskets and compression\n"
               "ratio. FILE is a local path or a root:// or http(s):// URL. No options.\n"
               "\n"
               "example:\n"
               "  mlhep-root ls data/uproot-HZZ.root\n"
               "\n" EXIT_CODES);
}

static void usage_stats(FILE *o)
{
    fprintf(o, "usage: mlhep-root stats FILE [--tree PATH] [--threads N]\n"
               "\n"
               "Per-branch statistics of every tree (or of PATH) as one JSON document on stdout:\n"
               "per branch its kind, types, counter (jagged), the number of values, their sum,\n"
               "min and max, and the first five entries.\n"
               "\n"
               "options:\n"
               "  --tree PATH   only this tree (dir/name inside the file)\n"
               "  --threads N   threads reading branches, 1..%d (default 2)\n"
               "\n"
               "example:\n"
               "  mlhep-root stats data/uproot-HZZ.root --tree events --threads 2 > stats.json\n"
               "\n" EXIT_CODES,
            TEAM_MAX);
}

static void usage_dump(FILE *o)
{
    fprintf(o, "usage: mlhep-root dump FILE --tree PATH --branch NAME[,NAME...] [--entries A:B] [--csv]\n"
               "       mlhep-root dump FILE --tree PATH --all [--entries A:B] [--csv]\n"
               "\n"
               "Prints branch values, one entry per line: \"ENTRY: VALUE\", arrays and jagged\n"
               "branches as [v, v, ...]. float32 with 9 significant digits, float64 with 17.\n"
               "\n"
               "options:\n"
               "  --tree PATH      the tree (dir/name inside the file)\n"
               "  --branch NAMES   one branch, or several: NJet,MET_px or --branch repeated; a typo\n"
               "                   is refused with the closest name (\"did you mean\")\n"
               "  --all            every branch of the tree in turn, each after \"# branch NAME\";\n"
               "                   branches that cannot be read are refused, the others printed\n"
               "  --entries A:B    entries A to B-1; A defaults to 0, B to the end (10: or :5);\n"
               "                   B past the end stops at the last entry; an empty or reversed\n"
               "                   range (5:2, 5:5) or one starting past the end is refused\n"
               "  --csv            comma-separated with a header row \"entry,NAME...\". With several\n"
               "                   branches: one table, one column per branch. An array or jagged\n"
               "                   branch is one column too: its values in double quotes separated\n"
               "                   by ';' (\"1.5;2.25\", \"\" for none). Branches that hold no\n"
               "                   numbers (strings, objects) are refused, named\n"
               "Several branches without --csv are printed in turn, each after \"# branch NAME\".\n"
               "\n"
               "examples:\n"
               "  mlhep-root dump data/uproot-HZZ.root --tree events --branch Jet_Px --entries 0:4\n"
               "  mlhep-root dump data/uproot-HZZ.root --tree events --branch NJet,MET_px,Jet_Px \\\n"
               "      --entries 0:3 --csv\n"
               "output of the second:\n"
               "  entry,NJet,MET_px,Jet_Px\n"
               "  0,0,5.91277122,\"\"\n"
               "  1,1,24.7652035,\"-38.8747139\"\n"
               "  2,0,-25.7850876,\"\"\n"
               "\n" EXIT_CODES);
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

/* Entry i of column c (branch b): its value, or its values as a list ([a, b] or, in
 * CSV, "a;b") for arrays and jagged branches. */
static void print_cell(const column *c, const tbranch *b, int64_t i, int csv)
{
    size_t lo = c->jagged ? (size_t)c->offsets[i] : (size_t)(i * c->per_entry);
    size_t hi = c->jagged ? (size_t)c->offsets[i + 1] : lo + (size_t)c->per_entry;
    int list = c->jagged || b->kind == TK_FIXED;
    if (list)
        printf(csv ? "\"" : "[");
    for (size_t j = lo; j < hi; j++) {
        if (j > lo)
            printf(csv ? ";" : ", ");
        print_value(c, j);
    }
    if (list)
        printf(csv ? "\"" : "]");
}

#define DUMP_STEP 100000 /* entries read per basket_read */

/* Prints entries [a, z) of branch b (clamped to its entries); 0, or 2 after printing
 * the one-line message. */
static int dump_branch(rootfile *f, const char *path, const char *tree, const tbranch *b, int64_t a, int64_t z,
                       int csv, column *c, basket_ctx *ctx)
{
    mlhep_err e;
    if (z > b->entries)
        z = b->entries;
    if (z < a)
        z = a;
    if (csv)
        printf("entry,%s\n", b->name);
    for (int64_t s = a; s < z; s += DUMP_STEP) {
        int64_t u = s + DUMP_STEP < z ? s + DUMP_STEP : z;
        if (basket_read(f, b, s, u, c, ctx, &e)) {
            err_prefix(&e, "file %s: tree '%s'", path, tree);
            return fail(&e);
        }
        for (int64_t i = 0; i < c->n; i++) {
            printf(csv ? "%" PRId64 "," : "%" PRId64 ": ", s + i);
            print_cell(c, b, i, csv);
            printf("\n");
        }
    }
    return 0;
}

/* Several branches as one CSV table: a header "entry,B1,B2,...", then one line per
 * entry of [a, z) (clamped to the shortest branch), one column per branch. Branches
 * that hold no numbers are refused (named) before anything is printed. */
static int dump_csv_table(rootfile *f, const char *path, const char *tree, tbranch *const *bs, int nb, int64_t a,
                          int64_t z, basket_ctx *ctx)
{
    mlhep_err e;
    for (int k = 0; k < nb; k++)
        if (bs[k]->kind == TK_SKIPPED || bs[k]->kind == TK_GROUP) {
            err_set(&e, MLHEP_EUNSUPPORTED, "file %s: tree '%s': branch '%s' (C++ type %s) cannot be a CSV column: %s",
                    path, tree, bs[k]->name, tbranch_cxx_type(bs[k]),
                    bs[k]->skip_reason ? bs[k]->skip_reason : "it only groups sub-branches (name those)");
            return fail(&e);
        }
    column *cs = calloc((size_t)nb, sizeof *cs);
    if (!cs) {
        err_set(&e, MLHEP_ENOMEM, "out of memory");
        return fail(&e);
    }
    for (int k = 0; k < nb; k++) {
        column_init(&cs[k]);
        if (z > bs[k]->entries)
            z = bs[k]->entries;
    }
    if (z < a)
        z = a;
    printf("entry");
    for (int k = 0; k < nb; k++)
        printf(",%s", bs[k]->name);
    printf("\n");
    int rc = 0;
    for (int64_t s = a; s < z && !rc; s += DUMP_STEP) {
        int64_t u = s + DUMP_STEP < z ? s + DUMP_STEP : z;
        for (int k = 0; k < nb && !rc; k++)
            if (basket_read(f, bs[k], s, u, &cs[k], ctx, &e)) {
                err_prefix(&e, "file %s: tree '%s'", path, tree);
                rc = fail(&e);
            }
        for (int64_t i = 0; !rc && i < u - s; i++) {
            printf("%" PRId64, s + i);
            for (int k = 0; k < nb; k++) {
                printf(",");
                print_cell(&cs[k], bs[k], i, 1);
            }
            printf("\n");
        }
    }
    for (int k = 0; k < nb; k++)
        column_free(&cs[k]);
    free(cs);
    return rc;
}

/* --entries A:B into [*a, *z): 0, or 1 (usage) after the message. */
static int parse_range(const char *range, int64_t *a, int64_t *z)
{
    mlhep_err e;
    const char *colon = strchr(range, ':');
    char first[32];
    long v;
    *a = 0;
    *z = INT64_MAX;
    if (!colon || (size_t)(colon - range) >= sizeof first) {
        fprintf(stderr, "mlhep-root: --entries wants A:B (either side may be empty)\n");
        return 1;
    }
    memcpy(first, range, (size_t)(colon - range));
    first[colon - range] = '\0';
    if (*first) {
        if (numarg_long("--entries (first)", first, 0, LONG_MAX, &v, &e)) {
            fprintf(stderr, "mlhep-root: %s\n", e.msg);
            return 1;
        }
        *a = v;
    }
    if (colon[1]) {
        if (numarg_long("--entries (end)", colon + 1, 0, LONG_MAX, &v, &e)) {
            fprintf(stderr, "mlhep-root: %s\n", e.msg);
            return 1;
        }
        *z = v;
    }
    if (*z <= *a) {
        fprintf(stderr, "mlhep-root: --entries %s selects no entry: A:B means entries A to B-1, so B must be "
                        "greater than A (%" PRId64 ":%" PRId64 " is entry %" PRId64 " alone)\n",
                range, *a, *a + 1, *a);
        return 1;
    }
    return 0;
}

/* The branches named by the --branch arguments (each a name or a comma-separated
 * list; a name that is itself a branch is taken whole) into *out (caller frees): 0,
 * or 2 after the message naming the first unknown one with the closest name. */
static int find_branches(const ttree *t, const char *path, const char *tree, char **args, int nargs, tbranch ***out,
                         int *nout)
{
    size_t cap = 0;
    for (int i = 0; i < nargs; i++)
        cap += strlen(args[i]) / 2 + 1;
    tbranch **bs = calloc(cap, sizeof *bs);
    int n = 0;
    mlhep_err e;
    if (!bs) {
        err_set(&e, MLHEP_ENOMEM, "out of memory");
        return fail(&e);
    }
    for (int i = 0; i < nargs; i++) {
        tbranch *whole = ttree_branch(t, args[i]);
        if (whole) {
            bs[n++] = whole;
            continue;
        }
        const char *p = args[i];
        for (;;) {
            size_t len = strcspn(p, ",");
            char name[1024];
            if (len == 0 || len >= sizeof name) {
                fprintf(stderr, "mlhep-root: --branch '%s': %s\n", args[i],
                        len ? "a name longer than 1023 bytes" : "an empty name (NAME,NAME,...)");
                free(bs);
                return 1;
            }
            memcpy(name, p, len);
            name[len] = '\0';
            tbranch *b = ttree_branch(t, name);
            if (!b) {
                const char *near = ttree_branch_closest(t, name);
                err_set(&e, MLHEP_ENOTFOUND, "file %s: branch '%s' not found in tree '%s'%s%s%s", path, name, tree,
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
                free(bs);
                return fail(&e);
            }
            bs[n++] = b;
            if (!p[len])
                break;
            p += len + 1;
        }
    }
    *out = bs;
    *nout = n;
    return 0;
}

/* dump the branches named by --branch, or with all set every branch of the tree in
 * turn (each after a "# branch NAME" line): branches that cannot be read (skipped,
 * groups) are refused with their message and the others still dumped; exit 2 if any
 * was refused. Several branches with csv: one table (dump_csv_table). */
static int cmd_dump(const char *path, const char *tree, char **branches, int nbranch, int all, const char *range,
                    int csv)
{
    int64_t a = 0, z = INT64_MAX;
    if (range && parse_range(range, &a, &z))
        return 1;
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
    int rc = 0, nb = 0;
    tbranch **bs = NULL;
    column c;
    column_init(&c);
    basket_ctx *ctx = NULL;
    if (!all && (rc = find_branches(t, path, tree, branches, nbranch, &bs, &nb)))
        goto out;
    if (range && a >= t->entries) {
        if (t->entries > 0)
            fprintf(stderr, "mlhep-root: --entries %s starts past the end: tree '%s' has %" PRId64
                            " entries (0 to %" PRId64 ")\n", range, tree, t->entries, t->entries - 1);
        else
            fprintf(stderr, "mlhep-root: --entries %s: tree '%s' has no entries\n", range, tree);
        rc = 1;
        goto out;
    }
    ctx = basket_ctx_new();
    if (!ctx) {
        err_set(&e, MLHEP_ENOMEM, "out of memory");
        rc = fail(&e);
    } else if (!all && nb == 1) {
        rc = dump_branch(f, path, tree, bs[0], a, z, csv, &c, ctx);
    } else if (!all && csv) {
        rc = dump_csv_table(f, path, tree, bs, nb, a, z, ctx);
    } else {
        int n = all ? t->nbranches : nb;
        for (int i = 0; i < n; i++) {
            const tbranch *b = all ? t->branches[i] : bs[i];
            printf("# branch %s\n", b->name);
            if (dump_branch(f, path, tree, b, a, z, csv, &c, ctx))
                rc = 2;
        }
    }
out:
    basket_ctx_free(ctx);
    column_free(&c);
    free(bs);
    ttree_free(t);
    rootfile_close(f);
    return rc;
}

enum { C_LS = 1, C_STATS = 2, C_DUMP = 4 };

/* One option of ls, stats and dump: the commands that take it. */
static int takes(const char *cmd, unsigned cmds, const char *opt)
{
    unsigned c = !strcmp(cmd, "ls") ? C_LS : !strcmp(cmd, "stats") ? C_STATS : !strcmp(cmd, "dump") ? C_DUMP : 0;
    if (!c || (cmds & c))
        return 1; /* an unknown command is refused below, by name */
    fprintf(stderr, "mlhep-root: %s does not take %s (see mlhep-root %s --help)\n", cmd, opt, cmd);
    return 0;
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
    const char *file = NULL, *tree = NULL, *range = NULL;
    char **branches = calloc((size_t)argc, sizeof *branches);
    int nbranch = 0;
    int csv = 0, threads = 2, all = 0, rc = 1;
    if (!branches) {
        fprintf(stderr, "mlhep-root: out of memory\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (!strcmp(cmd, "ls"))
                usage_ls(stdout);
            else if (!strcmp(cmd, "stats"))
                usage_stats(stdout);
            else if (!strcmp(cmd, "dump"))
                usage_dump(stdout);
            else
                usage(stdout);
            free(branches);
            return 0;
        }
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int value = !strcmp(a, "--tree") || !strcmp(a, "--branch") || !strcmp(a, "--entries") ||
                    !strcmp(a, "--threads");
        if (value && i + 1 >= argc) {
            fprintf(stderr, "mlhep-root: %s needs a value (see mlhep-root %s --help)\n", a, cmd);
            goto done;
        }
        if (!strcmp(a, "--tree")) {
            if (!takes(cmd, C_STATS | C_DUMP, a))
                goto done;
            tree = argv[++i];
        } else if (!strcmp(a, "--branch")) {
            if (!takes(cmd, C_DUMP, a))
                goto done;
            branches[nbranch++] = argv[++i];
        } else if (!strcmp(a, "--entries")) {
            if (!takes(cmd, C_DUMP, a))
                goto done;
            range = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            mlhep_err e;
            if (!takes(cmd, C_STATS, a))
                goto done;
            if (numarg_int("--threads", argv[++i], 1, TEAM_MAX, &threads, &e)) {
                fprintf(stderr, "mlhep-root: %s\n", e.msg);
                goto done;
            }
        } else if (!strcmp(a, "--csv")) {
            if (!takes(cmd, C_DUMP, a))
                goto done;
            csv = 1;
        } else if (!strcmp(a, "--all")) {
            if (!takes(cmd, C_DUMP, a))
                goto done;
            all = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mlhep-root: unknown option '%s'\n", a);
            usage(stderr);
            goto done;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "mlhep-root: unexpected argument '%s'\n", a);
            goto done;
        }
    }
    if (strcmp(cmd, "ls") && strcmp(cmd, "stats") && strcmp(cmd, "dump")) {
        fprintf(stderr, "mlhep-root: unknown command '%s'\n", cmd);
        usage(stderr);
    } else if (!file) {
        fprintf(stderr, "mlhep-root: %s needs a FILE (see mlhep-root %s --help)\n", cmd, cmd);
    } else if (!strcmp(cmd, "ls")) {
        rc = cmd_ls(file);
    } else if (!strcmp(cmd, "stats")) {
        rc = cmd_stats(file, tree, threads);
    } else if (!tree || (nbranch == 0) == !all) {
        fprintf(stderr, "mlhep-root: dump needs --tree and either --branch or --all (see mlhep-root dump --help)\n");
    } else {
        rc = cmd_dump(file, tree, branches, nbranch, all, range, csv);
    }
done:
    free(branches);
    return rc;
}
