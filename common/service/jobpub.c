/* jobpub.c - see jobpub.h. */
#include "service/jobpub.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/amqp_client.h"
#include "root/srcaccess.h"
#include "service/credbox.h"
#include "service/msgsig.h"

struct jobpub {
    amqpc_params p;
    char *host, *user, *password, *vhost;
    char *key; /* the service key: every message is signed (msgsig.h) */
    amqpc *mq;
    pthread_mutex_t mu;
};

/* with the lock held */
static int connect_locked(jobpub *p, mlhep_err *e)
{
    if (p->mq && amqpc_is_open(p->mq))
        return 0;
    amqpc_close(p->mq);
    p->mq = NULL;
    int rc = amqpc_connect(&p->mq, &p->p, e);
    if (!rc)
        rc = amqpc_channel_open(p->mq, 1, e);
    if (!rc)
        rc = amqpc_confirm_select(p->mq, 1, e);
    if (rc) {
        amqpc_close(p->mq);
        p->mq = NULL;
    }
    return rc;
}

int jobpub_open(const mlhep_config *cfg, int connect_now, jobpub **out, mlhep_err *e)
{
    const char *key;
    int krc = msgsig_key(cfg, "publishing jobs", &key, e);
    if (krc)
        return krc;
    jobpub *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    p->key = strdup(key);
    p->host = strdup(cfg->amqp_host ? cfg->amqp_host : "");
    p->user = strdup(cfg->amqp_user ? cfg->amqp_user : "");
    p->password = strdup(cfg->amqp_password ? cfg->amqp_password : "");
    p->vhost = strdup(cfg->amqp_vhost ? cfg->amqp_vhost : "");
    pthread_mutex_init(&p->mu, NULL);
    if (!p->host || !p->user || !p->password || !p->vhost || !p->key) {
        jobpub_close(p);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    amqpc_params ap = {p->host, cfg->amqp_port, p->user, p->password, p->vhost, cfg->amqp_heartbeat, 10000};
    p->p = ap;
    if (connect_now) {
        pthread_mutex_lock(&p->mu);
        int rc = connect_locked(p, e);
        pthread_mutex_unlock(&p->mu);
        if (rc) {
            jobpub_close(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void jobpub_close(jobpub *p)
{
    if (!p)
        return;
    amqpc_close(p->mq);
    pthread_mutex_destroy(&p->mu);
    if (p->password)
        memset(p->password, 0, strlen(p->password));
    if (p->key)
        memset(p->key, 0, strlen(p->key));
    free(p->key);
    free(p->host);
    free(p->user);
    free(p->password);
    free(p->vhost);
    free(p);
}

/* Signs body as kind and publishes it with routing key rkey; re-opens the connection
 * once if it broke. */
static int publish(jobpub *p, const char *kind, const char *rkey, const char *body, size_t len,
                   const char *msgid, mlhep_err *e)
{
    char sig[MSGSIG_MAX];
    int rc = msgsig_sign(p->key, kind, body, len, sig, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->mu);
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = connect_locked(p, e);
        if (rc)
            break;
        rc = amqpc_publish(p->mq, 1, "jobs", rkey, body, len, msgid, sig, e);
        if (rc == 0 || amqpc_is_open(p->mq))
            break; /* done, or refused on a healthy connection: do not repeat */
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int jobpub_submit(jobpub *p, const char *user, const char *token, json_t *workflow, const char *id,
                  const char *storage_kind, const char *storage_cred, char id_out[JOB_ID_HEX + 1], mlhep_err *e)
{
    if (!storage_kind)
        storage_kind = "token";
    if (strcmp(storage_kind, "token") && strcmp(storage_kind, "x509"))
        return err_set(e, MLHEP_EINVAL, "unknown storage credential kind '%s'", storage_kind);
    if (id && !job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid job id");
    job j;
    int rc = job_init(&j, user, token, workflow, e);
    if (rc)
        return rc;
    if (id)
        memcpy(j.id, id, JOB_ID_HEX + 1);
    snprintf(j.storage_kind, sizeof j.storage_kind, "%s", storage_kind);
    if (storage_cred) /* sealed for this job id, user and kind: only it can open it */
        rc = credbox_seal(p->key, j.id, j.user, storage_kind, storage_cred, strlen(storage_cred), &j.storage_cred, e);
    char *msg = NULL;
    size_t len = 0;
    if (!rc)
        rc = job_message_encode(&j, &msg, &len, e);
    if (!rc)
        rc = publish(p, MSGSIG_JOB, "train", msg, len, j.id, e);
    if (!rc)
        memcpy(id_out, j.id, JOB_ID_HEX + 1);
    free(msg);
    job_clear(&j);
    return rc;
}

int jobpub_cancel(jobpub *p, const char *user, const char *token, const char *id, mlhep_err *e)
{
    char *msg = NULL;
    size_t len = 0;
    int rc = job_control_encode("cancel", id, user, token, &msg, &len, e);
    if (!rc)
        rc = publish(p, MSGSIG_CANCEL, "cancel", msg, len, id, e);
    free(msg);
    return rc;
}

int jobpub_ready(jobpub *p, mlhep_err *e)
{
    if (!p)
        return err_set(e, MLHEP_EINVAL, "no publisher");
    pthread_mutex_lock(&p->mu);
    int rc = connect_locked(p, e);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int jobpub_storage_token(char *tok, mlhep_err *e)
{
    char *v = tok;
    while (isspace((unsigned char)*v))
        v++;
    size_t l = strlen(v);
    while (l && isspace((unsigned char)v[l - 1]))
        l--;
    memmove(tok, v, l);
    tok[l] = '\0';
    if (l == 0)
        return err_set(e, MLHEP_EINVAL, "the storage token is empty");
    if (l >= SRCACCESS_TOKEN_MAX)
        return err_set(e, MLHEP_EINVAL, "the storage token is too long (%zu bytes, at most %d)", l,
                       SRCACCESS_TOKEN_MAX - 1);
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e)
            return err_set(e, MLHEP_EINVAL, "the storage token contains a character not allowed in an HTTP header");
    long long exp = srcaccess_jwt_exp(tok);
    if (exp >= 0 && exp < (long long)time(NULL)) {
        time_t tt = (time_t)exp;
        struct tm tm;
        char when[64];
        if (!gmtime_r(&tt, &tm) || !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm))
            snprintf(when, sizeof when, "%lld", exp);
        return err_set(e, MLHEP_EAUTH, "the storage token expired at %s: get a fresh one", when);
    }
    return 0;
}
