/* source_open.c - see source_open.h. */
#include "root/source_open.h"

#include <stdlib.h>
#include <string.h>

#include "root/source_http.h"
#include "root/source_xrootd.h"

/* the process's access, installed once at program start (source_open.h) */
static const srcaccess *g_access;

void source_set_access(const srcaccess *a)
{
    g_access = a;
}

const srcaccess *source_access(void)
{
    return g_access;
}

static const struct backend {
    const char *scheme; /* the URL's start, "://" included */
    int (*open)(const char *url, const srcaccess *acc, source **out, mlhep_err *e);
} backends[] = {
    {"root://", source_open_xrootd}, {"roots://", source_open_xrootd}, {"xroot://", source_open_xrootd},
    {"http://", source_open_http},   {"https://", source_open_http},
};

int source_open(const char *p, source **out, mlhep_err *e)
{
    return source_open_with(p, NULL, out, e);
}

int source_open_with(const char *p, const srcaccess *acc, source **out, mlhep_err *e)
{
    *out = NULL;
    if (strncmp(p, "file://", 7) == 0)
        return source_open_local(p + 7, out, e);
    srcaccess env;
    hostpolicy *fwd = NULL;
    if (!acc)
        acc = g_access;
    if (!acc) { /* a program without a configuration: the environment's, at each open */
        srcaccess_from_env(&env);
        const char *f = getenv("MLHEP_REMOTE_TOKEN_FORWARD");
        if (f && *f) {
            int rc = hostpolicy_parse(f, &fwd, e);
            if (rc)
                return err_prefix(e, "MLHEP_REMOTE_TOKEN_FORWARD");
            env.token_hosts = fwd;
        }
        acc = &env;
    }
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strncmp(p, backends[i].scheme, strlen(backends[i].scheme)) != 0)
            continue;
        int rc = backends[i].open(p, acc, out, e);
        hostpolicy_free(fwd); /* used by the open only */
        if (rc == 0 && (rc = source_load_edges(*out, e)) != 0) {
            source_close(*out);
            *out = NULL;
        }
        return rc;
    }
    hostpolicy_free(fwd);
    if (strstr(p, "://"))
        return err_set(e, MLHEP_EUNSUPPORTED, "unknown URL scheme");
    return source_open_local(p, out, e);
}
