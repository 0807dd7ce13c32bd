/* jobstore.c - see jobstore.h. All writes are Lua scripts run with EVALSHA (falling
 * back to EVAL when Redis has not cached them yet); reads are plain commands. */
#include "service/jobstore.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/logline.h"

enum { S_REGISTER, S_TAKE, S_BEAT, S_LOG, S_FINISH, S_CANCEL, S_HANDBACK, S_COUNT };

/* KEYS[1] job hash, KEYS[2] index zset, KEYS[3] the index's prune cursor. ARGV id user name
 * submitted now job-key-prefix */
static const char lua_register[] =
    "prune(KEYS[2], KEYS[3], ARGV[6], ARGV[5])\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'user', ARGV[2], 'name', ARGV[3], 'state', 'queued',\n"
    "  'phase', 'queued', 'progress', '0', 'attempts', '0', 'lease', '0', 'submitted', ARGV[4],\n"
    "  'updated', ARGV[5], 'registered', ARGV[5])\n"
    "redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])\n"
    "moved(nil, 'queued')\n"
    "return 1\n";

/* KEYS job, index, hb, log. ARGV id user name submitted now worker ttl_ms max_attempts
 * deliveries. Attempts that ended in a hand-back (a worker's shutdown) do not count
 * against max_attempts. */
static const char lua_take[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'user', ARGV[2], 'name', ARGV[3], 'state', 'queued',\n"
    "    'phase', 'queued', 'progress', '0', 'attempts', '0', 'lease', '0', 'submitted', ARGV[4],\n"
    "    'updated', ARGV[5], 'registered', ARGV[5])\n"
    "  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])\n"
    "  moved(nil, 'queued')\n"
    "end\n"
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not allowed(st, 'running') then return {'skip', 0, 0, st} end\n"
    "if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' and allowed(st, 'cancelled') then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'phase', 'cancelled', 'finished', ARGV[5],\n"
    "    'updated', ARGV[5], 'message', 'cancelled by its owner before it ran')\n"
    "  redis.call('DEL', KEYS[3])\n"
    "  moved(st, 'cancelled')\n"
    "  retire(KEYS[1], KEYS[4])\n"
    "  return {'cancelled', 0, 0, st}\n"
    "end\n"
    "local att = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')\n"
    "local given = tonumber(redis.call('HGET', KEYS[1], 'handbacks') or '0')\n"
    "if att - given >= tonumber(ARGV[8]) and allowed(st, 'failed') then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'failed', 'phase', 'failed', 'finished', ARGV[5],\n"
    "    'updated', ARGV[5], 'error', 'gave up after ' .. (att - given) .. ' attempts (max_deliveries=' ..\n"
    "    ARGV[8] .. '): the job kept crashing or being interrupted')\n"
    "  redis.call('DEL', KEYS[3])\n"
    "  moved(st, 'failed')\n"
    "  retire(KEYS[1], KEYS[4])\n"
    "  return {'exhausted', 0, att, st}\n"
    "end\n"
    "att = redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "local lease = redis.call('HINCRBY', KEYS[1], 'lease', 1)\n"
    "redis.call('HSET', KEYS[1], 'state', 'running', 'phase', 'starting', 'progress', '0',\n"
    "  'worker', ARGV[6], 'started', ARGV[5], 'updated', ARGV[5], 'heartbeat', ARGV[5],\n"
    "  'deliveries', ARGV[9], 'message', 'attempt ' .. att .. ' on ' .. ARGV[6])\n"
    "redis.call('SET', KEYS[3], ARGV[6] .. ':' .. lease, 'PX', ARGV[7])\n"
    "moved(st, 'running')\n"
    "return {'taken', lease, att, st}\n";

/* KEYS job, hb. ARGV lease now ttl_ms [phase progress message [field value]...] */
static const char lua_beat[] =
    "if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] or\n"
    "   redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 'lost' end\n"
    "redis.call('HSET', KEYS[1], 'heartbeat', ARGV[2], 'updated', ARGV[2])\n"
    "if #ARGV >= 6 then\n"
    "  redis.call('HSET', KEYS[1], 'phase', ARGV[4], 'progress', ARGV[5], 'message', ARGV[6])\n"
    "  for i = 7, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "end\n"
    "redis.call('SET', KEYS[2], redis.call('HGET', KEYS[1], 'worker') .. ':' .. ARGV[1], 'PX', ARGV[3])\n"
    "if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then return 'cancel' end\n"
    "return 'ok'\n";

/* KEYS job, log. ARGV lease line maxlen. A line written after the job ended (or once its
 * record expired) gives the log the retention TTL if it has none yet. */
static const char lua_log[] =
    "if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)\n"
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if (not st or TERMINAL[st]) and LOG_TTL > 0 and redis.call('TTL', KEYS[2]) < 0 then\n"
    "  redis.call('EXPIRE', KEYS[2], LOG_TTL)\n"
    "end\n"
    "return 1\n";

/* KEYS job, hb, log. ARGV lease to now error artifacts message */
static const char lua_finish[] =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st then return {'missing', ''} end\n"
    "if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return {'lost', st} end\n"
    "if not allowed(st, ARGV[2]) then return {'refused', st} end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[2], 'phase', ARGV[2], 'updated', ARGV[3])\n"
    "if ARGV[2] == 'queued' then\n"
    "  redis.call('HSET', KEYS[1], 'worker', '', 'progress', '0')\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'finished', ARGV[3])\n"
    "end\n"
    "if ARGV[2] == 'succeeded' then redis.call('HSET', KEYS[1], 'progress', '1') end\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'artifacts', ARGV[5]) end\n"
    "if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'message', ARGV[6]) end\n"
    "redis.call('DEL', KEYS[2])\n"
    "moved(st, ARGV[2])\n"
    "if TERMINAL[ARGV[2]] then retire(KEYS[1], KEYS[3]) end\n"
    "return {'ok', st}\n";

/* KEYS job, log. ARGV now */
static const char lua_cancel[] =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st then return 'missing' end\n"
    "if st == 'queued' and allowed(st, 'cancelled') then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'phase', 'cancelled', 'cancel_requested', '1',\n"
    "    'finished', ARGV[1], 'updated', ARGV[1], 'message', 'cancelled by its owner before it ran')\n"
    "  moved(st, 'cancelled')\n"
    "  retire(KEYS[1], KEYS[2])\n"
    "  return 'cancelled'\n"
    "end\n"
    "if st == 'running' then\n"
    "  redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'updated', ARGV[1])\n"
    "  return 'requested'\n"
    "end\n"
    "return 'refused'\n";

/* KEYS job, hb, log. ARGV lease now message. The worker holding the lease gives the job
 * back (running -> queued in one step, `handbacks` + 1: such attempts are not counted
 * against max_deliveries); a job whose owner asked to cancel it is cancelled instead. */
static const char lua_handback[] =
    "if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] or\n"
    "   redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 'lost' end\n"
    "if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' and allowed('running', 'cancelled') then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'phase', 'cancelled', 'finished', ARGV[2],\n"
    "    'updated', ARGV[2], 'message', 'cancelled by its owner')\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  moved('running', 'cancelled')\n"
    "  retire(KEYS[1], KEYS[3])\n"
    "  return 'cancelled'\n"
    "end\n"
    "if not allowed('running', 'queued') then return 'refused' end\n"
    "redis.call('HSET', KEYS[1], 'state', 'queued', 'phase', 'queued', 'progress', '0', 'worker', '',\n"
    "  'updated', ARGV[2], 'message', ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[1], 'handbacks', 1)\n"
    "redis.call('DEL', KEYS[2])\n"
    "moved('running', 'queued')\n"
    "return 'ok'\n";

static const char *const bodies[S_COUNT] = {lua_register, lua_take,   lua_beat,    lua_log,
                                            lua_finish,   lua_cancel, lua_handback};

struct jobstore {
    redisContext *rc;
    char *host, *user, *password;
    int port;
    char *text[S_COUNT];
    char sha[S_COUNT][41];
    char transitions[JOBSTORE_LUA_PREFIX_MAX];
    char retention[1024];
};

/* ---- transition table shared with job.c ------------------------------------------- */

static void build_transitions(char *out, size_t outsz)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, outsz - n, "local T = {");
    for (int a = 0; a < JOB_NSTATES; a++) {
        n += (size_t)snprintf(out + n, outsz - n, "%s = {", job_state_name((job_state)a));
        for (int b = 0; b < JOB_NSTATES; b++)
            if (job_transition_ok((job_state)a, (job_state)b))
                n += (size_t)snprintf(out + n, outsz - n, "%s = true, ", job_state_name((job_state)b));
        n += (size_t)snprintf(out + n, outsz - n, "}, ");
    }
    n += (size_t)snprintf(out + n, outsz - n, "}\nlocal TERMINAL = {");
    for (int a = 0; a < JOB_NSTATES; a++)
        if (job_state_terminal((job_state)a))
            n += (size_t)snprintf(out + n, outsz - n, "%s = true, ", job_state_name((job_state)a));
    snprintf(out + n, outsz - n,
             "}\nlocal function allowed(a, b) return a ~= nil and a ~= false and T[a] ~= nil and "
             "T[a][b] == true end\n"
             /* job counts by state for /metrics: how many jobs entered and left each
              * state (a job redelivered while running does not move) */
             "local function moved(a, b) if a == b then return end\n"
             "  if a then redis.call('HINCRBY', '" JOBSTORE_STATS_KEY "', 'left:' .. a, 1) end\n"
             "  redis.call('HINCRBY', '" JOBSTORE_STATS_KEY "', 'entered:' .. b, 1) end\n");
}

