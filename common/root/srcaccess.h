/* srcaccess.h - how remote byte sources reach storage: retry policy, TLS trust,
 * credentials and the hosts a bearer token may follow a redirect to.
 *
 * One value describes a read's access: the process's configuration (the service's
 * remote_* keys, installed once with source_set_access, source_open.h) and, for a
 * job that brought its own storage credential, that credential (a copy of the
 * process's access with .token or .proxy set, passed per open: never through the
 * environment). Nothing here is owned: the strings belong to the caller and must
 * outlive the sources opened with them.
 *
 * Where each credential comes from, first match wins (looked up at each open, so a
 * renewer that replaces a file is picked up by the next open without a restart):
 *   bearer token  .token; the content of .token_file; $MLHEP_HTTP_TOKEN;
 *                 $BEARER_TOKEN; the content of $BEARER_TOKEN_FILE
 *   X.509 proxy   .proxy; $X509_USER_PROXY
 *   CA            .ca_file (PEM bundle) and/or .ca_dir (hashed directory); else
 *                 $X509_CERT_DIR; else the system's store
 *
 * Tokens and proxies are never written to messages or logs: messages say where a
 * credential came from ("the job's token", "token file /run/x"), not what it is. */
#ifndef MLHEP_SRCACCESS_H
#define MLHEP_SRCACCESS_H

#include <stddef.h>

#include "base/err.h"
#include "root/hostpolicy.h"
#include "root/netretry.h"

/* largest bearer token accepted (WLCG tokens are 1-3 KiB) */
#define SRCACCESS_TOKEN_MAX 8192

typedef struct srcaccess {
    netretry retry;
    const hostpolicy *hosts;       /* data_hosts, or NULL: any host */
    const hostpolicy *token_hosts; /* hosts a bearer token may follow a redirect to
                                      (remote_token_forward), or NULL: none */
    const char *ca_file;           /* NULL or "": see above */
    const char *ca_dir;
    const char *proxy;             /* X.509 proxy file (certificate + key, PEM) */
    const char *token_file;
    const char *token;             /* a job's own bearer token */
    const char *token_origin;      /* words naming .token in messages ("the job's token") */
} srcaccess;

/* For programs without a service configuration (mlhep-run, mlhep-root): the retry
 * policy from the environment (netretry_from_env) and the variables named like the
 * service's keys: MLHEP_REMOTE_CA_BUNDLE, MLHEP_REMOTE_CA_DIR, MLHEP_REMOTE_X509_PROXY,
 * MLHEP_REMOTE_TOKEN_PATH (MLHEP_REMOTE_TOKEN_FORWARD is parsed by source_open_with);
 * no host limits. */
void srcaccess_from_env(srcaccess *a);

/* The bearer token (NUL-terminated in buf, "" if none) and, in *origin (a static or
 * a's string), where it came from. MLHEP_EINVAL when it does not fit or holds
 * characters not allowed in a header, MLHEP_EIO when a token file cannot be read,
 * MLHEP_EAUTH when it is a JWT whose `exp` has passed ("... expired at <UTC time>"). */
int srcaccess_token(const srcaccess *a, char *buf, size_t n, const char **origin, mlhep_err *e);

/* The X.509 proxy file to use, or NULL. */
const char *srcaccess_proxy(const srcaccess *a);
/* The CA directory to use, or NULL. */
const char *srcaccess_ca_dir(const srcaccess *a);

/* Checks an X.509 proxy (or any PEM certificate file) before it is used:
 * MLHEP_EAUTH "X.509 proxy PATH expired at <UTC time>" (or "is not valid before"),
 * MLHEP_EIO when it cannot be read or holds no certificate. */
int srcaccess_check_proxy(const char *path, mlhep_err *e);

/* The `exp` claim of a JWT-shaped token (three base64url parts, JSON payload), or -1
 * when the token is not a JWT or has none. No signature is checked: this only lets a
 * client say "expired" instead of sending a token the server will refuse. */
long long srcaccess_jwt_exp(const char *token);

#endif
