/* finddir.h - finding the directories a program ships beside itself (the JSON schemas,
 * the gateway's web pages) wherever it is run from: a build tree, an install prefix or
 * a container image.
 *
 * Order: the configured directory (if given), then $ENVVAR, then REL next to the
 * executable or in up to 4 parent directories of it (bin/mlhep-x -> ../REL;
 * build/asan/bin/mlhep-x -> ../../../REL), then /usr/local/share/mlhep/NAME and
 * /usr/share/mlhep/NAME. A directory qualifies if it holds the marker file. */
#ifndef MLHEP_FINDDIR_H
#define MLHEP_FINDDIR_H

#include <stddef.h>

#include "base/err.h"

typedef struct finddir_spec {
    const char *what;    /* for messages: "the schemas directory" */
    const char *envvar;  /* "MLHEP_SCHEMAS" */
    const char *rel;     /* "schemas" (relative to the executable's ancestors) */
    const char *name;    /* "schemas" (under /usr/share/mlhep) */
    const char *marker;  /* "workflow.schema.json" */
} finddir_spec;

/* Writes the directory found into buf; MLHEP_ENOTFOUND with a message saying where it
 * looked and how to point at it. */
int finddir(const finddir_spec *s, const char *configured, char *buf, size_t bufsz, mlhep_err *e);

#endif