void jobstore_lua_transitions(char *out, size_t outsz)
{
    build_transitions(out, outsz);
}

/* ---- connection ------------------------------------------------------------------ */

/* The one classification of Redis's answers: the transient states in which it can neither
 * record nor answer reliably for now (loading its data after a restart, busy in a long
 * script, a replica cut off from its master or read-only, a cluster slot moving, out of
 * memory or unable to persist) are "store unavailable", like a refused or lost connection:
 * nothing may be assumed recorded and the caller retries later. An error reply from inside
 * a script carries the same code at its start (Redis 7 keeps it). */
static int reply_unavailable(const char *msg)
{
    static const char *const codes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY",
                                        "CLUSTERDOWN", "NOREPLICAS", "OOM", "MISCONF", NULL};
    for (int i = 0; codes[i]; i++) {
        size_t n = strlen(codes[i]);
        if (strncmp(msg, codes[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
            return 1;
    }
    return 0;
}


static int auth(jobstore *js, mlhep_err *e)
{
    if (!*js->password)
        return 0;
    redisReply *r = *js->user ? redisCommand(js->rc, "AUTH %s %s", js->user, js->password)
                              : redisCommand(js->rc, "AUTH %s", js->password);
    if (!r)
        return err_set(e, JOBSTORE_UNAVAILABLE, "redis %s:%d: AUTH: %s", js->host, js->port,
                       js->rc->errstr);
    int bad = r->type == REDIS_REPLY_ERROR ? (reply_unavailable(r->str) ? JOBSTORE_UNAVAILABLE : MLHEP_EAUTH) : 0;
    if (bad == MLHEP_EAUTH)
        err_set(e, MLHEP_EAUTH, "redis %s:%d: login as '%s' refused: %s", js->host, js->port,
                *js->user ? js->user : "default", r->str);
    else if (bad)
        err_set(e, bad, "redis %s:%d: AUTH: %s (status store unavailable for now)", js->host,
                js->port, r->str);
    freeReplyObject(r);
    return bad;
}

static int open_conn(jobstore *js, mlhep_err *e)
{
    if (js->rc)
        redisFree(js->rc);
    struct timeval tv = {5, 0};
    js->rc = redisConnectWithTimeout(js->host, js->port, tv);
    if (!js->rc)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    if (js->rc->err)
        return err_set(e, JOBSTORE_UNAVAILABLE, "redis %s:%d: %s", js->host, js->port, js->rc->errstr);
    redisSetTimeout(js->rc, tv);
    return auth(js, e);
}

static void sha1hex(const char *s, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n && i < 20; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* A retention in days as whole seconds for EXPIRE (0: none; at least 1 s otherwise). */
static long long ttl_seconds(double days)
{
    if (!(days > 0))
        return 0;
    double s = days * 86400.0;
    return s < 1 ? 1 : (long long)(s + 0.5);
}

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

int jobstore_connect(jobstore **out, const mlhep_config *cfg, mlhep_err *e)
{
    *out = NULL;
    jobstore *js = calloc(1, sizeof *js);
    if (!js)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    js->host = xstrdup(cfg->redis_host);
    js->user = xstrdup(cfg->redis_user);
    js->password = xstrdup(cfg->redis_password);
    js->port = cfg->redis_port;
    build_transitions(js->transitions, sizeof js->transitions);
    /* retention: what the state-changing scripts give a job that ends (retire) and what
     * registering prunes from the user's index (prune: ids whose record expired) */
    snprintf(js->retention, sizeof js->retention,
             "local RECORD_TTL = %lld\nlocal LOG_TTL = %lld\n"
             "local function retire(job, log)\n"
             "  if RECORD_TTL > 0 then redis.call('EXPIRE', job, RECORD_TTL) end\n"
             "  if LOG_TTL > 0 then redis.call('EXPIRE', log, LOG_TTL) end end\n"
             /* walks the ids older than the TTL 16 at a time from a cursor (the last
              * score looked at), so that live records cannot hide expired ones */
             "local function prune(index, cursor, prefix, now)\n"
             "  if RECORD_TTL <= 0 then return end\n"
             "  local from = redis.call('GET', cursor) or '-inf'\n"
             "  local old = redis.call('ZRANGEBYSCORE', index, from, tonumber(now) - RECORD_TTL,\n"
             "    'WITHSCORES', 'LIMIT', 0, 16)\n"
             "  for i = 1, #old, 2 do\n"
             "    if redis.call('EXISTS', prefix .. old[i]) == 0 then redis.call('ZREM', index, old[i]) end\n"
             "  end\n"
             "  if #old < 32 then redis.call('DEL', cursor)\n"
             "  else redis.call('SET', cursor, '(' .. old[#old]) end end\n",
             ttl_seconds(cfg->record_ttl_days), ttl_seconds(cfg->log_ttl_days));
    int rc = (!js->host || !js->user || !js->password) ? err_set(e, MLHEP_ENOMEM, "out of memory") : 0;
    for (int i = 0; i < S_COUNT && !rc; i++) {
        size_t n = strlen(js->transitions) + strlen(js->retention) + strlen(bodies[i]) + 1;
        js->text[i] = malloc(n);
        if (!js->text[i]) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        snprintf(js->text[i], n, "%s%s%s", js->transitions, js->retention, bodies[i]);
        sha1hex(js->text[i], js->sha[i]);
    }
    if (!rc)
        rc = open_conn(js, e);
    if (rc) {
        jobstore_close(js);
        return rc;
    }
    *out = js;
    return 0;
}

void jobstore_close(jobstore *js)
{
    if (!js)
        return;
    if (js->rc)
        redisFree(js->rc);
    if (js->password)
        memset(js->password, 0, strlen(js->password));
    free(js->host);
    free(js->user);
    free(js->password);
    for (int i = 0; i < S_COUNT; i++)
        free(js->text[i]);
    free(js);
}

/* Runs a command (argv form, binary safe); reconnects once if the connection broke.
 * Returns the reply (caller frees) or NULL with e set. Error replies are returned as
 * errors too (NULL), with NOPERM turned into MLHEP_EAUTH. */
/* One command; every argument is a C string (hiredis takes their lengths). */
static redisReply *cmd(jobstore *js, int argc, const char **argv, mlhep_err *e)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!js->rc || js->rc->err) {
            if (open_conn(js, e))
                return NULL;
        }
        redisReply *r = redisCommandArgv(js->rc, argc, argv, NULL);
        if (!r) {
            err_set(e, JOBSTORE_UNAVAILABLE, "redis %s:%d: %s", js->host, js->port, js->rc->errstr);
            continue; /* reconnect and retry once */
        }
        if (r->type == REDIS_REPLY_ERROR) {
            int code = reply_unavailable(r->str)                                                ? JOBSTORE_UNAVAILABLE
                       : strncmp(r->str, "NOPERM", 6) == 0 || strncmp(r->str, "NOAUTH", 6) == 0 ? MLHEP_EAUTH
                                                                                                  : MLHEP_EIO;
            err_set(e, code, "redis: %s: %s%s", argv[0], r->str,
                    code == JOBSTORE_UNAVAILABLE ? " (status store unavailable for now)" : "");
            freeReplyObject(r);
            return NULL;
        }
        return r;
    }
    return NULL;
}

