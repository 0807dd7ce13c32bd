/* config.c - see config.h. Table-driven: every key is one row saying where it lands. */
#include "service/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/numarg.h"
#include "root/netretry.h"
#include "service/rpcbatch.h"

enum kind { K_STR, K_INT, K_DBL, K_URL };

struct key {
    const char *name;
    enum kind kind;
    size_t off;
    int secret;
    double lo, hi; /* range for numbers */
};

#define OFF(f) offsetof(mlhep_config, f)
static const struct key keys[] = {
    {"amqp_url", K_URL, 0, 1, 0, 0},
    {"amqp_host", K_STR, OFF(amqp_host), 0, 0, 0},
    {"amqp_port", K_INT, OFF(amqp_port), 0, 1, 65535},
    {"amqp_user", K_STR, OFF(amqp_user), 0, 0, 0},
    {"amqp_password", K_STR, OFF(amqp_password), 1, 0, 0},
    {"amqp_vhost", K_STR, OFF(amqp_vhost), 0, 0, 0},
    {"amqp_heartbeat", K_INT, OFF(amqp_heartbeat), 0, 0, 3600},
    {"redis_host", K_STR, OFF(redis_host), 0, 0, 0},
    {"redis_port", K_INT, OFF(redis_port), 0, 1, 65535},
    {"redis_user", K_STR, OFF(redis_user), 0, 0, 0},
    {"redis_password", K_STR, OFF(redis_password), 1, 0, 0},
    {"artifact_dir", K_STR, OFF(artifact_dir), 0, 0, 0},
    {"data_roots", K_STR, OFF(data_roots), 0, 0, 0},
    {"worker_id", K_STR, OFF(worker_id), 0, 0, 0},
    {"heartbeat_interval", K_DBL, OFF(heartbeat_interval), 0, 0.01, 3600},
    {"lease_ttl", K_DBL, OFF(lease_ttl), 0, 0.05, 86400},
    {"max_deliveries", K_INT, OFF(max_deliveries), 0, 1, 1000},
    {"auth_mode", K_STR, OFF(auth_mode), 0, 0, 0},
    {"test_hooks", K_INT, OFF(test_hooks), 0, 0, 1},
    {"schemas_dir", K_STR, OFF(schemas_dir), 0, 0, 0},
    {"fanout_min_files", K_INT, OFF(fanout_min_files), 0, 0, 1000000},
    {"fanout_split_mb", K_INT, OFF(fanout_split_mb), 0, 0, 1000000},
    {"jwt_alg", K_STR, OFF(jwt_alg), 0, 0, 0},
    {"jwt_public_key", K_STR, OFF(jwt_public_key), 0, 0, 0},
    {"jwt_jwks", K_STR, OFF(jwt_jwks), 0, 0, 0},
    {"jwt_secret", K_STR, OFF(jwt_secret), 1, 0, 0},
    {"jwt_issuer", K_STR, OFF(jwt_issuer), 0, 0, 0},
    {"jwt_audience", K_STR, OFF(jwt_audience), 0, 0, 0},
    {"jwt_leeway", K_INT, OFF(jwt_leeway), 0, 0, 600},
    {"jwt_queue_grace", K_INT, OFF(jwt_queue_grace), 0, 0, 30 * 86400},
    {"infer_threads", K_INT, OFF(infer_threads), 0, 0, 64},
    {"worker_threads", K_INT, OFF(worker_threads), 0, 0, 256},
    {"worker_stop_grace", K_DBL, OFF(worker_stop_grace), 0, 0, 86400},
    {"worker_health_path", K_STR, OFF(worker_health_path), 0, 0, 0},
    {"record_ttl_days", K_DBL, OFF(record_ttl_days), 0, 0, 36500},
    {"log_ttl_days", K_DBL, OFF(log_ttl_days), 0, 0, 36500},
    {"test_hold_dir", K_STR, OFF(test_hold_dir), 0, 0, 0},
    {"service_key", K_STR, OFF(service_key), 1, 0, 0},
    {"data_hosts", K_STR, OFF(data_hosts), 0, 0, 0},
    {"remote_attempts", K_INT, OFF(remote_attempts), 0, 1, NETRETRY_ATTEMPTS_MAX},
    {"remote_timeout", K_INT, OFF(remote_timeout), 0, 1, NETRETRY_TIMEOUT_MAX},
    {"remote_backoff_ms", K_INT, OFF(remote_backoff_ms), 0, 0, NETRETRY_BACKOFF_MAX},
    {"remote_ca_bundle", K_STR, OFF(remote_ca_bundle), 0, 0, 0},
    {"remote_ca_dir", K_STR, OFF(remote_ca_dir), 0, 0, 0},
    {"remote_x509_proxy", K_STR, OFF(remote_x509_proxy), 0, 0, 0},
    {"remote_token_path", K_STR, OFF(remote_token_path), 0, 0, 0},
    {"remote_token_forward", K_STR, OFF(remote_token_forward), 0, 0, 0},
    {"gateway_bind", K_STR, OFF(gateway_bind), 0, 0, 0},
    {"gateway_port", K_INT, OFF(gateway_port), 0, 0, 65535},
    {"gateway_tls_cert", K_STR, OFF(gateway_tls_cert), 0, 0, 0},
    {"gateway_tls_key", K_STR, OFF(gateway_tls_key), 0, 0, 0},
    {"gateway_max_body_mb", K_INT, OFF(gateway_max_body_mb), 0, 1, 4096},
    {"gateway_rate", K_DBL, OFF(gateway_rate), 0, 0, 1e9},
    {"gateway_burst", K_DBL, OFF(gateway_burst), 0, 1, 1e9},
    {"gateway_concurrency", K_INT, OFF(gateway_concurrency), 0, 0, 1000000},
    {"gateway_predict_timeout", K_DBL, OFF(gateway_predict_timeout), 0, 0.01, 3600},
    {"gateway_idle_timeout", K_INT, OFF(gateway_idle_timeout), 0, 1, 3600},
    {"gateway_connections", K_INT, OFF(gateway_connections), 0, 1, 100000},
    {"gateway_rpc_connections", K_INT, OFF(gateway_rpc_connections), 0, 1, 16},
    {"gateway_predict_batch", K_INT, OFF(gateway_predict_batch), 0, 1, RPCBATCH_MAX_ITEMS},
    {"gateway_idem_stale", K_DBL, OFF(gateway_idem_stale), 0, 0.1, 86400},
    {"gateway_http_threads", K_INT, OFF(gateway_http_threads), 0, 1, 64},
    {"gateway_workers", K_INT, OFF(gateway_workers), 0, 1, 256},
    {"gateway_web_dir", K_STR, OFF(gateway_web_dir), 0, 0, 0},
    {"gateway_cors_origin", K_STR, OFF(gateway_cors_origin), 0, 0, 0},
    {"gateway_url", K_STR, OFF(gateway_url), 0, 0, 0},
    {"gateway_ca", K_STR, OFF(gateway_ca), 0, 0, 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static int set_str(char **dst, const char *v, mlhep_err *e)
{
    char *c = strdup(v);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    free(*dst);
    *dst = c;
    return 0;
}

/* amqp://user:pass@host:port/vhost (every part optional except host). */
static int set_url(mlhep_config *c, const char *url, mlhep_err *e)
{
    const char *p = url;
    if (strncmp(p, "amqp://", 7) != 0)
        return err_set(e, MLHEP_EINVAL, "amqp_url must start with amqp:// (TLS is not supported)");
    p += 7;
    char buf[1024];
    if (strlen(p) >= sizeof buf)
        return err_set(e, MLHEP_EINVAL, "amqp_url too long");
    strcpy(buf, p);
    char *hostpart = buf, *vhost = strchr(buf, '/');
    if (vhost)
        *vhost++ = '\0';
    char *at = strrchr(hostpart, '@');
    int rc = 0;
    if (at) {
        *at = '\0';
        char *colon = strchr(hostpart, ':');
        if (colon) {
            *colon = '\0';
            rc |= set_str(&c->amqp_password, colon + 1, e);
        }
        rc |= set_str(&c->amqp_user, hostpart, e);
        hostpart = at + 1;
    }
    char *colon = strrchr(hostpart, ':');
    if (colon) {
        *colon = '\0';
        if (numarg_int("amqp_url: port", colon + 1, 1, 65535, &c->amqp_port, e))
            return MLHEP_EINVAL;
    }
    if (!*hostpart)
        return err_set(e, MLHEP_EINVAL, "amqp_url: no host");
    rc |= set_str(&c->amqp_host, hostpart, e);
    if (vhost && *vhost)
        rc |= set_str(&c->amqp_vhost, vhost, e);
    return rc ? MLHEP_ENOMEM : 0;
}

static int read_secret_file(const char *path, char **out, mlhep_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot open secret file %s: %s", path, strerror(errno));
    char line[4096];
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    *out = strdup(line);
    return *out ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
}

static int apply(mlhep_config *c, const char *name, const char *val, const char *where, mlhep_err *e)
{
    size_t n = strlen(name);
    int is_file = n > 5 && strcmp(name + n - 5, "_file") == 0;
    char base[64];
    if (n >= sizeof base)
        return err_set(e, MLHEP_EINVAL, "%s: unknown configuration key '%s'", where, name);
    memcpy(base, name, n + 1);
    if (is_file)
        base[n - 5] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, base) != 0)
            continue;
        char *secret = NULL;
        if (is_file) {
            if (read_secret_file(val, &secret, e))
                return err_prefix(e, "%s: %s", where, name);
            val = secret;
        }
        int rc = 0;
        switch (keys[i].kind) {
        case K_URL:
            rc = set_url(c, val, e);
            break;
        case K_STR:
            rc = set_str((char **)((char *)c + keys[i].off), val, e);
            break;
        case K_INT: {
            long v;
            rc = numarg_long(name, val, (long)keys[i].lo, (long)keys[i].hi, &v, e);
            if (!rc)
                *(int *)((char *)c + keys[i].off) = (int)v;
            else if (keys[i].secret) /* the message quotes the value: not a secret's */
                err_set(e, rc, "%s must be an integer in [%g, %g]", name, keys[i].lo, keys[i].hi);
            if (rc)
                err_prefix(e, "%s", where);
            break;
        }
        case K_DBL:
            rc = numarg_double(name, val, keys[i].lo, keys[i].hi, (double *)((char *)c + keys[i].off), e);
            if (rc)
                err_prefix(e, "%s", where);
            break;
        }
        free(secret);
        if (rc && keys[i].kind == K_URL)
            err_prefix(e, "%s", where);
        return rc;
    }
    return err_set(e, MLHEP_EINVAL, "%s: unknown configuration key '%s'", where, name);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int load_file(mlhep_config *c, const char *path, mlhep_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot open config file %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = err_set(e, MLHEP_EINVAL, "%s: line too long", where);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = err_set(e, MLHEP_EINVAL, "%s: expected key = value", where);
            break;
        }
        *eq = '\0';
        rc = apply(c, trim(s), trim(eq + 1), where, e);
    }
    fclose(f);
    return rc;
}

