/* fuzz_workflow.c - fuzzes the workflow loader (common/service/workflow.c) and, through it and
 * the other schemas, the JSON Schema validator (common/base/jsonschema.c).
 *
 * Each input is loaded as a workflow (schema from schemas/, data root = a temporary
 * directory holding a.root and b.root, real file-system checks on) and validated as a
 * job status record and a prediction request/response. Inputs without "pattern" are
 * also loaded as a schema and validated against themselves (patterns are skipped
 * because our schemas are trusted input and glibc regcomp has known blow-ups).
 * Invariant: an accepted workflow never has a local file outside the data root.
 * Corpus: fuzz/corpus/workflow (plus schemas/examples/workflow via `make fuzz`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonschema.h"
#include "service/workflow.h"

static jschema *wf_schema, *other[3];
static char root[64] = "/tmp/mlhep-fuzz-wf.XXXXXX";
static char root_real[4096];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/a.root", root);
    unlink(p);
    snprintf(p, sizeof p, "%s/b.root", root);
    unlink(p);
    rmdir(root);
}

static void init(void)
{
    mlhep_err e;
    if (jschema_load_named(NULL, "workflow", &wf_schema, &e) != 0 ||
        jschema_load_named(NULL, "job-status", &other[0], &e) != 0 ||
        jschema_load_named(NULL, "predict-request", &other[1], &e) != 0 ||
        jschema_load_named(NULL, "predict-response", &other[2], &e) != 0) {
        fprintf(stderr, "fuzz_workflow: %s\n", e.msg);
        abort();
    }
    if (!mkdtemp(root) || !realpath(root, root_real))
        abort();
    atexit(cleanup);
    const char *names[] = {"a.root", "b.root"};
    for (int i = 0; i < 2; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        FILE *f = fopen(p, "w");
        if (f)
            fclose(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!wf_schema)
        init();
    if (size > 200000)
        return 0;
    const char *roots[] = {root};
    wf_opts o = {.schema = wf_schema, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
    workflow *w = NULL;
    mlhep_err e;
    if (workflow_load_buffer((const char *)data, size, &o, &w, &e) == 0) {
        size_t rl = strlen(root_real);
        for (size_t i = 0; i < w->nfiles; i++)
            if (w->files[i].kind == WF_LOCAL &&
                (strncmp(w->files[i].path, root_real, rl) != 0 || w->files[i].path[rl] != '/'))
                abort();
        workflow_free(w);
    }
    /* lexical mode too */
    o.check_local = 0;
    if (workflow_load_buffer((const char *)data, size, &o, &w, &e) == 0)
        workflow_free(w);

    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!doc)
        return 0;
    for (int i = 0; i < 3; i++)
        jschema_validate(other[i], doc, "x", &e);
    if (!memmem(data, size, "pattern", 7)) {
        jschema *s = NULL;
        if (jschema_load_json(doc, "fuzz", &s, &e) == 0) {
            jschema_validate(s, doc, "self", &e);
            jschema_free(s);
        }
    }
    json_decref(doc);
    return 0;
}
