/* fuzz_rootfile.c - libFuzzer target for the ROOT reader: the input is a whole ROOT
 * file. Opens it from memory, lists trees, decodes every tree's metadata and reads
 * every numeric branch in chunks. Any crash, hang or sanitizer report is a bug;
 * errors are the expected outcome for most inputs. Seeds: ../shared/data/root. */
#include <stdint.h>
#include <stdlib.h>

#include "root/basket.h"
#include "root/rootfile.h"
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
            ttree_free(t);
        }
        basket_ctx_free(ctx);
        free(trees);
    }
    rootfile_close(f);
    return 0;
}
