/* test_preproc.c - the preproc.json document: the upstream example (MLaaS4HEP
 * doc/preproc.md) on a hand-built chunk with masks and values worked out by hand,
 * chained new branches, removed/needed lists, every document error with its place,
 * and run-time errors. */
#include <stdint.h>
#include <stdlib.h>

#include "data/preproc.h"
#include "test.h"

/* Input tree: 5 events.
 *   nMuon    flat   {1, 2, 4, 3, 2}
 *   nLeptons flat   {2, 1, 3, 0, 2}
 *   Energy   jagged {[400,500], [300], [], [450,350,520], [500]}
 *   Muon_Pt  jagged {[250,300], [300], [], [210], [250,400]}
 *   Jet_pt   jagged {[50,20], [], [35,31,10], [5], [100]}   (not used by the example) */
#define NE 5
static const double nmu[NE] = {1, 2, 4, 3, 2}, nlep[NE] = {2, 1, 3, 0, 2};
static const int64_t eoff[NE + 1] = {0, 2, 3, 3, 6, 7};
static const double ev[7] = {400, 500, 300, 450, 350, 520, 500};
static const int64_t moff[NE + 1] = {0, 2, 3, 3, 4, 6};
static const double mv[6] = {250, 300, 300, 210, 250, 400};
static const int64_t joff[NE + 1] = {0, 2, 2, 5, 6, 7};
static const double jv[7] = {50, 20, 35, 31, 10, 5, 100};

static const expr_column cols[] = {
    {"nMuon", EXPR_FLAT, NULL, nmu},         {"nLeptons", EXPR_FLAT, NULL, nlep},
    {"Energy", EXPR_JAGGED, eoff, ev},       {"Muon_Pt", EXPR_JAGGED, moff, mv},
    {"Jet_pt", EXPR_JAGGED, joff, jv},
};
#define NCOLS (sizeof cols / sizeof cols[0])

static expr_schema *schema(void)
{
    expr_schema *s = expr_schema_new();
    for (size_t i = 0; i < NCOLS; i++)
        expr_schema_add(s, cols[i].name, cols[i].kind, NULL);
    return s;
}

/* The example document of MLaaS4HEP doc/preproc.md (uproot4 branch). */
static const char *upstream_doc =
    "{\n"
    "  \"new_branch\": {\n"
    "    \"log_Energy\": {\n"
    "      \"def\": \"log(Energy)\",\n"
    "      \"type\": \"jagged\",\n"
    "      \"cut_1\": [\"log_Energy<6.31\", \"any\"],\n"
    "      \"cut_2\": [\"log_Energy>5.85\", \"all\"],\n"
    "      \"remove\": \"False\",\n"
    "      \"keys_to_remove\": [\"Energy\"]\n"
    "    },\n"
    "    \"nMuon_square\": {\n"
    "      \"def\": \"nMuon**2\",\n"
    "      \"type\": \"flat\",\n"
    "      \"cut\": \"1<=nMuon_square<=16\",\n"
    "      \"remove\": \"False\",\n"
    "      \"keys_to_remove\": [\"nMuon\"]\n"
    "    }\n"
    "  },\n"
    "  \"flat_cut\": {\n"
    "    \"nLeptons\": {\n"
    "      \"cut\": \"nLeptons<=2\",\n"
    "      \"remove\": \"False\"\n"
    "    }\n"
    "  },\n"
    "  \"jagged_cut\": {\n"
    "    \"Muon_Pt\": {\n"
    "      \"cut\": [\"Muon_Pt>200\", \"all\"],\n"
    "      \"remove\": \"False\"\n"
    "    }\n"
    "  }\n"
    "}\n";

static int compile(const char *doc, preproc **pp, mlhep_err *e)
{
    expr_schema *s = schema();
    int rc = preproc_compile(doc, strlen(doc), s, pp, e);
    expr_schema_free(s);
    return rc;
}

