/* infer_svc.c - mlhep-submit's shared command plumbing: errors, exit codes, the
 * inference service's connection and one JSON round trip (see infer_svc.h). */
#include "infer_svc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int infer_svc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mlhep-submit: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

int infer_svc_exit(const mlhep_err *e)
{
    switch (e->code) {
    case MLHEP_EAUTH: return INFER_X_AUTH;
    case MLHEP_ENOTFOUND: return INFER_X_NOTFOUND;
    case MLHEP_EINVAL:
    case MLHEP_ENOMEM: /* a size limit: the gateway's 413 */
    case MLHEP_EFORMAT: return INFER_X_INPUT;
    case MLHEP_ENET: return strstr(e->msg, "no reply within") ? INFER_X_NOREPLY : INFER_X_BROKER;
    case MLHEP_EIO: return INFER_X_FILE;
    default: return INFER_X_INTERNAL;
    }
}

int infer_svc_timeout_ms(const infer_svc_opts *o)
{
    return (int)(o->timeout * 1000);
}

int infer_svc_connect(const infer_svc_opts *o, infer_svc *s)
{
    if (s->gw || s->rpc)
        return 0;
    mlhep_err e;
    err_clear(&e);
    if (o->cfg.gateway_url && *o->cfg.gateway_url) {
        if (gwclient_open(&o->cfg, o->token, &s->gw, &e))
            return infer_svc_fail(e.code == MLHEP_EAUTH ? INFER_X_AUTH : INFER_X_CONFIG, "configuration: %s", e.msg);
        gwclient_set_timeout(s->gw, infer_svc_timeout_ms(o));
        return 0;
    }
    if (predict_rpc_open(&o->cfg, o->token, &s->rpc, &e))
        return infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    return 0;
}

void infer_svc_disconnect(infer_svc *s)
{
    gwclient_close(s->gw);
    predict_rpc_close(s->rpc);
    s->gw = NULL;
    s->rpc = NULL;
}

int infer_svc_json(const infer_svc_opts *o, infer_svc *s, const char *type, char *body, char **reply,
                   json_t **doc)
{
    *reply = NULL;
    *doc = NULL;
    if (!body)
        return infer_svc_fail(INFER_X_INTERNAL, "out of memory");
    mlhep_err e;
    err_clear(&e);
    int x = infer_svc_connect(o, s);
    if (!x && s->gw && strcmp(type, "predict"))
        x = infer_svc_fail(INFER_X_INTERNAL, "'%s' requests do not go through the gateway", type);
    else if (!x && (s->gw ? gwclient_predict_json(s->gw, body, strlen(body), reply, doc, &e)
                          : predict_rpc_json(s->rpc, type, body, strlen(body), reply, doc, infer_svc_timeout_ms(o), &e)))
        x = infer_svc_fail(infer_svc_exit(&e), "%s", e.msg);
    free(body);
    return x;
}
