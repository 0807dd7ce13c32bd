/* treescore.h - score every entry of a ROOT tree with a model and write the scores as a
 * friend tree (`mlhep-submit predict --root`, and any analysis tool that wants scores
 * beside its events).
 *
 * The model's input branches are read batch by batch (basket_read_many, the file's own
 * types) and each batch is scored either in this process (treescore_local:
 * featmap_rows + predict_rows) or by the inference service (treescore_remote: one
 * columnar request per batch over predict_rpc.h, binary (colreq.h) or the JSON "columns"
 * form, with up to `window` requests in flight; treescore_remote_via: the same requests
 * over another transport, such as the gateway's HTTPS client, gateway/gwclient.h).
 * Replies from several workers arrive in
 * any order, and a request redelivered after a worker died may be answered twice:
 * batches are matched by sequence number and written strictly in order, so entry i of
 * the output is the score of input entry i. The output file holds one tree with the
 * input tree's path and one branch NAME/F (NAME[k]/F for k class probabilities): ROOT's
 * friend-tree convention (TTree::AddFriend).
 *
 * Memory: one batch of columns, plus `window` batches of scores (and, remote, one request
 * buffer); nothing is allocated per entry. Nothing is printed.
 *
 * Errors (mlhep_err): the model's branches missing from the tree, or flat in one and
 * arrays in the other, MLHEP_EINVAL; the predictor's and the service's errors as they
 * come (predict.h, predict_rpc.h); r->failed tells the input or output file apart
 * (TREESCORE_FAILED_FILE, whatever the code) and a refused branch name
 * (TREESCORE_FAILED_BRANCH). On error the output file is left incomplete (rootw_abort). */
#ifndef MLHEP_TREESCORE_H
#define MLHEP_TREESCORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "infer/colreq.h"
#include "infer/predict.h"
#include "infer/predict_rpc.h"

#define TREESCORE_BATCH_DEFAULT 10000    /* entries per batch */
#define TREESCORE_BATCH_MAX 10000000
#define TREESCORE_WINDOW_DEFAULT 4       /* requests in flight */
#define TREESCORE_WINDOW_MAX 1024
#define TREESCORE_TIMEOUT_MS_DEFAULT 60000

typedef struct treescore_opts {
    const char *input;  /* ROOT file: a path or URL (rootfile.h) */
    const char *tree;   /* the tree's path in input; the output tree gets the same path */
    const char *output; /* the scores file (created or replaced) */
    const char *branch; /* the score branch's name; NULL: "score" */
    long batch;         /* entries per batch, 1..TREESCORE_BATCH_MAX; 0: the default */
    long window;        /* remote: requests in flight, 1..TREESCORE_WINDOW_MAX; 0: the default */
    int wire_json;      /* remote: JSON "columns" requests instead of binary ones */
    int timeout_ms;     /* remote: longest wait for each reply; 0: the default */
} treescore_opts;

enum { TREESCORE_FAILED_FILE = 1, TREESCORE_FAILED_BRANCH = 2 };

typedef struct treescore_result {
    int64_t entries;                  /* entries scored and written */
    size_t outputs;                   /* values per entry (1, or k classes) */
    char model[COLREQ_MAX_MODEL + 1]; /* remote: the model the service named ("ttH@2"); local: "" */
    char spec[300];                   /* the branch written: "score/F", "score[3]/F" */
    int failed;                       /* on error: TREESCORE_FAILED_*, or 0 */
} treescore_result;

/* Scores with a model loaded in this process (pm stays the caller's). */
int treescore_local(predict_model *pm, const treescore_opts *o, treescore_result *r, mlhep_err *e);

/* Scores through the service: asks it what `model` needs (predict_rpc_features), then
 * sends the batches over c (the caller's connection). */
int treescore_remote(predict_rpc *c, const char *model, const treescore_opts *o, treescore_result *r,
                     mlhep_err *e);

/* How the batches of treescore_remote_via travel: any carrier of the service's requests
 * and replies (the broker: treescore_remote; HTTPS through the gateway: gwclient.h's
 * gwclient_treescore). Replies may come in any order; seq matches them to requests. */
typedef struct treescore_transport {
    void *cls;
    /* what model needs, as predict_rpc_features answers */
    int (*features)(void *cls, const char *model, predict_rpc_model *m, int timeout_ms, mlhep_err *e);
    /* sends one request: a binary columnar request (binary != 0) or a JSON "columns"
     * document; body is the caller's (copy it if it must outlive the call) */
    int (*send)(void *cls, int binary, const void *body, size_t len, uint64_t *seq, mlhep_err *e);
    /* the next reply (*reply malloc'ed), as predict_rpc_recv gives it */
    int (*recv)(void *cls, uint64_t *seq, char **reply, size_t *len, int timeout_ms, mlhep_err *e);
} treescore_transport;

/* treescore_remote over transport t. */
int treescore_remote_via(const treescore_transport *t, const char *model, const treescore_opts *o,
                         treescore_result *r, mlhep_err *e);

#endif
