/* source_open.c - see source_open.h. */
#include "root/source_open.h"

#include <string.h>

#include "root/source_http.h"
#include "root/source_xrootd.h"

/* data_hosts, installed once at program start (source_open.h) */
static const hostpolicy *g_hosts;

void source_set_hostpolicy(const hostpolicy *p)
{
    g_hosts = p;
}

static const struct backend {
    const char *scheme; /* the URL's start, "://" included */
    int (*open)(const char *url, const hostpolicy *hosts, source **out, mlhep_err *e);
} backends[] = {
    {"root://", source_open_xrootd}, {"roots://", source_open_xrootd}, {"xroot://", source_open_xrootd},
    {"http://", source_open_http},   {"https://", source_open_http},
};

int source_open(const char *p, source **out, mlhep_err *e)
{
    *out = NULL;
    if (strncmp(p, "file://", 7) == 0)
        return source_open_local(p + 7, out, e);
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strncmp(p, backends[i].scheme, strlen(backends[i].scheme)) != 0)
            continue;
        int rc = backends[i].open(p, g_hosts, out, e);
        if (rc == 0 && (rc = source_load_edges(*out, e)) != 0) {
            source_close(*out);
            *out = NULL;
        }
        return rc;
    }
    if (strstr(p, "://"))
        return err_set(e, MLHEP_EUNSUPPORTED, "unknown URL scheme");
    return source_open_local(p, out, e);
}