static redisReply *script(jobstore *js, int which, int nkeys, const char **keys, int nargs,
                          const char **args, mlhep_err *e)
{
    const char *argv[32];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    int argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = js->sha[which];
    argv[argc++] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    mlhep_err tmp;
    err_clear(&tmp);
    redisReply *r = cmd(js, argc, argv, &tmp);
    if (!r && strstr(tmp.msg, "NOSCRIPT")) {
        argv[0] = "EVAL";
        argv[1] = js->text[which];
        r = cmd(js, argc, argv, e);
    } else if (!r) {
        err_set(e, tmp.code, "%s", tmp.msg);
    }
    return r;
}

/* ---- keys ------------------------------------------------------------------------ */

typedef struct { char job[160], index[128], log[160], hb[160]; } jkeys;

static int make_keys(const char *user, const char *id, jkeys *k, mlhep_err *e)
{
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EINVAL, "invalid user name");
    if (id && !job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid job id (expected 32 lower-case hex digits)");
    snprintf(k->index, sizeof k->index, "mlhep:u:%s:jobs", user);
    if (id) {
        snprintf(k->job, sizeof k->job, "mlhep:u:%s:job:%s", user, id);
        snprintf(k->log, sizeof k->log, "mlhep:u:%s:log:%s", user, id);
        snprintf(k->hb, sizeof k->hb, "mlhep:u:%s:hb:%s", user, id);
    }
    return 0;
}