static int set_defaults(mlhep_config *c, mlhep_err *e)
{
    memset(c, 0, sizeof *c);
    char host[256] = "worker";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char wid[300];
    snprintf(wid, sizeof wid, "%s-%ld", host, (long)getpid());
    int rc = set_str(&c->amqp_host, "127.0.0.1", e) | set_str(&c->amqp_user, "", e) |
             set_str(&c->amqp_password, "", e) | set_str(&c->amqp_vhost, "mlhep", e) |
             set_str(&c->redis_host, "127.0.0.1", e) | set_str(&c->redis_user, "", e) |
             set_str(&c->redis_password, "", e) | set_str(&c->artifact_dir, "./mlhep-artifacts", e) |
             set_str(&c->data_roots, "", e) | set_str(&c->worker_id, wid, e) |
             set_str(&c->auth_mode, "jwt", e) | set_str(&c->schemas_dir, "", e) |
             set_str(&c->jwt_alg, "RS256", e) | set_str(&c->jwt_public_key, "", e) |
             set_str(&c->jwt_jwks, "", e) | set_str(&c->jwt_secret, "", e) |
             set_str(&c->jwt_issuer, "", e) | set_str(&c->jwt_audience, "mlhep", e) |
             set_str(&c->gateway_bind, "127.0.0.1", e) | set_str(&c->gateway_tls_cert, "", e) |
             set_str(&c->gateway_tls_key, "", e) | set_str(&c->gateway_web_dir, "", e) |
             set_str(&c->gateway_cors_origin, "", e) | set_str(&c->gateway_url, "", e) |
             set_str(&c->gateway_ca, "", e) | set_str(&c->worker_health_path, "", e) |
             set_str(&c->test_hold_dir, "", e) | set_str(&c->service_key, "", e) |
             set_str(&c->data_hosts, "*", e) | set_str(&c->remote_ca_bundle, "", e) |
             set_str(&c->remote_ca_dir, "", e) | set_str(&c->remote_x509_proxy, "", e) |
             set_str(&c->remote_token_path, "", e) | set_str(&c->remote_token_forward, "", e);
    c->remote_attempts = NETRETRY_ATTEMPTS;
    c->remote_timeout = NETRETRY_TIMEOUT_S;
    c->remote_backoff_ms = NETRETRY_BACKOFF_MS;
    c->gateway_port = 8443;
    c->gateway_max_body_mb = 64;
    c->gateway_rate = 1000;
    c->gateway_burst = 2000;
    c->gateway_concurrency = 256;
    c->gateway_predict_timeout = 30;
    c->gateway_idle_timeout = 60;
    c->gateway_connections = 1024;
    c->gateway_rpc_connections = 2;
    c->gateway_predict_batch = 64;
    c->gateway_idem_stale = 30;
    c->gateway_http_threads = 1;
    c->gateway_workers = 16;
    c->jwt_leeway = 30;
    c->jwt_queue_grace = 86400;
    c->amqp_port = 5672;
    c->amqp_heartbeat = 30;
    c->redis_port = 6379;
    c->heartbeat_interval = 5;
    c->lease_ttl = 0; /* derived below unless set */
    c->max_deliveries = 5;
    c->fanout_min_files = 2;
    c->fanout_split_mb = 256;
    c->worker_stop_grace = 20;
    c->record_ttl_days = 30;
    c->log_ttl_days = 7;
    return rc ? MLHEP_ENOMEM : 0;
}

