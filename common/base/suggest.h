/* suggest.h - "did you mean": the closest of a set of known names to a word that matched
 * none of them.
 *
 * What it is for: a typo in a workflow key ("early_stoping"), an enum value
 * ("sigmoidd"), a layer type ("dens") or a branch name ("Jet_ptt") is refused with the
 * name the user most likely meant. The JSON Schema validator (unknown properties, enum
 * values), the MLP spec parser and the branch checks of the data layer all call this one
 * rule, so the suggestions are the same everywhere.
 *
 * Rule: the optimal-string-alignment edit distance (insertions, deletions,
 * substitutions and transpositions of adjacent characters, case-insensitive); the
 * candidate with the smallest distance wins (first one on ties) when that distance is at
 * most SUGGEST_MAX_DIST and at most a third of the word's length (rounded up), or when
 * the word is a prefix of it or it is a prefix of the word with at least four characters
 * in common ("class_weights" -> "class_weight"). A name that differs only in case
 * ("Events" -> "events") has distance 0 and wins. Nothing is suggested otherwise. */
#ifndef MLHEP_SUGGEST_H
#define MLHEP_SUGGEST_H

#include <stddef.h>

#define SUGGEST_MAX_DIST 3

/* The best candidate for word among n names (NULL entries skipped), or NULL. The
 * result points into cands. Words or names longer than 256 bytes are not compared. */
const char *suggest_closest(const char *word, const char *const *cands, size_t n);

/* Optimal-string-alignment distance of a and b, case-insensitive; (size_t)-1 when either
 * is longer than 256 bytes. */
size_t suggest_distance(const char *a, const char *b);

#endif