TEST(upstream_example)
{
    preproc *pp = NULL;
    mlhep_err e = {0};
    CHECKF(compile(upstream_doc, &pp, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(preproc_nnew(pp), 2);
    CHECK(strcmp(preproc_new_name(pp, 0), "log_Energy") == 0 && preproc_new_kind(pp, 0) == EXPR_JAGGED);
    CHECK(strcmp(preproc_new_name(pp, 1), "nMuon_square") == 0 && preproc_new_kind(pp, 1) == EXPR_FLAT);
    CHECK_EQ_INT(preproc_ncuts(pp), 5);
    CHECK(strcmp(preproc_cut_label(pp, 0), "new_branch 'log_Energy' cut_1") == 0);
    CHECK(strcmp(preproc_cut_label(pp, 4), "jagged_cut 'Muon_Pt' cut") == 0);
    /* removed: keys_to_remove of both new branches; nothing has remove True */
    CHECK_EQ_INT(preproc_nremoved(pp), 2);
    CHECK(strcmp(preproc_removed(pp, 0), "Energy") == 0 && strcmp(preproc_removed(pp, 1), "nMuon") == 0);
    CHECK(preproc_is_removed(pp, "nMuon") && !preproc_is_removed(pp, "nMuon_square"));
    /* needed: every input an expression reads, schema order; Jet_pt is not needed */
    CHECK_EQ_INT(preproc_nneeded(pp), 4);
    CHECK(strcmp(preproc_needed(pp, 0), "nMuon") == 0 && strcmp(preproc_needed(pp, 1), "nLeptons") == 0 &&
          strcmp(preproc_needed(pp, 2), "Energy") == 0 && strcmp(preproc_needed(pp, 3), "Muon_Pt") == 0);
    CHECK_EQ_INT(expr_schema_count(preproc_schema(pp)), NCOLS + 2);

    preproc_ws *ws = preproc_ws_new(pp);
    const expr_column *nc;
    uint8_t mask[NE];
    CHECKF(preproc_apply(pp, ws, cols, NCOLS, NE, &nc, mask, &e) == 0, "%s", e.msg);
    /* new columns */
    CHECK(nc[0].kind == EXPR_JAGGED && strcmp(nc[0].name, "log_Energy") == 0);
    for (int i = 0; i <= NE; i++)
        CHECK_EQ_INT(nc[0].offsets[i], eoff[i]);
    for (int j = 0; j < 7; j++)
        CHECK(nc[0].values[j] == log(ev[j]));
    static const double sq[NE] = {1, 4, 16, 9, 4};
    for (int i = 0; i < NE; i++)
        CHECK(nc[1].values[i] == sq[i]);
    /* by hand, per cut:
     *   any(log E < 6.31)   log E: {[5.99,6.21],[5.70],[],[6.11,5.86,6.25],[6.21]} -> 1 1 0 1 1
     *   all(log E > 5.85)                                                           -> 1 0 1 1 1
     *   1 <= nMuon^2 <= 16  {1,4,16,9,4}                                            -> 1 1 1 1 1
     *   nLeptons <= 2       {2,1,3,0,2}                                             -> 1 1 0 1 1
     *   all(Muon_Pt > 200)  {[250,300],[300],[],[210],[250,400]}                    -> 1 1 1 1 1
     *   AND                                                                         -> 1 0 0 1 1 */
    static const uint8_t want[NE] = {1, 0, 0, 1, 1};
    for (int i = 0; i < NE; i++)
        CHECKF(mask[i] == want[i], "event %d: mask %d", i, mask[i]);
    static const double percut[5][NE] = {
        {1, 1, 0, 1, 1}, {1, 0, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 0, 1, 1}, {1, 1, 1, 1, 1}};
    expr_column all[NCOLS + 2];
    memcpy(all, cols, sizeof cols);
    all[NCOLS] = nc[0];
    all[NCOLS + 1] = nc[1];
    expr_ws *xw = expr_ws_new();
    for (int k = 0; k < 5; k++) {
        expr_column r;
        CHECK_EQ_INT(expr_eval(preproc_cut_expr(pp, (size_t)k), all, NCOLS + 2, NE, xw, &r, &e), 0);
        for (int i = 0; i < NE; i++)
            CHECKF(r.values[i] == percut[k][i], "cut %d event %d", k, i);
    }
    expr_ws_free(xw);
    /* a second, smaller chunk through the same workspace */
    CHECKF(preproc_apply(pp, ws, cols, NCOLS, 2, &nc, mask, &e) == 0, "%s", e.msg);
    CHECK(mask[0] == 1 && mask[1] == 0 && nc[0].offsets[2] == 3);
    /* only the needed columns are required */
    expr_column needed[4] = {cols[0], cols[1], cols[2], cols[3]};
    CHECKF(preproc_apply(pp, ws, needed, 4, NE, &nc, mask, &e) == 0, "%s", e.msg);
    /* a missing one is named, with the place */
    CHECK_EQ_INT(preproc_apply(pp, ws, needed, 3, NE, &nc, mask, &e), MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "preproc: jagged_cut 'Muon_Pt' cut: ") && strstr(e.msg, "'Muon_Pt' is not in the chunk"),
           "%s", e.msg);
    preproc_ws_free(ws);
    preproc_free(pp);
}

TEST(chained_new_branches_and_remove)
{
    const char *doc =
        "{\"new_branch\": {"
        "  \"ht\": {\"def\": \"sum(Jet_pt)\", \"type\": \"flat\"},"
        "  \"ht2\": {\"def\": \"ht * 2 + nLeptons\", \"type\": \"flat\", \"remove\": true},"
        "  \"Jet_rel\": {\"def\": \"Jet_pt / ht\", \"cut\": [\"Jet_rel > 0.2\", \"all\"],"
        "              \"remove\": \"True\", \"keys_to_remove\": \"Jet_pt\"},"
        "  \"nj\": {\"def\": \"count(Jet_rel)\", \"cut_1\": \"nj >= 1\", \"cut_2\": \"ht2 < 200\"}"
        "}, \"flat_cut\": {\"nMuon\": {\"remove\": \"true\"}}}";
    preproc *pp = NULL;
    mlhep_err e = {0};
    CHECKF(compile(doc, &pp, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(preproc_nnew(pp), 4);
    CHECK(preproc_new_kind(pp, 2) == EXPR_JAGGED); /* inferred, no "type" */
    CHECK(preproc_new_kind(pp, 3) == EXPR_FLAT);
    CHECK_EQ_INT(preproc_nremoved(pp), 4);
    CHECK(strcmp(preproc_removed(pp, 0), "ht2") == 0 && strcmp(preproc_removed(pp, 1), "Jet_rel") == 0 &&
          strcmp(preproc_removed(pp, 2), "Jet_pt") == 0 && strcmp(preproc_removed(pp, 3), "nMuon") == 0);
    CHECK_EQ_INT(preproc_nneeded(pp), 2); /* nLeptons, Jet_pt */
    CHECK(strcmp(preproc_needed(pp, 0), "nLeptons") == 0 && strcmp(preproc_needed(pp, 1), "Jet_pt") == 0);
    preproc_ws *ws = preproc_ws_new(pp);
    const expr_column *nc;
    uint8_t mask[NE];
    CHECKF(preproc_apply(pp, ws, cols, NCOLS, NE, &nc, mask, &e) == 0, "%s", e.msg);
    /* Jet_pt {[50,20], [], [35,31,10], [5], [100]}, nLeptons {2,1,3,0,2}
     *   ht   = {70, 0, 76, 5, 100}
     *   ht2  = {142, 1, 155, 10, 202}
     *   Jet_rel = {[.714,.286], [], [.46,.408,.132], [1], [1]}
     *   all(Jet_rel > 0.2) -> 1 1 0 1 1;  nj = {2,0,3,1,1} >= 1 -> 1 0 1 1 1;  ht2 < 200 -> 1 1 1 1 0
     *   mask -> 1 0 0 1 0 */
    static const double ht[NE] = {70, 0, 76, 5, 100}, ht2[NE] = {142, 1, 155, 10, 202};
    static const double nj[NE] = {2, 0, 3, 1, 1};
    for (int i = 0; i < NE; i++) {
        CHECK(nc[0].values[i] == ht[i]);
        CHECK(nc[1].values[i] == ht2[i]);
        CHECK(nc[3].values[i] == nj[i]);
    }
    CHECK(nc[2].values[0] == 50.0 / 70 && nc[2].values[3] == 31.0 / 76 && nc[2].values[6] == 1);
    static const uint8_t want[NE] = {1, 0, 0, 1, 0};
    for (int i = 0; i < NE; i++)
        CHECKF(mask[i] == want[i], "event %d: mask %d", i, mask[i]);
    preproc_ws_free(ws);
    preproc_free(pp);

    /* empty document: every event kept, nothing removed or needed */
    CHECK_EQ_INT(compile("{}", &pp, &e), 0);
    ws = preproc_ws_new(pp);
    CHECK_EQ_INT(preproc_apply(pp, ws, cols, NCOLS, NE, &nc, mask, &e), 0);
    for (int i = 0; i < NE; i++)
        CHECK(mask[i] == 1);
    CHECK(preproc_nremoved(pp) == 0 && preproc_nneeded(pp) == 0 && preproc_ncuts(pp) == 0);
    preproc_ws_free(ws);
    preproc_free(pp);
}

TEST(document_order_matters)
{
    preproc *pp = NULL;
    mlhep_err e = {0};
    CHECK_EQ_INT(compile("{\"new_branch\": {\"b\": {\"def\": \"nMuon+1\"}, \"a\": {\"def\": \"b*2\"}}}", &pp, &e), 0);
    CHECK(strcmp(preproc_new_name(pp, 0), "b") == 0);
    preproc_free(pp);
    CHECK_EQ_INT(compile("{\"new_branch\": {\"a\": {\"def\": \"b*2\"}, \"b\": {\"def\": \"nMuon+1\"}}}", &pp, &e),
                 MLHEP_EINVAL);
    CHECKF(strcmp(e.msg, "preproc: new_branch 'a': def: expression 'b*2': column 1: unknown branch 'b'") == 0,
           "%s", e.msg);
}

static void expect(const char *doc, const char *what, int *bad)
{
    preproc *pp = NULL;
    mlhep_err e = {0};
    int rc = compile(doc, &pp, &e);
    if (rc != MLHEP_EINVAL || pp || !strstr(e.msg, what)) {
        printf("  doc %s\n    rc %d msg '%s', want '%s'\n", doc, rc, e.msg, what);
        *bad = 1;
    }
    preproc_free(pp);
}

TEST(document_errors)
{
    int bad = 0;
    expect("{\"new_branch\": {\"ht\": {\"def\": \"sum(Jet_ptt)\", \"type\": \"flat\"}}}",
           "preproc: new_branch 'ht': def: expression 'sum(Jet_ptt)': column 5: unknown branch 'Jet_ptt'", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"Jet_pt*2\", \"type\": \"flat\"}}}",
           "preproc: new_branch 'x': type is \"flat\" but def 'Jet_pt*2' is jagged", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"sum(Jet_pt)\", \"type\": \"jagged\"}}}",
           "type is \"jagged\" but def 'sum(Jet_pt)' is flat", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"type\": \"vector\"}}}",
           "new_branch 'x': type: must be \"flat\" or \"jagged\"", &bad);
    expect("{\"new_branch\": {\"x\": {\"type\": \"flat\"}}}", "new_branch 'x': def: missing", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": 3}}}", "new_branch 'x': def: must be a string", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"cuts\": \"x>1\"}}}",
           "new_branch 'x': unknown key 'cuts'", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"cut_a\": \"x>1\"}}}", "unknown key 'cut_a'", &bad);
    expect("{\"new_branch\": {\"nMuon\": {\"def\": \"nMuon*2\"}}}",
           "new_branch 'nMuon': a branch with that name already exists", &bad);
    expect("{\"new_branch\": {\"2x\": {\"def\": \"nMuon*2\"}}}", "new_branch '2x': not a valid branch name", &bad);
    expect("{\"new_branch\": {\"a b\": {\"def\": \"nMuon*2\"}}}", "not a valid branch name", &bad);
    expect("{\"new_branch\": {\"and\": {\"def\": \"nMuon*2\"}}}", "not a valid branch name", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"remove\": \"maybe\"}}}",
           "new_branch 'x': remove: must be", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"remove\": 1}}}", "remove: must be", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"keys_to_remove\": [\"Foo\"]}}}",
           "new_branch 'x': keys_to_remove: unknown branch 'Foo'", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"keys_to_remove\": [1]}}}",
           "keys_to_remove: must be a list", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"nMuon\", \"cut\": \"x > \"}}}",
           "preproc: new_branch 'x': cut: expression 'x > ': column 5: expected an operand", &bad);
    expect("{\"new_branch\": {\"x\": {\"def\": \"Jet_pt\", \"cut\": \"x > 3\"}}}",
           "new_branch 'x': cut: expression 'x > 3': column 1: the result is jagged", &bad);
    expect("{\"new_branch\": \"x\"}", "preproc: new_branch: must be an object", &bad);
    expect("{\"new_branch\": {\"x\": []}}", "preproc: new_branch 'x': must be an object", &bad);
    expect("{\"flat_cut\": {\"Jet_pt\": {\"cut\": \"Jet_pt > 1\"}}}",
           "preproc: flat_cut 'Jet_pt': the branch is jagged; put its cuts under jagged_cut", &bad);
    expect("{\"jagged_cut\": {\"nMuon\": {\"cut\": [\"nMuon > 1\", \"any\"]}}}",
           "preproc: jagged_cut 'nMuon': the branch is flat; put its cuts under flat_cut", &bad);
    expect("{\"flat_cut\": {\"nMuonn\": {\"cut\": \"nMuonn > 1\"}}}", "preproc: flat_cut 'nMuonn': unknown branch", &bad);
    expect("{\"flat_cut\": {\"nMuon\": {\"cut\": \"Jet_pt > 1\"}}}",
           "preproc: flat_cut 'nMuon': cut: expression 'Jet_pt > 1': column 1: the result is jagged", &bad);
    expect("{\"flat_cut\": {\"nMuon\": {\"cut\": 3}}}", "flat_cut 'nMuon': cut: must be a string", &bad);
    expect("{\"flat_cut\": {\"nMuon\": {}}}", "flat_cut 'nMuon': has neither a cut nor remove", &bad);
    expect("{\"flat_cut\": {\"nMuon\": {\"cut\": \"nMuon>1\", \"remove\": \"no\"}}}", "remove: must be", &bad);
    expect("{\"flat_cut\": {\"nMuon\": {\"cut\": \"nMuon>1\", \"Remove\": \"False\"}}}",
           "flat_cut 'nMuon': unknown key 'Remove'", &bad);
    expect("{\"jagged_cut\": {\"Muon_Pt\": {\"cut_1\": [\"Muon_Pt>1\", \"any\"], \"cut_2\": [\"nMuon > 1\", \"all\"]}}}",
           "preproc: jagged_cut 'Muon_Pt': cut_2: expression 'nMuon > 1': column 1: a jagged cut", &bad);
    expect("{\"jagged_cut\": {\"Muon_Pt\": {\"cut\": [\"Muon_Pt>1\", \"some\"]}}}",
           "jagged_cut 'Muon_Pt': cut: a list cut must be [expression, \"any\"|\"all\"]", &bad);
    expect("{\"jagged_cut\": {\"Muon_Pt\": {\"cut\": [\"Muon_Pt>1\"]}}}", "a list cut must be", &bad);
    expect("{\"jagged_cut\": {\"Muon_Pt\": {\"cut\": [\"Muon_Pt>1\", \"any\", 3]}}}", "a list cut must be", &bad);
    expect("{\"jagged_cut\": {\"Muon_Pt\": {\"cut\": [\"Muon_Pt > Jet_ptt\", \"any\"]}}}",
           "column 11: unknown branch 'Jet_ptt'", &bad);
    expect("{\"cuts\": {}}", "preproc: unknown section 'cuts'", &bad);
    expect("[]", "preproc: the document must be a JSON object", &bad);
    expect("{\"flat_cut\": {", "preproc: JSON error at line 1", &bad);
    expect("{\"flat_cut\": {}, \"flat_cut\": {}}", "duplicate", &bad);
    expect("", "preproc: JSON error", &bad);
    CHECK(!bad);
}

TEST(runtime_errors_name_the_place)
{
    /* Muon_Pt and Jet_pt have different lengths in event 0... (2 vs 2), event 1 (1 vs 0) */
    preproc *pp = NULL;
    mlhep_err e = {0};
    CHECK_EQ_INT(compile("{\"new_branch\": {\"d\": {\"def\": \"Muon_Pt - Jet_pt\", \"type\": \"jagged\"}}}", &pp, &e), 0);
    preproc_ws *ws = preproc_ws_new(pp);
    const expr_column *nc;
    uint8_t mask[NE];
    CHECK_EQ_INT(preproc_apply(pp, ws, cols, NCOLS, NE, &nc, mask, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "preproc: new_branch 'd': expression 'Muon_Pt - Jet_pt': jagged branches "
                         "'Muon_Pt' and 'Jet_pt' have different numbers of elements in event 1 of the chunk (1 vs 0)"),
           "%s", e.msg);
    preproc_ws_free(ws);
    preproc_free(pp);
    /* a workspace made for another document is refused */
    preproc *p2 = NULL;
    CHECK_EQ_INT(compile("{}", &p2, &e), 0);
    CHECK_EQ_INT(compile(upstream_doc, &pp, &e), 0);
    ws = preproc_ws_new(p2);
    CHECK_EQ_INT(preproc_apply(pp, ws, cols, NCOLS, NE, &nc, mask, &e), MLHEP_EINVAL);
    preproc_ws_free(ws);
    preproc_free(pp);
    preproc_free(p2);
}

TEST(limits)
{
    expr_schema *s = schema();
    preproc *pp = NULL;
    mlhep_err e = {0};
    size_t n = PREPROC_MAX_TEXT + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    CHECK_EQ_INT(preproc_compile(big, n, s, &pp, &e), MLHEP_ENOMEM);
    CHECKF(strstr(e.msg, "larger than"), "%s", e.msg);
    /* deep JSON nesting is refused by the JSON parser, not a crash */
    memset(big, '[', 100000);
    CHECK_EQ_INT(preproc_compile(big, 100000, s, &pp, &e), MLHEP_EINVAL);
    /* a def at the expression nesting limit */
    char *doc = malloc(20000), *p = doc;
    p += sprintf(p, "{\"new_branch\": {\"x\": {\"def\": \"");
    for (int i = 0; i < 3000; i++)
        *p++ = '(';
    p += sprintf(p, "nMuon");
    for (int i = 0; i < 3000; i++)
        *p++ = ')';
    p += sprintf(p, "\"}}}");
    CHECK_EQ_INT(preproc_compile(doc, strlen(doc), s, &pp, &e), MLHEP_ENOMEM);
    CHECKF(strstr(e.msg, "preproc: new_branch 'x': def: ") && strstr(e.msg, "nesting deeper"), "%s", e.msg);
    free(doc);
    free(big);
    expr_schema_free(s);
}

int main(void)
{
    RUN(upstream_example);
    RUN(chained_new_branches_and_remove);
    RUN(document_order_matters);
    RUN(document_errors);
    RUN(runtime_errors_name_the_place);
    RUN(limits);
    return test_summary();
}