static int str_eq(const redisReply *r, const char *s)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && strcmp(r->str, s) == 0;
}

/* ---- writes ---------------------------------------------------------------------- */

/* the gateway's queued mark of a job (jobstore_queued_mark): user, id */
#define QUEUED_KEY_FMT "mlhep:u:%s:idem:queued:%s"

/* A registered job's record speaks for it from now on: the gateway's queued mark
 * (jobstore_queued_mark) goes, so that a record that later expires is not shown as
 * queued again. Best effort: a mark left behind expires with its TTL. */
void jobstore_queued_clear(jobstore *js, const char *user, const char *id)
{
    char k[200];
    snprintf(k, sizeof k, QUEUED_KEY_FMT, user, id);
    mlhep_err e;
    const char *argv[] = {"DEL", k};
    redisReply *r = cmd(js, 2, argv, &e);
    if (r)
        freeReplyObject(r);
}

int jobstore_register(jobstore *js, const job *j, const char *name, mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(j->user, j->id, &k, e);
    if (rc)
        return rc;
    char sub[32], now[32];
    snprintf(sub, sizeof sub, "%.3f", j->submitted);
    snprintf(now, sizeof now, "%.3f", job_now());
    char prefix[128], cursor[160];
    snprintf(prefix, sizeof prefix, "mlhep:u:%s:job:", j->user);
    snprintf(cursor, sizeof cursor, "%s:prune", k.index);
    const char *keys[] = {k.job, k.index, cursor};
    const char *args[] = {j->id, j->user, name ? name : "", sub, now, prefix};
    redisReply *r = script(js, S_REGISTER, 3, keys, 6, args, e);
    if (!r)
        return err_prefix(e, "register job %s", j->id);
    freeReplyObject(r);
    jobstore_queued_clear(js, j->user, j->id);
    return 0;
}

int jobstore_take_lease(jobstore *js, const job *j, const char *name, const char *worker, double lease_ttl,
                        int max_attempts, int deliveries, jobstore_take *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    jkeys k;
    int rc = make_keys(j->user, j->id, &k, e);
    if (rc)
        return rc;
    char sub[32], now[32], ttl[32], maxa[16], del[16];
    snprintf(sub, sizeof sub, "%.3f", j->submitted);
    snprintf(now, sizeof now, "%.3f", job_now());
    snprintf(ttl, sizeof ttl, "%lld", (long long)(lease_ttl * 1000) + 1);
    snprintf(maxa, sizeof maxa, "%d", max_attempts);
    snprintf(del, sizeof del, "%d", deliveries);
    const char *keys[] = {k.job, k.index, k.hb, k.log};
    const char *args[] = {j->id, j->user, name ? name : "", sub, now, worker, ttl, maxa, del};
    redisReply *r = script(js, S_TAKE, 4, keys, 9, args, e);
    if (!r)
        return err_prefix(e, "take job %s", j->id);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return err_set(e, MLHEP_EFORMAT, "take job %s: unexpected reply from Redis", j->id);
    }
    const char *what = r->element[0]->str;
    out->outcome = !strcmp(what, "taken")       ? JS_TAKEN
                   : !strcmp(what, "cancelled") ? JS_CANCELLED
                   : !strcmp(what, "exhausted") ? JS_EXHAUSTED
                                                : JS_SKIP;
    out->lease = r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 0;
    out->attempts = r->element[2]->type == REDIS_REPLY_INTEGER ? (int)r->element[2]->integer : 0;
    if (r->element[3]->type == REDIS_REPLY_STRING)
        snprintf(out->state, sizeof out->state, "%s", r->element[3]->str);
    freeReplyObject(r);
    jobstore_queued_clear(js, j->user, j->id);
    return 0;
}

int jobstore_beat(jobstore *js, const char *user, const char *id, long long lease, double lease_ttl,
                  const char *phase, double progress, const char *message, mlhep_err *e)
{
    return jobstore_beat_fields(js, user, id, lease, lease_ttl, phase, progress, message, NULL, 0,
                                e);
}

