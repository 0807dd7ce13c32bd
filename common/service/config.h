/* config.h - service configuration, read once at program start.
 *
 * Sources, later ones winning: built-in defaults, a key=value file (path given by the
 * program's --config option or MLHEP_CONFIG), then MLHEP_<KEY> environment variables
 * (key upper-cased: amqp_password -> MLHEP_AMQP_PASSWORD). A secret can also be given
 * as a file: KEY_file=/path (or MLHEP_KEY_FILE) reads the first line of that file.
 * File syntax: one `key = value` per line, `#` comments, blank lines ignored; unknown
 * keys are refused (typos must not silently fall back to defaults).
 *
 * Keys (default in brackets):
 *   amqp_url            amqp://user:pass@host:port/vhost; fills the amqp_* keys below
 *   amqp_host [127.0.0.1]  amqp_port [5672]  amqp_user [""]  amqp_password [""]
 *   amqp_vhost [mlhep]
 *   amqp_heartbeat [30]   seconds between AMQP heartbeats; the broker drops (and requeues the
 *                         unacked job of) a worker it has not heard from for ~2 heartbeats;
 *                         0 disables
 *   redis_host [127.0.0.1] redis_port [6379] redis_user [""] redis_password [""]
 *   artifact_dir [./mlhep-artifacts]  root of the artifact store (per-user subdirs)
 *   data_roots [""]       colon-separated directories local input files must lie under
 *   worker_id [hostname-pid]
 *   heartbeat_interval [5]  seconds between worker heartbeats (lease refresh)
 *   lease_ttl [3 x heartbeat_interval] seconds a lease survives without heartbeat
 *   max_deliveries [5]    worker-side cap on attempts (the broker's x-delivery-limit
 *                         dead-letters earlier when set lower)
 *   auth_mode [jwt]       "dev" accepts tokens `dev:<user>` (development only)
 *   test_hooks [0]        1 lets trivial jobs crash the worker on request (tests only)
 *   schemas_dir [""]      directory of the JSON schemas ("" = jschema_find_dir's search)
 *   fanout_min_files [2]  worker: a training job with at least this many input files fans
 *                         its specs pass out as sub-tasks (queue jobs.specs, fanout.h);
 *                         0 = never (every job's specs pass runs on its own worker)
 *   fanout_split_mb [256] worker: a local input file larger than this many MiB is split
 *                         into sub-tasks of about this size (whole units of
 *                         SPECS_UNIT_ENTRIES entries); 0 = one sub-task per file
 *   worker_threads [0]    mlhep-worker: threads of one job's data layer and boosting, and
 *                         of a specs sub-task; 0 = one per online CPU (at most 16)
 *   infer_threads [0]     mlhep-infer: consumer threads (one broker connection each);
 *                         0 = one per online CPU, at most 4
 *   worker_stop_grace [20] mlhep-worker: seconds a running job may go on after SIGTERM to
 *                         finish; past them it stops at its next progress step and is
 *                         handed back to the queue (0 = hand back at once)
 *   worker_health_path [""] mlhep-worker: a file the worker rewrites every
 *                         heartbeat_interval with its state, read by `--check=live` and
 *                         `--check=ready` (probes); "" = none
 *   record_ttl_days [30]  a finished job's record expires this many days after it finished
 *                         (0 = kept for ever)
 *   log_ttl_days [7]      a finished job's log in Redis expires after this many days (0 =
 *                         kept for ever; the artifact set's job.log is not touched)
 *   test_hold_dir [""]    tests only (needs test_hooks = 1): while a file named like a job
 *                         exists in this directory, the job pauses at its progress steps
 *                         (mlhep_worker.c says which)
 *   service_key [""]      the secret that signs the service's internal broker messages
 *                         (msgsig.h); give it as service_key_file. Required by
 *                         mlhep-worker, the gateway and mlhep-submit's broker mode;
 *                         users of the gateway never hold it
 *   data_hosts [*]        remote hosts input files may be read from (netpolicy.h): a
 *                         comma-separated list of host, host:port, .domain (any host
 *                         under it), *.domain, IP, IP/prefix and `*` (any host);
 *                         loopback, link-local and private addresses are refused unless
 *                         a host name or address listed explicitly leads to them; ""
 *                         refuses every remote input
 * Remote reads (root://, https://; root/srcaccess.h, root/netretry.h; docs/grid.md):
 *   remote_attempts [3]   attempts per remote operation (1..20); final failures (401/403,
 *                         TLS verification, redirect loops, expired credentials) are
 *                         never retried
 *   remote_timeout [30]   seconds per attempt: connect, and a transfer that stalls
 *   remote_backoff_ms [200] first wait before a retry (doubles, at most 5 s)
 *   remote_ca_bundle [""] CA certificates (PEM file) trusted for https:// storage, e.g.
 *                         the IGTF bundle; "" = X509_CERT_DIR or the system's store
 *   remote_ca_dir [""]    hashed CA directory (/etc/grid-security/certificates);
 *                         "" = $X509_CERT_DIR
 *   remote_x509_proxy [""] the service's X.509 proxy (a file the renewer rewrites:
 *                         deploy/grid/mlhep-renew); "" = $X509_USER_PROXY
 *   remote_token_path [""] the service's bearer token file, re-read at each open (the
 *                         renewer replaces it atomically); "" = MLHEP_HTTP_TOKEN,
 *                         BEARER_TOKEN, BEARER_TOKEN_FILE
 *   remote_token_forward [""] hosts (data_hosts syntax) a bearer token may follow an
 *                         https redirect to (storage redirecting to its data nodes);
 *                         "" = a token goes only to the host and port a URL names
 * The gateway (mlhep-gateway, the HTTPS front door; gateway/httpd.h):
 *   gateway_bind [127.0.0.1]  address to listen on; anything but a loopback address
 *                         needs gateway_tls_cert and gateway_tls_key (PEM files)
 *   gateway_port [8443] (0: any free port)   gateway_tls_cert [""]  gateway_tls_key [""]
 *   gateway_max_body_mb [64]  largest request body (413 beyond)
 *   gateway_rate [1000]   requests per second per user on average (0 = no limit), with
 *   gateway_burst [2000]  bursts of up to this many (429 with Retry-After beyond)
 *   gateway_concurrency [256] requests of one user in flight at once (0 = no limit)
 *   gateway_predict_timeout [30] seconds a prediction may wait for mlhep-infer (504)
 *   gateway_idle_timeout [60] seconds a connection may stay silent (slow clients)
 *   gateway_connections [1024] open connections at most
 *   gateway_rpc_connections [2] broker connections carrying predictions
 *   gateway_predict_batch [64] small predictions of one user waiting together that
 *                         travel as one broker message (1 = each alone; rpcmux.h)
 *   gateway_idem_stale [30] seconds after which a submission's Idempotency-Key that is
 *                         still pending (its gateway died between claiming the key and
 *                         publishing) is taken over by a retry, which publishes the job
 *                         again under the same id (tests lower it)
 *   gateway_http_threads [1] event loops reading connections (each never waits)
 *   gateway_workers [16]  threads answering the requests that may wait (Redis, files,
 *                         model management)
 *   gateway_web_dir [""]  the dashboard's files ("" = found beside the program, like
 *                         the schemas)
 *   gateway_cors_origin [""] an origin allowed to call the API from a browser (none by
 *                         default)
 * Clients of the gateway (mlhep-submit):
 *   gateway_url [""]      https://host:port of the gateway; set, mlhep-submit talks to it
 *                         instead of the broker and Redis
 *   gateway_ca [""]  CA certificate (PEM) that signed the gateway's certificate
 *                         ("" = the system's CA store)
 * Bearer tokens (auth_mode=jwt; see auth_glue.h for the policy):
 *   jwt_alg [RS256]       RS256 (jwt_public_key PEM or jwt_jwks file) or HS256 (jwt_secret,
 *                         usually given as jwt_secret_file; development)
 *   jwt_public_key [""]  jwt_jwks [""]  jwt_secret [""]
 *   jwt_issuer [""]       expected `iss` (required in jwt mode)
 *   jwt_audience [mlhep]  must appear in `aud`
 *   jwt_leeway [30]       clock skew allowed on exp/nbf, seconds (0..600)
 *   jwt_queue_grace [86400] worker: seconds a job's token may have been expired when the
 *                         job starts, provided it was still valid when the job was
 *                         registered (0 = the token must still be valid at start)
 *
 * Secrets (amqp_password, redis_password, jwt_secret, the password inside amqp_url) are never
 * printed: config_print masks them. No global state: the caller owns the struct and
 * releases it with config_free. */
