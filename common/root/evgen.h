/* evgen.h - synthetic HEP-like events for benchmarks and tests, written as ROOT files.
 *
 * Events are shaped like the MLaaS4HEP ttH(bb) benchmark (semileptonic ttH, H->bb
 * signal against tt+bb background): preset "tth" has 22 flat branches (run, event,
 * luminosityBlock, the multiplicities nJet/nElectron/nMuon/nGenPart/nBJet/nLepton,
 * MET, HT, ST, pile-up, trigger bits, ...) and 52 jagged branches in NanoAOD's
 * leaf-list convention (Jet_* [nJet], Electron_* [nElectron], Muon_* [nMuon],
 * GenPart_* [nGenPart]). Floats carry NanoAOD-like reduced mantissas, so files are
 * about 350 bytes per event with zlib:1. Signal has more jets, more b-tags and harder
 * kinematics than background, with overlapping distributions (a reasonable classifier
 * reaches ROC AUC ~0.8-0.9, not 1). Preset "nanoaod" adds NanoAOD-like collections
 * (Tau, Photon, FatJet, SubJet, SV, TrigObj) and HLT_/Flag_ bits: 185 branches.
 *
 * Deterministic: every event draws from its own random stream seeded by (seed, class,
 * event number), so the bytes depend only on the options, not on chunking.
 * Built on rootwrite.h. Ownership: evgen_new() allocates, evgen_free() releases; the
 * column pointers evgen_fill() returns point into the generator's buffers and stay
 * valid until the next evgen_fill() or evgen_free(). */
#ifndef MLHEP_EVGEN_H
#define MLHEP_EVGEN_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "root/rootwrite.h"

typedef struct evgen_opts {
    int64_t events;          /* number of events (> 0) */
    int signal;              /* 1 signal, 0 background */
    const char *out;         /* output file path */
    uint64_t seed;           /* default 0 is a valid seed */
    const char *compression; /* NULL = "zlib:1" */
    const char *preset;      /* "tth" (NULL = this) or "nanoaod" */
    const char *tree;        /* NULL = "Events" (may be "dir/name") */
    int64_t cluster_entries; /* <= 0: 10000 */
    size_t basket_bytes;     /* 0: rootwrite's default */
    FILE *progress;          /* progress lines go here; NULL = silent */
} evgen_opts;

/* Writes opts->events events to opts->out (the `mlhep-root gen` command line over it
 * is submit/gen_cmd.c). */
int evgen_write(const evgen_opts *opts, mlhep_err *e);

/* ---- lower level: columns without a file (tests, benchmarks) ---- */
typedef struct evgen evgen;

int evgen_new(const char *preset, int signal, uint64_t seed, evgen **out, mlhep_err *e);
void evgen_free(evgen *g);
int evgen_nbranches(const evgen *g);
const char *evgen_branch_spec(const evgen *g, int i); /* "Jet_pt[nJet]/F" */
int evgen_branch_index(const evgen *g, const char *name); /* -1 if absent */
/* Generates events [first, first+n) into the generator's buffers and points cols[i]
 * (evgen_nbranches entries) at them. */
int evgen_fill(evgen *g, int64_t first, int64_t n, rootw_col *cols, mlhep_err *e);

#endif
