/* auth_glue.h - the one place where the service decides who a bearer token belongs to.
 *
 * Placeholder until the JWT module lands: auth_check_submit accepts development tokens
 * of the form `dev:<username>` ONLY when the configuration says auth_mode=dev, and
 * refuses everything otherwise. The lead replaces the body with JWT verification
 * (RS256/HS256, exp, nbf, iss, aud, scope mlhep.submit); callers do not change.
 * Both the submitter (before publishing) and the worker (again, on every delivery and
 * control message) call it. */
#ifndef MLHEP_AUTH_GLUE_H
#define MLHEP_AUTH_GLUE_H

#include "config.h"
#include "err.h"
#include "job.h"

/* Checks token; on success copies the user name into user and returns 0, else
 * MLHEP_EAUTH with a message saying why. Never echoes the token. */
int auth_check_submit(const mlhep_config *cfg, const char *token, char user[JOB_USER_MAX + 1],
                      mlhep_err *e);

/* Reads the token as the CLI does: from the file if path is given (first line,
 * whitespace trimmed), else from $MLHEP_TOKEN. *out is malloc'ed. */
int auth_token_load(const char *path, char **out, mlhep_err *e);

#endif
