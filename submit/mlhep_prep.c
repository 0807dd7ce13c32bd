/* mlhep-prep - the data layer on its own: workflow.json in, NumPy files out.
 *
 *   mlhep-prep workflow.json --out DIR [--data-root DIR]... [--specs FILE] [--max-chunks N]
 *              [--format npy,hdf5,csv] [--gzip N]
 *
 * Runs the specs pass (or reuses DIR/specs.json when its fingerprint matches the
 * inputs), then writes every chunk as DIR/chunk_NNNN_{x,mask,y,w,ids,file,entry,split}.npy
 * plus DIR/specs.json and DIR/columns.txt (the name of each row column), so PyTorch or
 * Keras users can train on mlhep's rows directly. --format picks the outputs (default
 * npy): hdf5 appends every chunk to DIR/rows.h5, csv to DIR/rows.csv (data/rowexport.h;
 * --gzip N compresses the HDF5 datasets). With params.hist, DIR/<hist>/ gets one
 * SVG histogram per feature (signal vs background, or one curve per class) and an
 * index.html showing them all. Progress (base/progress.h): a bar with an ETA on a TTY -
 * the specs pass by entries over all files, then the chunks (N/total) - and plain
 * periodic lines otherwise. Exit codes: 0 ok, 1 usage, 2 invalid workflow, 3 data error. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/feathist.h"
#include "data/rowexport.h"
#include "base/jsonschema.h"
#include "base/numarg.h"
#include "base/progress.h"
#include "data/specs.h"
#include "prep_writer.h"
#include "service/workflow.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct prep_bar {
    progress bar;
    progress_files pf;
} prep_bar;

static void specs_bar(void *ctx, size_t file, size_t nfiles, int64_t done, int64_t total)
{
    prep_bar *b = ctx;
    char text[160];
    snprintf(text, sizeof text, "specs: file %zu/%zu, %lld/%lld entries", file + 1, nfiles, (long long)done,
             (long long)total);
    progress_update(&b->bar, progress_files_fraction(&b->pf, file, nfiles, done, total), text, done == total);
}

int main(int argc, char **argv)
{
    const char *wfpath = NULL, *outdir = NULL, *specs_in = NULL;
    const char *roots[32];
    size_t nroots = 0;
    long max_chunks = -1, gzip = 0;
    unsigned formats = ROWEXPORT_NPY;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outdir = argv[++i];
        else if (!strcmp(argv[i], "--data-root") && i + 1 < argc && nroots < 32)
            roots[nroots++] = argv[++i];
        else if (!strcmp(argv[i], "--specs") && i + 1 < argc)
            specs_in = argv[++i];
        else if (!strcmp(argv[i], "--max-chunks") && i + 1 < argc) {
            mlhep_err e;
            if (numarg_long("--max-chunks", argv[++i], 0, LONG_MAX, &max_chunks, &e)) {
                fprintf(stderr, "mlhep-prep: %s\n", e.msg);
                return 1;
            }
        }
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            mlhep_err e;
            if (rowexport_parse_formats(argv[++i], &formats, &e)) {
                fprintf(stderr, "mlhep-prep: %s\n", e.msg);
                return 1;
            }
        } else if (!strcmp(argv[i], "--gzip") && i + 1 < argc) {
            mlhep_err e;
            if (numarg_long("--gzip", argv[++i], 0, 9, &gzip, &e)) {
                fprintf(stderr, "mlhep-prep: %s\n", e.msg);
                return 1;
            }
        }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mlhep-prep workflow.json --out DIR [--data-root DIR]... [--specs FILE] [--max-chunks N]\n"
                   "                  [--format npy,hdf5,csv] [--gzip N]\n"
                   "\n"
                   "The data layer on its own: runs the specs pass, then writes every chunk of training\n"
                   "rows: as NumPy files DIR/chunk_NNNN_{x,mask,y,w,ids,file,entry,split}.npy (npy),\n"
                   "appended to DIR/rows.h5 (hdf5: rows, mask, labels, weights, ids, with the feature\n"
                   "names as attributes; read with h5py) or DIR/rows.csv (csv); always DIR/specs.json\n"
                   "and DIR/columns.txt (the name of each row column); with params.hist also one SVG\n"
                   "histogram per feature and an index.html.\n"
                   "\n"
                   "options:\n"
                   "  --out DIR         the output directory (created if missing)\n"
                   "  --data-root DIR   a directory local input files may come from (repeatable, up\n"
                   "                    to 32; default: the workflow's directory)\n"
                   "  --specs FILE      reuse this specs.json when its fingerprint matches the inputs\n"
                   "                    (default: DIR/specs.json of an earlier run)\n"
                   "  --max-chunks N    stop after N chunks (default: all)\n"
                   "  --format LIST     npy (default), hdf5, csv, or several comma-separated\n"
                   "  --gzip N          HDF5 compression level 0-9 (default 0: none)\n"
                   "  -h, --help        this text\n"
                   "\n"
                   "examples:\n"
                   "  mlhep-prep build/sample/workflow.json --out rows --max-chunks 1\n"
                   "  python3 -c 'import numpy as np; print(np.load(\"rows/chunk_0000_x.npy\").shape)'\n"
                   "  mlhep-prep wf.json --out rows --format npy,hdf5 --gzip 4\n"
                   "\n"
                   "exit codes: 0 ok, 1 usage, 2 invalid workflow (or schemas not found), 3 data error\n");
            return 0;
        } else if (argv[i][0] != '-' && !wfpath)
            wfpath = argv[i];
        else {
            fprintf(stderr, "mlhep-prep: bad argument '%s' (see --help)\n", argv[i]);
            return 1;
        }
    }
    if (!wfpath || !outdir) {
        fprintf(stderr, "usage: mlhep-prep workflow.json --out DIR [--data-root DIR]...\n");
        return 1;
    }
    mlhep_err e;
    char sdir[4096], wfdir[4096];
    if (jschema_find_dir(NULL, sdir, sizeof sdir, &e)) {
        fprintf(stderr, "mlhep-prep: %s\n", e.msg);
        return 2;
    }
    jschema *sch;
    if (jschema_load_named(sdir, "workflow", &sch, &e)) {
        fprintf(stderr, "mlhep-prep: %s\n", e.msg);
        return 2;
    }
    if (nroots == 0) {
        char *rp = realpath(wfpath, NULL);
        snprintf(wfdir, sizeof wfdir, "%s", rp ? rp : ".");
        free(rp);
        char *slash = strrchr(wfdir, '/');
        if (slash && slash != wfdir)
            *slash = 0;
        roots[nroots++] = wfdir;
    }
    wf_opts o = {.schema = sch, .data_roots = roots, .n_data_roots = nroots, .check_local = 1};
    workflow *wf;
    if (workflow_load_file(wfpath, &o, &wf, &e)) {
        fprintf(stderr, "mlhep-prep: %s\n", e.msg);
        jschema_free(sch);
        return 2;
    }
    jschema_free(sch);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mlhep-prep: cannot create %s: %s\n", outdir, strerror(errno));
        workflow_free(wf);
        return 3;
    }
    int rc = 3;
    preproc *pp = NULL;
    specs *sp = NULL;
    dataset *ds = NULL;
    feathist *fh = NULL;
    rowexport *rx = NULL;
    prep_writer *pw = NULL;
    char path[4200];
    prep_bar pb = {0};
    progress_init(&pb.bar, stderr, -1);
    double t0 = now();
    if (specs_preproc(&wf->data, &pp, &e))
        goto fail;
    char fp[65];
    if (specs_fingerprint(&wf->data, fp, &e))
        goto fail;
    snprintf(path, sizeof path, "%s/specs.json", outdir);
    const char *try_specs = specs_in ? specs_in : path;
    if (specs_load(try_specs, fp, &sp, &e) == 0) {
        fprintf(stderr, "specs: reusing %s (inputs unchanged)\n", try_specs);
    } else {
        if (e.code == MLHEP_EINVAL)
            fprintf(stderr, "specs: %s; recomputing\n", e.msg);
        int src = specs_compute(&wf->data, pp, specs_bar, &pb, &sp, &e);
        progress_done(&pb.bar);
        if (src)
            goto fail;
        if (specs_save(sp, path, &e))
            goto fail;
    }
    double t1 = now();
    int64_t entries = 0;
    for (size_t i = 0; i < sp->nfiles; i++)
        entries += sp->entries[i];
    fprintf(stderr, "specs: %zu files, %lld entries, %lld pass the cuts, %zu features, row width %d (%.2f s)\n",
            sp->nfiles, (long long)entries, (long long)sp->total_events, sp->nfeat, sp->width, t1 - t0);
    snprintf(path, sizeof path, "%s/columns.txt", outdir);
    FILE *cf = fopen(path, "w");
    if (!cf) {
        err_set(&e, MLHEP_EIO, "cannot write %s", path);
        goto fail;
    }
    for (int k = 0; k < sp->width; k++) {
        char nm[512];
        dataset_column_name(sp, k, nm, sizeof nm);
        fprintf(cf, "%s\n", nm);
    }
    fclose(cf);
    if (dataset_open(&wf->data, pp, sp, &ds, &e))
        goto fail;
    if (wf->params.hist && feathist_new(&wf->data, sp, &fh, &e))
        goto fail;
    if (formats & (ROWEXPORT_HDF5 | ROWEXPORT_CSV)) {
        char h5path[4200], csvpath[4200];
        snprintf(h5path, sizeof h5path, "%s/rows.h5", outdir);
        snprintf(csvpath, sizeof csvpath, "%s/rows.csv", outdir);
        rowexport_opts xo = {.hdf5_path = (formats & ROWEXPORT_HDF5) ? h5path : NULL,
                             .csv_path = (formats & ROWEXPORT_CSV) ? csvpath : NULL, .gzip = (int)gzip};
        if (rowexport_open(&xo, &wf->data, sp, &rx, &e))
            goto fail;
    }
    ds_chunk c;
    long nchunk = 0;
    int64_t rows = 0;
    int got;
    /* the chunks' bar: a fresh clock for its ETA */
    progress_init(&pb.bar, stderr, -1);
    int64_t tot_chunks = dataset_chunks(ds), tot_rows = dataset_rows(ds);
    if (max_chunks >= 0 && tot_chunks > max_chunks) {
        tot_chunks = max_chunks;
        tot_rows = -1; /* not known before the chunks are made */
    }
    /* the writer thread writes chunk k while the data layer builds chunk k + 1 */
    if (prep_writer_start(outdir, (formats & ROWEXPORT_NPY) != 0, rx, fh, &pw, &e))
        goto fail;
    while ((max_chunks < 0 || nchunk < max_chunks) && (got = dataset_next(ds, &c, &e)) == 1) {
        if (prep_writer_put(pw, &c, nchunk, &e))
            goto fail;
        dataset_keep(ds);
        rows += (int64_t)c.nrows;
        nchunk++;
        char text[160];
        snprintf(text, sizeof text, "chunks: %ld/%lld (%lld rows)", nchunk, (long long)tot_chunks, (long long)rows);
        double f = tot_rows > 0 ? (double)rows / (double)tot_rows
                   : tot_chunks > 0 ? (double)nchunk / (double)tot_chunks : 1;
        progress_update(&pb.bar, f, text, nchunk == tot_chunks);
    }
    progress_done(&pb.bar);
    if (got < 0)
        goto fail;
    int wrc = prep_writer_finish(pw, &e);
    pw = NULL;
    if (wrc)
        goto fail;
    if (rx) {
        int xrc = rowexport_close(rx, &e);
        rx = NULL;
        if (xrc)
            goto fail;
    }
    double t2 = now();
    fprintf(stderr, "wrote %ld chunks, %lld rows x %d to %s (%.2f s, %.0f events/s)\n", nchunk, (long long)rows,
            sp->width, outdir, t2 - t1, rows / (t2 - t1 > 0 ? t2 - t1 : 1));
    if (fh) {
        size_t nplots;
        snprintf(path, sizeof path, "%s/%s", outdir, wf->params.hist);
        if (feathist_write(fh, path, &nplots, &e))
            goto fail;
        fprintf(stderr, "hist: %zu feature histograms in %s (open %s/index.html)\n", nplots, path, path);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "mlhep-prep: %s\n", e.msg);
done:
    if (pw) {
        mlhep_err we;
        prep_writer_finish(pw, &we); /* the error that stopped the run is already printed */
    }
    rowexport_abort(rx);
    feathist_free(fh);
    dataset_free(ds);
    specs_free(sp);
    preproc_free(pp);
    workflow_free(wf);
    return rc;
}