int jobstore_beat_fields(jobstore *js, const char *user, const char *id, long long lease,
                         double lease_ttl, const char *phase, double progress,
                         const char *message, const char *const *kv, size_t nkv, mlhep_err *e)
{
    static const char *const allowed[] = {"events", "epoch", "epochs", "loss", "val_loss",
                                          "val_auc", NULL};
    if (nkv % 2 || nkv > 2 * JOBSTORE_MAX_FIELDS || (nkv && !phase))
        return err_set(e, MLHEP_EINVAL, "jobstore_beat_fields: bad field list");
    for (size_t i = 0; i < nkv; i += 2) {
        int ok = 0;
        for (int k = 0; allowed[k]; k++)
            ok |= strcmp(kv[i], allowed[k]) == 0;
        if (!ok || !kv[i + 1])
            return err_set(e, MLHEP_EINVAL, "jobstore_beat_fields: field '%s' not allowed", kv[i]);
    }
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    char ls[32], now[32], ttl[32], pr[32];
    snprintf(ls, sizeof ls, "%lld", lease);
    snprintf(now, sizeof now, "%.3f", job_now());
    snprintf(ttl, sizeof ttl, "%lld", (long long)(lease_ttl * 1000) + 1);
    snprintf(pr, sizeof pr, "%.4f", progress);
    const char *keys[] = {k.job, k.hb};
    const char *args[6 + 2 * JOBSTORE_MAX_FIELDS] = {ls, now, ttl, phase ? phase : "", pr,
                                                     message ? message : ""};
    for (size_t i = 0; i < nkv; i++)
        args[6 + i] = kv[i];
    redisReply *r = script(js, S_BEAT, 2, keys, phase ? 6 + (int)nkv : 3, args, e);
    if (!r)
        return err_prefix(e, "heartbeat job %s", id);
    rc = str_eq(r, "ok") ? JS_OK : str_eq(r, "cancel") ? JS_CANCEL : JS_LOST;
    freeReplyObject(r);
    return rc;
}

int jobstore_log(jobstore *js, const char *user, const char *id, long long lease, const char *line,
                 mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    char ls[32] = "";
    if (lease >= 0)
        snprintf(ls, sizeof ls, "%lld", lease);
    char stamped[1200], ts[LOGLINE_STAMP_MAX];
    logline_stamp(job_now(), ts, sizeof ts);
    snprintf(stamped, sizeof stamped, "%s %s", ts, line);
    const char *keys[] = {k.job, k.log};
    const char *args[] = {ls, stamped, "2000"};
    redisReply *r = script(js, S_LOG, 2, keys, 3, args, e);
    if (!r)
        return err_prefix(e, "log job %s", id);
    freeReplyObject(r);
    return 0;
}

int jobstore_finish(jobstore *js, const char *user, const char *id, long long lease, job_state to,
                    const char *error, const char *artifacts, const char *message, mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    char ls[32] = "", now[32];
    if (lease >= 0)
        snprintf(ls, sizeof ls, "%lld", lease);
    snprintf(now, sizeof now, "%.3f", job_now());
    const char *keys[] = {k.job, k.hb, k.log};
    const char *args[] = {ls, job_state_name(to), now, error ? error : "", artifacts ? artifacts : "",
                          message ? message : ""};
    redisReply *r = script(js, S_FINISH, 3, keys, 6, args, e);
    if (!r)
        return err_prefix(e, "finish job %s", id);
    rc = JS_REFUSED;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1) {
        const redisReply *w = r->element[0];
        rc = str_eq(w, "ok") ? JS_OK : str_eq(w, "lost") ? JS_LOST : str_eq(w, "missing") ? JS_MISSING : JS_REFUSED;
    }
    freeReplyObject(r);
    return rc;
}

int jobstore_cancel(jobstore *js, const char *user, const char *id, mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    char now[32];
    snprintf(now, sizeof now, "%.3f", job_now());
    const char *keys[] = {k.job, k.log};
    const char *args[] = {now};
    redisReply *r = script(js, S_CANCEL, 2, keys, 1, args, e);
    if (!r)
        return err_prefix(e, "cancel job %s", id);
    rc = str_eq(r, "cancelled") ? JS_CANCELLED : str_eq(r, "requested") ? JS_REQUESTED
         : str_eq(r, "missing") ? JS_MISSING : JS_REFUSED;
    freeReplyObject(r);
    return rc;
}

int jobstore_handback(jobstore *js, const char *user, const char *id, long long lease,
                      const char *message, mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    char ls[32], now[32];
    snprintf(ls, sizeof ls, "%lld", lease);
    snprintf(now, sizeof now, "%.3f", job_now());
    const char *keys[] = {k.job, k.hb, k.log};
    const char *args[] = {ls, now, message ? message : "handed back"};
    redisReply *r = script(js, S_HANDBACK, 3, keys, 3, args, e);
    if (!r)
        return err_prefix(e, "hand back job %s", id);
    rc = str_eq(r, "ok") ? JS_OK : str_eq(r, "cancelled") ? JS_CANCELLED
         : str_eq(r, "lost") ? JS_LOST : JS_REFUSED;
    freeReplyObject(r);
    return rc;
}

int jobstore_worker_alive(jobstore *js, const char *worker, double ttl, mlhep_err *e)
{
    char key[200], px[32], now[32];
    snprintf(key, sizeof key, "mlhep:w:%s", worker);
    snprintf(px, sizeof px, "%lld", (long long)(ttl * 1000) + 1);
    snprintf(now, sizeof now, "%.3f", job_now());
    const char *argv[] = {"SET", key, now, "PX", px};
    redisReply *r = cmd(js, 5, argv, e);
    if (!r)
        return err_prefix(e, "worker heartbeat");
    freeReplyObject(r);
    return 0;
}

/* ---- reads ----------------------------------------------------------------------- */