#ifndef MLHEP_CONFIG_H
#define MLHEP_CONFIG_H

#include <stdio.h>

#include "base/err.h"
#include "root/srcaccess.h"

typedef struct mlhep_config {
    char *amqp_host;
    int amqp_port;
    char *amqp_user;
    char *amqp_password;
    char *amqp_vhost;
    int amqp_heartbeat;
    char *redis_host;
    int redis_port;
    char *redis_user;
    char *redis_password;
    char *artifact_dir;
    char *data_roots;
    char *worker_id;
    double heartbeat_interval;
    double lease_ttl;
    int max_deliveries;
    char *auth_mode;
    int test_hooks;
    char *schemas_dir;
    int fanout_min_files;
    int fanout_split_mb;
    char *jwt_alg;
    char *jwt_public_key;
    char *jwt_jwks;
    char *jwt_secret;
    char *jwt_issuer;
    char *jwt_audience;
    int jwt_leeway;
    int jwt_queue_grace;
    int infer_threads;
    int worker_threads;
    double worker_stop_grace;
    char *worker_health_path;
    double record_ttl_days;
    double log_ttl_days;
    char *test_hold_dir;
    char *service_key;
    char *data_hosts;
    int remote_attempts;
    int remote_timeout;
    int remote_backoff_ms;
    char *remote_ca_bundle;
    char *remote_ca_dir;
    char *remote_x509_proxy;
    char *remote_token_path;
    char *remote_token_forward;
    char *gateway_bind;
    int gateway_port;
    char *gateway_tls_cert;
    char *gateway_tls_key;
    int gateway_max_body_mb;
    double gateway_rate;
    double gateway_burst;
    int gateway_concurrency;
    double gateway_predict_timeout;
    int gateway_idle_timeout;
    int gateway_connections;
    int gateway_rpc_connections;
    int gateway_predict_batch;
    double gateway_idem_stale;
    int gateway_http_threads;
    int gateway_workers;
    char *gateway_web_dir;
    char *gateway_cors_origin;
    char *gateway_url;
    char *gateway_ca;
} mlhep_config;

/* Fills cfg from defaults, the file at path (NULL: $MLHEP_CONFIG if set, else no file)
 * and the environment. On error cfg is left freed (safe to config_free again). */
int config_load(mlhep_config *cfg, const char *path, mlhep_err *e);

/* Frees every string in cfg and zeroes it. */
void config_free(mlhep_config *cfg);

/* The remote-read access the remote_* keys describe, for source_set_access: strings
 * point into cfg (keep it alive), hosts is the data_hosts policy (or NULL).
 * *token_hosts: remote_token_forward parsed (NULL when empty; hostpolicy_free). */
int config_srcaccess(const mlhep_config *cfg, const hostpolicy *hosts, srcaccess *a, hostpolicy **token_hosts,
                     mlhep_err *e);

/* Writes `key = value` lines with secrets replaced by "***" (or "(unset)"). */
void config_print(const mlhep_config *cfg, FILE *out);

#endif
