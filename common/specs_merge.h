/* specs_merge.h - combines specs computed per file (or per group of files) into the specs
 * of the whole workflow, as if specs_compute had streamed every file in one pass.
 *
 * It is the reduce step of the fanned-out specs pass (README.md ("Operating mlhep"), "Large jobs"): each
 * worker runs specs_compute over a workflow restricted to its part of the files, and the
 * coordinator merges the parts in file order. Per feature:
 *   min = min of the mins, max = max of the maxes, count = sum of the counts;
 *   mean and std (population) combined exactly from (count, mean, M2 = std^2 * count)
 *     with Chan et al.'s pairwise update, so no sums of squares are needed;
 *   jagged: length histograms added bin by bin, max_len = max, and the padded length
 *     chosen again from the merged histogram with specs_compute's rule (the user's cap
 *     if given, else the smallest length holding 99.5% of events, at most max_len and at
 *     most SPECS_MAX_JAGGED_DEFAULT);
 *   files, entries and events are concatenated; the fingerprint is the whole workflow's.
 * The parts must come from the same plan (same features, branches read and identifiers,
 * in the same order): anything else is refused with the first difference named.
 *
 * Ownership: *out is a new specs freed with specs_free; the parts are only read. */
#ifndef MLHEP_SPECS_MERGE_H
#define MLHEP_SPECS_MERGE_H

#include <stddef.h>

#include "err.h"
#include "specs.h"
#include "workflow.h"

/* wf: the whole workflow (for the fingerprint and the jagged-length caps). */
int specs_merge(const workflow *wf, specs *const *parts, size_t nparts, specs **out, mlhep_err *e);

#endif
