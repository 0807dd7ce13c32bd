/* fuzz_mlaas4hep.c - fuzzes the MLaaS4HEP inputs -> workflow builder (service/mlaas4hep.h):
 * the files.txt and labels.txt list readers, comma lists, label numbers/names/branch, the
 * params.json and preproc.json loaders and the model file (model.py or .json), then loads
 * what was built as a workflow (workflow.h, schema from schemas/).
 *
 * Input layout: one mode byte, then up to five parts separated by "\n%%\n": files, labels,
 * params, model, preproc. Mode bits: 1 = files given as a comma-list argument (the text
 * itself) instead of a file, 2 = labels likewise, 4 = no --params, 8 = the model is .json
 * (else model.py), 16 = a --preproc file (part 5). Parts are written to files in a
 * temporary directory that also holds a.root and b.root (the data root).
 * Properties: a failure leaves no document and says why; a success gives an object with a
 * name, a non-empty "files" array of strings and a "model" object; a workflow loaded from
 * it never has a local file outside the data root. Violations abort.
 * Seeds: fuzz/corpus/mlaas4hep. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonschema.h"
#include "service/mlaas4hep.h"
#include "service/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jschema *wf_schema;
static char root[64] = "/tmp/mlhep-fuzz-m4h.XXXXXX";
static char root_real[4096];
static const char *const part_names[] = {"files.txt", "labels.txt", "params.json", "model.py", "preproc.json",
                                         "model.json", "a.root", "b.root"};

static void path_of(char *p, size_t n, const char *name)
{
    snprintf(p, n, "%s/%s", root, name);
}

static void cleanup(void)
{
    char p[128];
    for (size_t i = 0; i < sizeof part_names / sizeof *part_names; i++) {
        path_of(p, sizeof p, part_names[i]);
        unlink(p);
    }
    rmdir(root);
}

static void put(const char *name, const uint8_t *b, size_t n)
{
    char p[128];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    if (n && fwrite(b, 1, n, f) != n)
        abort();
    fclose(f);
}

static void init(void)
{
    mlhep_err e;
    if (jschema_load_named(NULL, "workflow", &wf_schema, &e) != 0) {
        fprintf(stderr, "fuzz_mlaas4hep: %s\n", e.msg);
        abort();
    }
    if (!mkdtemp(root) || !realpath(root, root_real))
        abort();
    atexit(cleanup);
    put("a.root", NULL, 0);
    put("b.root", NULL, 0);
}

/* A NUL-terminated copy of a part (for the comma-list argument forms). */
static char *text_of(const uint8_t *b, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!wf_schema)
        init();
    if (size < 1 || size > 100000)
        return 0;
    unsigned mode = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *part[5] = {0};
    size_t plen[5] = {0};
    for (int i = 0; i < 5; i++) {
        part[i] = p;
        const uint8_t *s = memmem(p, (size_t)(end - p), "\n%%\n", 4);
        plen[i] = (size_t)((s ? s : end) - p);
        p = s ? s + 4 : end;
    }
    char files_p[128], labels_p[128], params_p[128], model_p[128], preproc_p[128];
    char *files_arg = NULL, *labels_arg = NULL;
    mlaas4hep_args a = {.name = NULL};
    if (mode & 1) {
        a.files = files_arg = text_of(part[0], plen[0]);
    } else {
        put("files.txt", part[0], plen[0]);
        path_of(files_p, sizeof files_p, "files.txt");
        a.files = files_p;
    }
    if (mode & 2) {
        a.labels = labels_arg = text_of(part[1], plen[1]);
    } else {
        put("labels.txt", part[1], plen[1]);
        path_of(labels_p, sizeof labels_p, "labels.txt");
        a.labels = labels_p;
    }
    if (!(mode & 4)) {
        put("params.json", part[2], plen[2]);
        path_of(params_p, sizeof params_p, "params.json");
        a.params = params_p;
    }
    const char *mname = (mode & 8) ? "model.json" : "model.py";
    put(mname, part[3], plen[3]);
    path_of(model_p, sizeof model_p, mname);
    a.model = model_p;
    if (mode & 16) {
        put("preproc.json", part[4], plen[4]);
        path_of(preproc_p, sizeof preproc_p, "preproc.json");
        a.preproc = preproc_p;
    }

    json_t *doc = NULL;
    mlhep_err e;
    e.msg[0] = '\0';
    if (mlaas4hep_workflow(&a, &doc, &e) != 0) {
        if (doc || !e.msg[0])
            abort(); /* a failure leaves no document and says why */
    } else {
        const json_t *files = json_object_get(doc, "files");
        if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "name")) || !json_is_array(files) ||
            !json_array_size(files) || !json_is_object(json_object_get(doc, "model")))
            abort();
        for (size_t i = 0; i < json_array_size(files); i++)
            if (!json_is_string(json_array_get(files, i)))
                abort();
        const char *roots[] = {root};
        wf_opts o = {.schema = wf_schema, .data_roots = roots, .n_data_roots = 1, .check_local = 1};
        workflow *w = NULL;
        if (workflow_load_json(doc, &o, &w, &e) == 0) {
            size_t rl = strlen(root_real);
            for (size_t i = 0; i < w->nfiles; i++)
                if (w->files[i].kind == WF_LOCAL &&
                    (strncmp(w->files[i].path, root_real, rl) != 0 || w->files[i].path[rl] != '/'))
                    abort();
            workflow_free(w);
        } else if (!e.msg[0]) {
            abort();
        }
        json_decref(doc);
    }
    free(files_arg);
    free(labels_arg);
    return 0;
}
