/* rootstats.h - per-branch summary statistics of a TTree, as one JSON document.
 *
 * Used by `mlhep-root stats` and the oracle test: for every branch, its kind and dtype
 * and, for numeric branches, count (number of values), sum, min, max and the first 5
 * entries (a list per entry for arrays), with exactly the meanings of
 * the .expected.json files in ../shared/data/root. Branches are streamed in chunks of entries,
 * so memory stays bounded by the chunk whatever the file size. Integer sums are
 * exact (128-bit); float sums are compensated (Neumaier) in long double. */
#ifndef MLHEP_ROOTSTATS_H
#define MLHEP_ROOTSTATS_H

#include <jansson.h>

#include "base/err.h"
#include "root/rootfile.h"
#include "root/ttree.h"

/* Statistics of one tree: {"path","num_entries","branches":[...]}. *out is a new
 * reference (caller json_decref's it). chunk = entries per read (0: default). */
int rootstats_tree(rootfile *f, ttree *t, int64_t chunk, int nthreads, json_t **out, mlhep_err *e);

/* The whole file: {"file", "trees":[...]}; tree_path NULL = every tree. */
int rootstats_file(const char *path, const char *tree_path, int nthreads, json_t **out, mlhep_err *e);

#endif