int config_load(mlhep_config *c, const char *path, mlhep_err *e)
{
    int rc = set_defaults(c, e);
    if (!path || !*path)
        path = getenv("MLHEP_CONFIG");
    if (!rc && path && *path)
        rc = load_file(c, path, e);
    /* environment: MLHEP_<KEY> and MLHEP_<KEY>_FILE; the URL first so that the
     * individual keys can refine it */
    for (size_t i = 0; !rc && i < NKEYS; i++) {
        for (int file = 0; file < 2 && !rc; file++) {
            char envname[96], keyname[80];
            snprintf(keyname, sizeof keyname, "%s%s", keys[i].name, file ? "_file" : "");
            snprintf(envname, sizeof envname, "MLHEP_%s", keyname);
            for (char *p = envname; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            const char *v = getenv(envname);
            if (v)
                rc = apply(c, keyname, v, envname, e);
        }
    }
    if (!rc) {
        if (c->lease_ttl <= 0)
            c->lease_ttl = 3 * c->heartbeat_interval;
        if (c->lease_ttl < c->heartbeat_interval * 1.5)
            rc = err_set(e, MLHEP_EINVAL,
                         "lease_ttl (%g s) must be at least 1.5 x heartbeat_interval (%g s)",
                         c->lease_ttl, c->heartbeat_interval);
        else if (strcmp(c->auth_mode, "dev") && strcmp(c->auth_mode, "jwt"))
            rc = err_set(e, MLHEP_EINVAL, "auth_mode must be 'jwt' or 'dev', got '%s'", c->auth_mode);
        else if (strcmp(c->jwt_alg, "RS256") && strcmp(c->jwt_alg, "HS256"))
            rc = err_set(e, MLHEP_EINVAL, "jwt_alg must be 'RS256' or 'HS256', got '%s'", c->jwt_alg);
        else if (!*c->worker_id || strlen(c->worker_id) > 128)
            rc = err_set(e, MLHEP_EINVAL, "worker_id must be 1-128 characters");
    }
    if (rc)
        config_free(c);
    return rc;
}

void config_free(mlhep_config *c)
{
    char **strs[] = {&c->amqp_host,  &c->amqp_user,   &c->amqp_password, &c->amqp_vhost,
                     &c->redis_host, &c->redis_user,  &c->redis_password, &c->artifact_dir,
                     &c->data_roots, &c->worker_id,   &c->auth_mode,     &c->schemas_dir,
                     &c->jwt_alg,    &c->jwt_public_key, &c->jwt_jwks,  &c->jwt_secret,
                     &c->jwt_issuer, &c->jwt_audience, &c->gateway_bind, &c->gateway_tls_cert,
                     &c->gateway_tls_key, &c->gateway_web_dir, &c->gateway_cors_origin,
                     &c->gateway_url, &c->gateway_ca, &c->worker_health_path,
                     &c->test_hold_dir, &c->service_key, &c->data_hosts, &c->remote_ca_bundle,
                     &c->remote_ca_dir, &c->remote_x509_proxy, &c->remote_token_path,
                     &c->remote_token_forward};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (*strs[i]) {
            /* wipe secrets before release */
            memset(*strs[i], 0, strlen(*strs[i]));
            free(*strs[i]);
        }
    }
    memset(c, 0, sizeof *c);
}

