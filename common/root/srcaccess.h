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
/* largest X.509 proxy file accepted from a user (certificate + key + chain, PEM; a VOMS
 * proxy with a 2-certificate chain is 5-8 KiB) */
#define SRCACCESS_PROXY_MAX 16384

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
    const char *proxy_origin;      /* words naming .proxy in messages instead of its path
                                      ("the job's delegated X.509 proxy"), or NULL */
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

/* The bearer token XrdCl's ztn plugin will send for a root:// login, looked up in the
 * plugin's own order: $BEARER_TOKEN, the file $BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<euid>,
 * /tmp/bt_u<euid> (the worker sets BEARER_TOKEN_FILE from remote_token_path). buf gets
 * the token ("" if none) and *origin where it came from (a static string). For messages
 * only: the plugin reads it itself. */
void srcaccess_ztn_token(char *buf, size_t n, const char **origin);

/* The X.509 proxy file to use, or NULL. */
const char *srcaccess_proxy(const srcaccess *a);
/* The CA directory to use, or NULL. */
const char *srcaccess_ca_dir(const srcaccess *a);

/* The proxy to give XRootD's GSI login: srcaccess_proxy, else $XrdSecGSIUSERPROXY, else
 * /tmp/x509up_u<uid> (the GSI plugin's own order), copied into buf. Every root:// open
 * names it in its URL (xrd.gsiusrpxy, source_xrootd.h): XrdCl keys its connections by
 * it, so a job's proxy never serves another job's open. */
void srcaccess_gsi_proxy(const srcaccess *a, char *buf, size_t n);

/* Checks an X.509 proxy (or any PEM certificate file) before it is used:
 * MLHEP_EAUTH "X.509 proxy PATH expired at <UTC time>" (or "is not valid before"),
 * MLHEP_EIO when it cannot be read or holds no certificate. origin: words naming the
 * proxy instead of "X.509 proxy PATH" (srcaccess.proxy_origin), or NULL. */
int srcaccess_check_proxy(const char *path, const char *origin, mlhep_err *e);

/* Checks an X.509 proxy a user hands a job (the PEM text of x509up: the proxy
 * certificate, its private key, then the chain): at most SRCACCESS_PROXY_MAX bytes, a
 * certificate and the private key that matches it, valid now. *not_after (may be NULL):
 * its expiry, Unix time. MLHEP_EINVAL when it is not such a PEM; MLHEP_EAUTH "the X.509
 * proxy expired at <UTC time>" / "is not valid before". Messages never quote it. */
int srcaccess_check_proxy_pem(const char *pem, size_t len, long long *not_after, mlhep_err *e);

/* "YYYY-MM-DD HH:MM:SS UTC" for a Unix time. */
void srcaccess_utc(long long t, char *buf, size_t n);

/* The `exp` claim of a JWT-shaped token (three base64url parts, JSON payload), or -1
 * when the token is not a JWT or has none. No signature is checked: this only lets a
 * client say "expired" instead of sending a token the server will refuse. */
long long srcaccess_jwt_exp(const char *token);

#endif
