/* route.h - the gateway's URL routing: a fixed table of (methods, path pattern) -> route
 * id, matched against a request's method and decoded path.
 *
 * A pattern is a path of segments, each a literal ("v1", "jobs") or a parameter written
 * {name} ("/v1/jobs/{id}/artifacts/{file}"). A parameter matches one whole segment of
 * 1..GW_PARAM_MAX-1 characters of [A-Za-z0-9._@-], never "." or "..": a path can carry
 * nothing into a parameter that could climb directories or break a Redis key, and the
 * handlers still check each parameter for what it names (a job id, a model reference).
 * A last segment written {name*} takes the rest of the path: one or more such segments
 * joined by '/' (an artifact in a sub-directory, "hists/index.html"), each checked alike.
 * Paths are matched exactly (no trailing slash, no empty segment, no query string: the
 * server passes the path without it). A path that matches a pattern but not the method
 * yields GW_ROUTE_METHOD with the methods that would match (for 405 and `Allow`).
 *
 * Pure functions over caller memory: fuzzed by fuzz/fuzz_gateway_http.c. */
#ifndef MLHEP_GW_ROUTE_H
#define MLHEP_GW_ROUTE_H

#include <stddef.h>

enum {
    GW_GET = 1,
    GW_HEAD = 2,
    GW_POST = 4,
    GW_PUT = 8,
    GW_DELETE = 16,
    GW_OPTIONS = 32,
    GW_PATCH = 64,
};

#define GW_MAX_PARAMS 4
#define GW_PARAM_MAX 192
#define GW_PATH_MAX 2048

enum {
    GW_ROUTE_NOTFOUND = -1, /* no pattern matches the path */
    GW_ROUTE_METHOD = -2,   /* a pattern matches, not for this method */
};

typedef struct gw_route {
    unsigned methods; /* GW_GET | GW_POST ... */
    const char *pattern;
} gw_route;

typedef struct gw_match {
    int nparams;
    char name[GW_MAX_PARAMS][32];
    char value[GW_MAX_PARAMS][GW_PARAM_MAX];
    unsigned allowed; /* GW_ROUTE_METHOD: the methods of the patterns that matched */
} gw_match;

/* The GW_* bit of an HTTP method name ("GET" -> GW_GET), 0 if unknown. */
unsigned gw_method_bit(const char *method);

/* "GET, POST" for a set of methods, into out (always NUL-terminated). */
void gw_methods_text(unsigned methods, char *out, size_t outsz);

/* Matches method + path against the table of n routes, each `stride` bytes from the
 * last (sizeof(gw_route), or the size of a larger struct whose first member is a
 * gw_route): the index of the first route that matches (>= 0) with the parameters in
 * m, GW_ROUTE_NOTFOUND, or
 * GW_ROUTE_METHOD (m->allowed filled). HEAD matches where GET does. */
int gw_route_match(const gw_route *table, size_t n, size_t stride, const char *method, const char *path,
                   gw_match *m);

/* A parameter's value by name, or NULL. */
const char *gw_param(const gw_match *m, const char *name);

#endif