int jobstore_get(jobstore *js, const char *user, const char *id, json_t **out, mlhep_err *e)
{
    *out = NULL;
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    const char *argv[] = {"HGETALL", k.job};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return err_prefix(e, "read job %s", id);
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return JS_MISSING;
    }
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING)
            json_object_set_new(o, r->element[i]->str,
                                json_stringn(r->element[i + 1]->str, r->element[i + 1]->len));
    freeReplyObject(r);
    const char *argv2[] = {"PTTL", k.hb};
    r = cmd(js, 2, argv2, e);
    json_object_set_new(o, "heartbeat_ttl_ms",
                        json_integer(r && r->type == REDIS_REPLY_INTEGER ? r->integer : -2));
    if (r)
        freeReplyObject(r);
    *out = o;
    return 0;
}

static int string_array(redisReply *r, json_t **out)
{
    json_t *a = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            json_array_append_new(a, json_stringn(r->element[i]->str, r->element[i]->len));
    *out = a;
    return 0;
}

/* Appends to a the ids of page (a ZREVRANGE reply) whose record still exists (records
 * expire, see record_ttl_days; their index entries are pruned later by a writer), at
 * most limit in all (limit <= 0: no limit). One round trip: the HGETs are pipelined. */
static int append_live(jobstore *js, const char *user, const redisReply *page, json_t *a, int limit,
                       mlhep_err *e)
{
    size_t n = 0;
    for (size_t i = 0; i < page->elements; i++) {
        if (page->element[i]->type != REDIS_REPLY_STRING)
            continue;
        char key[200];
        snprintf(key, sizeof key, "mlhep:u:%s:job:%s", user, page->element[i]->str);
        const char *argv[] = {"HGET", key, "state"};
        if (redisAppendCommandArgv(js->rc, 3, argv, NULL) != REDIS_OK)
            return err_set(e, JOBSTORE_UNAVAILABLE, "redis %s:%d: %s", js->host, js->port, js->rc->errstr);
        n++;
    }
    int rc = 0;
    size_t got = 0;
    for (size_t i = 0; i < page->elements && got < n; i++) {
        if (page->element[i]->type != REDIS_REPLY_STRING)
            continue;
        void *rv = NULL;
        got++;
        if (redisGetReply(js->rc, &rv) != REDIS_OK || !rv) {
            rc = err_set(e, JOBSTORE_UNAVAILABLE, "redis %s:%d: %s", js->host, js->port, js->rc->errstr);
            break; /* the connection is broken: the next command reconnects */
        }
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_ERROR && !rc)
            rc = err_set(e, reply_unavailable(r->str) ? JOBSTORE_UNAVAILABLE : MLHEP_EIO, "redis: HGET: %s", r->str);
        else if (r->type == REDIS_REPLY_STRING && (limit <= 0 || json_array_size(a) < (size_t)limit))
            json_array_append_new(a, json_stringn(page->element[i]->str, page->element[i]->len));
        freeReplyObject(r);
    }
    return rc;
}

int jobstore_list(jobstore *js, const char *user, int limit, json_t **out, mlhep_err *e)
{
    *out = NULL;
    jkeys k;
    int rc = make_keys(user, NULL, &k, e);
    if (rc)
        return rc;
    json_t *a = json_array();
    if (!a)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    long long page = limit > 0 ? limit : 500, start = 0;
    for (;;) {
        char from[24], to[24];
        snprintf(from, sizeof from, "%lld", start);
        snprintf(to, sizeof to, "%lld", start + page - 1);
        const char *argv[] = {"ZREVRANGE", k.index, from, to};
        redisReply *r = cmd(js, 4, argv, e);
        if (!r) {
            json_decref(a);
            return err_prefix(e, "list jobs");
        }
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        rc = n ? append_live(js, user, r, a, limit, e) : 0;
        freeReplyObject(r);
        if (rc) {
            json_decref(a);
            return err_prefix(e, "list jobs");
        }
        if ((long long)n < page || (limit > 0 && json_array_size(a) >= (size_t)limit))
            break;
        start += page;
    }
    *out = a;
    return 0;
}

int jobstore_logs(jobstore *js, const char *user, const char *id, json_t **out, mlhep_err *e)
{
    *out = NULL;
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    const char *argv[] = {"LRANGE", k.log, "0", "-1"};
    redisReply *r = cmd(js, 4, argv, e);
    if (!r)
        return err_prefix(e, "read log of job %s", id);
    string_array(r, out);
    freeReplyObject(r);
    return 0;
}

/* ---- results of a fanned-out specs pass -------------------------------------------- */

#define PARTS_TTL "86400"

static int parts_key(const char *user, const char *id, long long lease, char *out, size_t outsz,
                     mlhep_err *e)
{
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EINVAL, "invalid user name");
    if (!job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid job id (expected 32 lower-case hex digits)");
    snprintf(out, outsz, "mlhep:u:%s:specs:%s:%lld", user, id, lease);
    return 0;
}

static int parts_write(jobstore *js, const char *verb, const char *user, const char *id,
                       long long lease, const char *field, const char *value, mlhep_err *e)
{
    char key[200];
    int rc = parts_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    const char *argv[] = {verb, key, field, value};
    redisReply *r = cmd(js, 4, argv, e);
    if (!r)
        return err_prefix(e, "store specs result of job %s", id);
    freeReplyObject(r);
    const char *argv2[] = {"EXPIRE", key, PARTS_TTL};
    if (!(r = cmd(js, 3, argv2, e)))
        return err_prefix(e, "store specs result of job %s", id);
    freeReplyObject(r);
    return 0;
}

