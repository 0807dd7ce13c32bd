/* mlaas4hep.h - MLaaS4HEP's command-line inputs -> an mlhep workflow document.
 *
 * MLaaS4HEP trains with `workflow --files files.txt --labels labels.txt --model model.py
 * --params params.json [--preproc preproc.json]`. mlhep-run and mlhep-submit take the same
 * flags with the same meaning and call mlaas4hep_workflow() to build the workflow a
 * physicist would otherwise write by hand; it is then checked like any other workflow
 * (workflow.h: schema, labels, paths, redirector). The inputs:
 *   files    a text file with one input per line (blank lines and lines starting with
 *            '#' skipped), or a comma-separated list (a single path too). Entries are local
 *            paths (relative ones are relative to the data roots), root:// or http(s)://
 *            URLs, or LFNs /store/... that get params.redirector in front (workflow.h).
 *   labels   a text file with one label per line, in the order of the files (whole
 *            numbers, or class names), a comma-separated list, or a single name: the
 *            branch holding each event's label (a single whole number is a list of one).
 *   model    model.py, a Keras or PyTorch Sequential model read without Python
 *            (model/modelpy.h), or a .json model document (our spec, a gbdt spec or a
 *            Keras model.to_json()).
 *   params   params.json, whose keys become the workflow's "params" unchanged. NULL:
 *            ./params.json when it exists, else every default (MLaaS4HEP's rule).
 *   preproc  preproc.json, MLaaS4HEP's pre-processing document (NULL: none).
 *   name     the workflow's (and job's) name; NULL: the model file's name without its
 *            extension, characters a name may not hold replaced by '_'.
 * Files are read whole, at most WF_MAX_DOC_BYTES each (MODELPY_MAX_BYTES for a model.py).
 * Errors name the flag and the file: "--labels labels.txt: line 3: ..." (MLHEP_ENOTFOUND
 * for a missing file, MLHEP_EINVAL for bad content, MLHEP_EIO for an unreadable one). */
#ifndef MLHEP_MLAAS4HEP_H
#define MLHEP_MLAAS4HEP_H

#include <jansson.h>

#include "base/err.h"

typedef struct mlaas4hep_args {
    const char *files, *labels, *model, *params, *preproc, *name;
} mlaas4hep_args;

/* Builds the workflow document; *doc is a new reference. files, labels and model are
 * required. */
int mlaas4hep_workflow(const mlaas4hep_args *a, json_t **doc, mlhep_err *e);

#endif
