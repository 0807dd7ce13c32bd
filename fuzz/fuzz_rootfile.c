/* fuzz_rootfile.c - libFuzzer target for the ROOT reader: the input is a whole ROOT
 * file. Opens it from memory, lists trees, decodes every tree's metadata and reads
 * every numeric branch in chunks, then runs the statistics of `mlhep-root stats` over
 * small trees (branches holding fewer entries than the tree, nested lists) and the
 * RNTuple listing. Any crash, hang or sanitizer report is a bug; errors are the
 * expected outcome for most inputs. Seeds: fuzz/seeds-rootfile.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "root/basket.h"
#include "root/rootfile.h"
#include "root/rootstats.h"
#include "root/ttree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlhep_err e;
    source *s;
    if (source_open_memory(data, size, "fuzz.root", &s, &e))
        return 0;
    rootfile *f;
    if (rootfile_open_source(s, &f, &e))
        return 0;
    rootfile_tree *trees;
    size_t nt;
    if (rootfile_list_trees(f, &trees, &nt, &e) == 0) {
        basket_ctx *ctx = basket_ctx_new();
        for (size_t i = 0; i < nt && i < 8; i++) {
            ttree *t;
            if (ttree_open_key(f, &trees[i].key, trees[i].path, &t, &e))
                continue;
            column c;
            column_init(&c);
            for (int j = 0; j < t->nbranches && j < 64; j++) {
                const tbranch *b = t->branches[j];
                int64_t n = b->entries < 5000 ? b->entries : 5000;
                for (int64_t a = 0; a < n; a += 1000)
                    if (basket_read(f, b, a, a + 1000 < n ? a + 1000 : n, &c, ctx, &e))
                        break;
            }
            column_free(&c);
            json_t *st;
            if (t->entries <= 20000 && rootstats_tree(f, t, 1000, 1, &st, &e) == 0)
                json_decref(st);
            ttree_free(t);
        }
        basket_ctx_free(ctx);
        free(trees);
    }
    char rnt[200];
    rootfile_rntuples(f, rnt, sizeof rnt, &e);
    rootfile_close(f);
    return 0;
}
