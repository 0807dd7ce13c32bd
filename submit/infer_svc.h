/* infer_svc.h - what mlhep-submit's inference commands (`predict`, `models`) and its
 * job commands share: the parsed options, the exit codes, the error printing, and the
 * inference service as a command reaches it (program code, linked from
 * build/libmlhep-cli.a; the dispatch of the command words is infer_cmd.h's, above it).
 *
 * The service is reached through mlhep-gateway over HTTPS when gateway_url is set
 * (users: gateway/gwclient.h), else over the broker (operators inside the cluster:
 * infer/predict_rpc.h); infer_svc is that choice.
 *
 * Options shared with the rest of mlhep-submit: --config FILE, --token-file FILE,
 * --json, --timeout SEC (reply wait, default 60). Numbers go through base/numarg.h.
 *
 * Exit codes (as mlhep-submit's): 0 ok, 1 internal error, 2 usage, 3 configuration,
 * 4 token refused / model forbidden, 5 bad input (bad request, unknown branch, too
 * large), 6 broker or gateway, 8 unknown model, 12 file error (ROOT input/output),
 * 16 no reply from the service in time (not 14: that is watch's --timeout). */
#ifndef MLHEP_INFER_SVC_H
#define MLHEP_INFER_SVC_H

#include <jansson.h>

#include "base/err.h"
#include "gateway/gwclient.h"
#include "infer/predict_rpc.h"
#include "service/config.h"

enum {
    INFER_X_OK = 0,
    INFER_X_INTERNAL = 1,
    INFER_X_USAGE = 2,
    INFER_X_CONFIG = 3,
    INFER_X_AUTH = 4,
    INFER_X_INPUT = 5,
    INFER_X_BROKER = 6,
    INFER_X_NOTFOUND = 8,
    INFER_X_FILE = 12,
    INFER_X_NOREPLY = 16, /* no reply in time (14 is mlhep-submit watch's --timeout) */
};

/* The parsed command line (both commands' options) and what it loaded. */
typedef struct infer_svc_opts {
    const char *config, *tokfile, *model, *root, *tree, *out, *branch;
    int json, local, shared, wire_json, help, full;
    long batch, window; /* 0: treescore's defaults */
    double timeout;     /* seconds */
    mlhep_config cfg;
    char *token;
} infer_svc_opts;

/* Prints "mlhep-submit: MESSAGE" on stderr; returns code. */
int infer_svc_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for an error of the library (predict_rpc.h, predict.h, ...). */
int infer_svc_exit(const mlhep_err *e);

/* The inference service as the command reaches it: one of the two is set once
 * connected. */
typedef struct infer_svc {
    gwclient *gw;     /* gateway_url set */
    predict_rpc *rpc; /* the broker */
} infer_svc;

/* Connects s (zeroed by the caller) unless it is connected: 0 or the exit code, the
 * message printed. */
int infer_svc_connect(const infer_svc_opts *o, infer_svc *s);
void infer_svc_disconnect(infer_svc *s);

/* One JSON round trip on the service (connected first if need be): body (taken: freed
 * here; NULL means it could not be built) as a request of type `type` ("predict"; over
 * the broker also "models"). 0 with *reply (the text, caller frees) and *doc (caller
 * decrefs); else the exit code, the message printed. */
int infer_svc_json(const infer_svc_opts *o, infer_svc *s, const char *type, char *body, char **reply,
                   json_t **doc);

/* The reply wait in milliseconds. */
int infer_svc_timeout_ms(const infer_svc_opts *o);

#endif