int jobstore_part_put(jobstore *js, const char *user, const char *id, long long lease,
                      const char *field, const char *value, mlhep_err *e)
{
    if (!strcmp(field, "error"))
        return err_set(e, MLHEP_EINVAL, "'error' is not a part name");
    return parts_write(js, "HSET", user, id, lease, field, value, e);
}

int jobstore_part_fail(jobstore *js, const char *user, const char *id, long long lease,
                       const char *reason, mlhep_err *e)
{
    return parts_write(js, "HSETNX", user, id, lease, "error", reason, e);
}

int jobstore_parts_status(jobstore *js, const char *user, const char *id, long long lease,
                          long long *nparts, char *why, size_t whysz, mlhep_err *e)
{
    *nparts = 0;
    if (whysz)
        why[0] = '\0';
    char key[200];
    int rc = parts_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    const char *argv[] = {"HLEN", key};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return err_prefix(e, "specs results of job %s", id);
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    const char *argv2[] = {"HGET", key, "error"};
    if (!(r = cmd(js, 3, argv2, e)))
        return err_prefix(e, "specs results of job %s", id);
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(why, whysz, "%.*s", (int)r->len, r->str);
        n--;
    }
    freeReplyObject(r);
    *nparts = n;
    return 0;
}

int jobstore_parts_get(jobstore *js, const char *user, const char *id, long long lease, size_t first,
                       size_t n, json_t **out, mlhep_err *e)
{
    *out = NULL;
    char key[200];
    int rc = parts_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    if (n == 0 || n > JOBSTORE_PARTS_BATCH)
        return err_set(e, MLHEP_EINVAL, "jobstore_parts_get: 1..%d parts at a time", JOBSTORE_PARTS_BATCH);
    char fields[JOBSTORE_PARTS_BATCH][24];
    const char *argv[JOBSTORE_PARTS_BATCH + 2] = {"HMGET", key};
    for (size_t i = 0; i < n; i++) {
        snprintf(fields[i], sizeof fields[i], "%zu", first + i);
        argv[i + 2] = fields[i];
    }
    redisReply *r = cmd(js, (int)n + 2, argv, e);
    if (!r)
        return err_prefix(e, "specs results of job %s", id);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const redisReply *v = r->type == REDIS_REPLY_ARRAY && i < r->elements ? r->element[i] : NULL;
        json_array_append_new(a, v && v->type == REDIS_REPLY_STRING ? json_stringn(v->str, v->len) : json_null());
    }
    freeReplyObject(r);
    if (!a || json_array_size(a) != n) {
        json_decref(a);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    *out = a;
    return 0;
}

/* the coordinator's workflow for its sub-tasks: the parts key + ":wf" */
static int doc_key(const char *user, const char *id, long long lease, char *out, size_t outsz, mlhep_err *e)
{
    int rc = parts_key(user, id, lease, out, outsz, e);
    if (!rc)
        strncat(out, ":wf", outsz - strlen(out) - 1);
    return rc;
}

int jobstore_specs_doc_put(jobstore *js, const char *user, const char *id, long long lease, const char *doc,
                           mlhep_err *e)
{
    char key[200];
    int rc = doc_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    const char *argv[] = {"SET", key, doc, "EX", PARTS_TTL};
    redisReply *r = cmd(js, 5, argv, e);
    if (!r)
        return err_prefix(e, "store the sub-tasks' workflow of job %s", id);
    freeReplyObject(r);
    return 0;
}

int jobstore_specs_doc_get(jobstore *js, const char *user, const char *id, long long lease, char **doc,
                           mlhep_err *e)
{
    *doc = NULL;
    char key[200];
    int rc = doc_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    const char *argv[] = {"GET", key};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return err_prefix(e, "read the sub-tasks' workflow of job %s", id);
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return JS_MISSING;
    }
    *doc = malloc(r->len + 1);
    if (*doc) {
        memcpy(*doc, r->str, r->len);
        (*doc)[r->len] = '\0';
    }
    freeReplyObject(r);
    return *doc ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
}

int jobstore_parts_drop(jobstore *js, const char *user, const char *id, long long lease,
                        mlhep_err *e)
{
    char key[200];
    int rc = parts_key(user, id, lease, key, sizeof key, e);
    if (rc)
        return rc;
    char dkey[200];
    doc_key(user, id, lease, dkey, sizeof dkey, e);
    const char *argv[] = {"DEL", key, dkey};
    redisReply *r = cmd(js, 3, argv, e);
    if (!r)
        return err_prefix(e, "drop specs results of job %s", id);
    freeReplyObject(r);
    return 0;
}

int jobstore_lease_current(jobstore *js, const char *user, const char *id, long long lease,
                           mlhep_err *e)
{
    jkeys k;
    int rc = make_keys(user, id, &k, e);
    if (rc)
        return rc;
    const char *argv[] = {"HMGET", k.job, "state", "lease"};
    redisReply *r = cmd(js, 4, argv, e);
    if (!r)
        return err_prefix(e, "lease of job %s", id);
    int cur = r->type == REDIS_REPLY_ARRAY && r->elements == 2 && str_eq(r->element[0], "running") &&
              r->element[1]->type == REDIS_REPLY_STRING && atoll(r->element[1]->str) == lease;
    freeReplyObject(r);
    return cur;
}

/* ---- idempotency keys of submissions (the gateway) -------------------------------- */

/* mlhep:u:<user>:idem:<sha256 hex of the client's key>: the client's key is any text
 * (at most 255 bytes), hashed so that it cannot shape the Redis key. */
