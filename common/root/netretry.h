/* netretry.h - the retry policy of remote calls: byte sources (root://, http(s)://) and
 * the gateway's client (gateway/gwclient.h).
 *
 * A failed remote call that may succeed later (time-out, refused connection, server
 * error, auth failure) is tried again after an exponential backoff, a bounded number
 * of times; then the caller fails with a message naming the URL, the cause and the
 * attempts ("root://h:1094//f.root: connection refused after 3 attempts").
 * A failure that another attempt cannot cure (HTTP 401/403, a redirect loop, a TLS
 * certificate that does not verify, an expired credential, XRootD auth failures) is
 * not retried: the caller fails at once, naming the cause.
 * Configuration: the service's config keys remote_attempts, remote_timeout and
 * remote_backoff_ms (service/config.h; a program installs them with
 * source_set_access), else the environment when a source is opened:
 *   MLHEP_REMOTE_ATTEMPTS  attempts per operation (default 3, 1..20)
 *   MLHEP_REMOTE_TIMEOUT   seconds per attempt: connect and stalled transfer (default 30)
 *   MLHEP_REMOTE_BACKOFF_MS first backoff (default 200; doubles, capped at 5 s)
 * The defaults and limits are the NETRETRY_* macros below (the config keys use them).
 * Nothing is allocated; a netretry is a value. */
#ifndef MLHEP_NETRETRY_H
#define MLHEP_NETRETRY_H

#define NETRETRY_ATTEMPTS 3
#define NETRETRY_ATTEMPTS_MAX 20
#define NETRETRY_TIMEOUT_S 30
#define NETRETRY_TIMEOUT_MAX 3600
#define NETRETRY_BACKOFF_MS 200
#define NETRETRY_BACKOFF_MAX 60000

typedef struct netretry {
    int attempts;
    unsigned timeout_s;
    unsigned backoff_ms;
} netretry;

/* Defaults overridden by the MLHEP_REMOTE_* variables (bad values are ignored). */
void netretry_from_env(netretry *r);

/* The wait before retry number k (k = 1 for the second attempt), in ms. */
unsigned netretry_delay_ms(const netretry *r, int k);

/* Sleeps netretry_delay_ms(r, k). */
void netretry_backoff(const netretry *r, int k);

#endif