int config_srcaccess(const mlhep_config *c, const hostpolicy *hosts, srcaccess *a, hostpolicy **token_hosts,
                     mlhep_err *e)
{
    memset(a, 0, sizeof *a);
    *token_hosts = NULL;
    a->retry.attempts = c->remote_attempts;
    a->retry.timeout_s = (unsigned)c->remote_timeout;
    a->retry.backoff_ms = (unsigned)c->remote_backoff_ms;
    a->hosts = hosts;
    a->ca_file = c->remote_ca_bundle;
    a->ca_dir = c->remote_ca_dir;
    a->proxy = c->remote_x509_proxy;
    a->token_file = c->remote_token_path;
    const char *t = c->remote_token_forward;
    while (t && (*t == ' ' || *t == ','))
        t++;
    if (t && *t) {
        int rc = hostpolicy_parse(c->remote_token_forward, token_hosts, e);
        if (rc)
            return err_prefix(e, "remote_token_forward");
        a->token_hosts = *token_hosts;
    }
    return 0;
}

void config_print(const mlhep_config *c, FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        if (k->kind == K_URL)
            continue;
        const char *p = (const char *)c + k->off;
        fprintf(out, "%s = ", k->name);
        if (k->kind == K_INT)
            fprintf(out, "%d\n", *(const int *)p);
        else if (k->kind == K_DBL)
            fprintf(out, "%g\n", *(const double *)p);
        else {
            const char *s = *(char *const *)p;
            if (k->secret)
                fprintf(out, "%s\n", s && *s ? "***" : "(unset)");
            else
                fprintf(out, "%s\n", s ? s : "");
        }
    }
}