static int idem_key(const char *user, const char *key, char out[200], mlhep_err *e)
{
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EINVAL, "invalid user name");
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return err_set(e, MLHEP_EINVAL, "Idempotency-Key must be 1 to 255 characters");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mn = 0;
    EVP_Digest(key, n, md, &mn, EVP_sha256(), NULL);
    int o = snprintf(out, 200, "mlhep:u:%s:idem:", user);
    for (unsigned i = 0; i < mn && i < 32; i++)
        o += snprintf(out + o, (size_t)(200 - o), "%02x", md[i]);
    return 0;
}

int jobstore_idem_claim(jobstore *js, const char *user, const char *key, const char *id, int ttl_s,
                        char found[JOB_ID_HEX + 1], int *published, double *claimed_at, mlhep_err *e)
{
    char k[200];
    int rc = idem_key(user, key, k, e);
    if (rc)
        return rc;
    char val[96], ttl[24];
    snprintf(val, sizeof val, "pending %s %.3f", id, job_now());
    snprintf(ttl, sizeof ttl, "%d", ttl_s > 0 ? ttl_s : 86400);
    const char *argv[] = {"SET", k, val, "NX", "EX", ttl, "GET"};
    redisReply *r = cmd(js, 7, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    found[0] = '\0';
    *published = 0;
    *claimed_at = 0;
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return JS_TAKEN; /* ours now */
    }
    char state[16] = "", fid[JOB_ID_HEX + 2] = "";
    double at = 0;
    if (r->type == REDIS_REPLY_STRING)
        sscanf(r->str, "%15s %33s %lf", state, fid, &at);
    freeReplyObject(r);
    if (!job_id_valid(fid))
        return err_set(e, MLHEP_EFORMAT, "idempotency record %s is unreadable", k);
    memcpy(found, fid, JOB_ID_HEX + 1);
    *published = !strcmp(state, "done");
    *claimed_at = at;
    return JS_SKIP; /* someone claimed this key before */
}

static int idem_set(jobstore *js, const char *user, const char *key, const char *val, mlhep_err *e)
{
    char k[200];
    int rc = idem_key(user, key, k, e);
    if (rc)
        return rc;
    const char *argv[] = {"SET", k, val, "XX", "KEEPTTL"};
    redisReply *r = cmd(js, 5, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    freeReplyObject(r);
    return 0;
}

int jobstore_idem_done(jobstore *js, const char *user, const char *key, const char *id, mlhep_err *e)
{
    char val[64];
    snprintf(val, sizeof val, "done %s", id);
    return idem_set(js, user, key, val, e);
}

int jobstore_idem_retake(jobstore *js, const char *user, const char *key, const char *id, mlhep_err *e)
{
    char val[96];
    snprintf(val, sizeof val, "pending %s %.3f", id, job_now());
    return idem_set(js, user, key, val, e);
}

int jobstore_idem_release(jobstore *js, const char *user, const char *key, mlhep_err *e)
{
    char k[200];
    int rc = idem_key(user, key, k, e);
    if (rc)
        return rc;
    const char *argv[] = {"DEL", k};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    freeReplyObject(r);
    return 0;
}

int jobstore_ping(jobstore *js, mlhep_err *e)
{
    const char *argv[] = {"PING"};
    redisReply *r = cmd(js, 1, argv, e);
    if (!r)
        return e->code ? e->code : JOBSTORE_UNAVAILABLE;
    freeReplyObject(r);
    return 0;
}

int jobstore_state_counts(jobstore *js, long long counts[JOB_NSTATES], mlhep_err *e)
{
    for (int i = 0; i < JOB_NSTATES; i++)
        counts[i] = 0;
    const char *argv[] = {"HGETALL", JOBSTORE_STATS_KEY};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    long long in[JOB_NSTATES] = {0}, out[JOB_NSTATES] = {0};
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (!k || !v)
            continue;
        int left = !strncmp(k, "left:", 5), entered = !strncmp(k, "entered:", 8);
        job_state st;
        if ((left || entered) && job_state_parse(k + (left ? 5 : 8), &st) == 0)
            (left ? out : in)[st] = strtoll(v, NULL, 10);
    }
    freeReplyObject(r);
    for (int i = 0; i < JOB_NSTATES; i++)
        counts[i] = in[i] - out[i];
    return 0;
}

/* ---- queued marks (the gateway) ------------------------------------------------------ */

static int queued_key(const char *user, const char *id, char out[200], mlhep_err *e)
{
    if (!job_user_valid(user) || !job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid user name or job id");
    snprintf(out, 200, QUEUED_KEY_FMT, user, id);
    return 0;
}

int jobstore_queued_mark(jobstore *js, const char *user, const char *id, double submitted, int ttl_s,
                         mlhep_err *e)
{
    char k[200], val[32], ttl[24];
    int rc = queued_key(user, id, k, e);
    if (rc)
        return rc;
    snprintf(val, sizeof val, "%.3f", submitted);
    snprintf(ttl, sizeof ttl, "%d", ttl_s > 0 ? ttl_s : 86400);
    const char *argv[] = {"SET", k, val, "EX", ttl};
    redisReply *r = cmd(js, 5, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    freeReplyObject(r);
    return 0;
}

int jobstore_queued_get(jobstore *js, const char *user, const char *id, double *submitted, mlhep_err *e)
{
    char k[200];
    int rc = queued_key(user, id, k, e);
    if (rc)
        return rc;
    const char *argv[] = {"GET", k};
    redisReply *r = cmd(js, 2, argv, e);
    if (!r)
        return e->code ? e->code : MLHEP_EIO;
    rc = JS_MISSING;
    if (r->type == REDIS_REPLY_STRING) {
        char *end;
        double t = strtod(r->str, &end);
        if (end != r->str && isfinite(t)) {
            *submitted = t;
            rc = 0;
        }
    }
    freeReplyObject(r);
    return rc;
}
