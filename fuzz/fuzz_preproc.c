/* fuzz_preproc.c - libFuzzer target for the preproc.json compiler (common/data/preproc.c).
 *
 * Input: the JSON document. It is compiled against a fixed schema (flat nMuon,
 * nLeptons; jagged Energy and Muon_Pt with their own lengths, Jet_pt with Energy's
 * offsets); whatever compiles is applied to a small chunk built from a hash of the
 * input, and the outputs (mask, new columns, removed/needed lists) are checked and
 * read in full. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/preproc.h"

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double value(uint64_t *s)
{
    uint64_t r = mix(s);
    if (r % 13 == 0)
        return __builtin_nan("");
    if (r % 13 == 1)
        return 0;
    return ((double)(r >> 11) / 9007199254740992.0 - 0.2) * 600.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "nMuon", EXPR_FLAT, NULL);
    expr_schema_add(s, "nLeptons", EXPR_FLAT, NULL);
    expr_schema_add(s, "Energy", EXPR_JAGGED, NULL);
    expr_schema_add(s, "Muon_Pt", EXPR_JAGGED, NULL);
    expr_schema_add(s, "Jet_pt", EXPR_JAGGED, NULL);
    preproc *pp = NULL;
    mlhep_err e = {0};
    int rc = preproc_compile((const char *)data, size, s, &pp, &e);
    if (rc != 0) {
        if (pp || e.msg[0] == '\0')
            __builtin_trap();
        expr_schema_free(s);
        return 0;
    }
    for (size_t i = 0; i < preproc_nremoved(pp); i++)
        if (expr_schema_find(preproc_schema(pp), preproc_removed(pp, i), strlen(preproc_removed(pp, i))) < 0)
            __builtin_trap();
    for (size_t i = 0; i < preproc_nneeded(pp); i++)
        if (expr_schema_find(s, preproc_needed(pp, i), strlen(preproc_needed(pp, i))) < 0)
            __builtin_trap();
    uint64_t seed = size;
    for (size_t i = 0; i < size; i++)
        seed = seed * 131 + data[i];
    size_t n = (size_t)(mix(&seed) % 12);
    int64_t eo[13], mo[13];
    eo[0] = mo[0] = 0;
    for (size_t i = 0; i < n; i++) {
        eo[i + 1] = eo[i] + (int64_t)(mix(&seed) % 4);
        mo[i + 1] = mo[i] + (int64_t)(mix(&seed) % 3);
    }
    double nm[12], nl[12], ev[48], mv[48], jv[48];
    for (size_t i = 0; i < n; i++) {
        nm[i] = (double)(mix(&seed) % 6);
        nl[i] = (double)(mix(&seed) % 5);
    }
    for (int64_t i = 0; i < eo[n]; i++) {
        ev[i] = value(&seed);
        jv[i] = value(&seed);
    }
    for (int64_t i = 0; i < mo[n]; i++)
        mv[i] = value(&seed);
    expr_column c[5] = {
        {"nMuon", EXPR_FLAT, NULL, nm},     {"nLeptons", EXPR_FLAT, NULL, nl},
        {"Energy", EXPR_JAGGED, eo, ev},    {"Muon_Pt", EXPR_JAGGED, mo, mv},
        {"Jet_pt", EXPR_JAGGED, eo, jv},
    };
    preproc_ws *ws = preproc_ws_new(pp);
    const expr_column *nc = NULL;
    uint8_t mask[12];
    for (int pass = 0; pass < 2; pass++) {
        if (preproc_apply(pp, ws, c, 5, n, &nc, mask, &e) != 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (mask[i] > 1)
                __builtin_trap();
        volatile double sink = 0;
        for (size_t k = 0; k < preproc_nnew(pp); k++) {
            if (nc[k].kind != preproc_new_kind(pp, k) || strcmp(nc[k].name, preproc_new_name(pp, k)))
                __builtin_trap();
            size_t total = nc[k].kind == EXPR_JAGGED ? (size_t)nc[k].offsets[n] : n;
            for (size_t i = 0; i < total; i++)
                sink += nc[k].values[i];
        }
        (void)sink;
    }
    preproc_ws_free(ws);
    preproc_free(pp);
    expr_schema_free(s);
    return 0;
}
