/* gwctx.c - see gwctx.h. */
#include "gateway/gwctx.h"

#include <stdlib.h>
#include <string.h>

#include "service/job.h"

int gwctx_open(const mlhep_config *cfg, const char *const *route_names, size_t nroutes, gw_ctx **out,
               mlhep_err *e)
{
    gw_ctx *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    g->cfg = cfg;
    g->started = job_now();
    g->max_body = (size_t)cfg->gateway_max_body_mb << 20;
    pthread_mutex_init(&g->store_mu, NULL);
    pthread_mutex_init(&g->fmu, NULL);
    pthread_mutex_init(&g->pool.mu, NULL);
    pthread_cond_init(&g->pool.cv, NULL);
    pthread_mutex_init(&g->streams.mu, NULL);
    int rc = auth_open(cfg, &g->auth, e);
    if (!rc)
        rc = pipeline_env_open(cfg->schemas_dir, cfg->data_roots, 0, cfg->test_hooks, &g->penv, e);
    if (!rc) /* workflows naming hosts outside data_hosts are refused at submission */
        rc = pipeline_env_hosts(g->penv, cfg->data_hosts, e);
    if (!rc)
        rc = webfiles_load(cfg->gateway_web_dir, &g->web, e);
    if (!rc)
        rc = promstats_new(route_names, nroutes, &g->stats, e);
    if (!rc)
        rc = ratelimit_new(cfg->gateway_rate, cfg->gateway_burst, cfg->gateway_concurrency, 4096, &g->rl, e);
    if (!rc)
        rc = jobpub_open(cfg, 0, &g->pub, e);
    if (!rc) {
        amqpc_params p = {cfg->amqp_host, cfg->amqp_port, cfg->amqp_user, cfg->amqp_password, cfg->amqp_vhost,
                          cfg->amqp_heartbeat, 10000};
        mlhep_err ce = {0};
        rc = rpcmux_open(&p, cfg->gateway_rpc_connections, cfg->gateway_predict_batch, "predict.requests", &g->rpc, &ce);
        if (rc && e)
            *e = ce;
    }
    if (rc) {
        gwctx_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gwctx_close(gw_ctx *g)
{
    if (!g)
        return;
    rpcmux_close(g->rpc);
    jobpub_close(g->pub);
    ratelimit_free(g->rl);
    promstats_free(g->stats);
    webfiles_free(g->web);
    pipeline_env_free(g->penv);
    auth_close(g->auth);
    for (int i = 0; i < g->nstore; i++)
        jobstore_close(g->store[i]);
    pthread_mutex_destroy(&g->store_mu);
    for (int i = 0; i < GW_FCACHE; i++)
        json_decref(g->fcache[i].doc);
    pthread_mutex_destroy(&g->fmu);
    pthread_mutex_destroy(&g->pool.mu);
    pthread_cond_destroy(&g->pool.cv);
    pthread_mutex_destroy(&g->streams.mu);
    free(g);
}

int gwctx_store_get(gw_ctx *g, jobstore **js, mlhep_err *e)
{
    pthread_mutex_lock(&g->store_mu);
    jobstore *s = g->nstore ? g->store[--g->nstore] : NULL;
    pthread_mutex_unlock(&g->store_mu);
    if (s) {
        *js = s;
        return 0;
    }
    return jobstore_connect(js, g->cfg, e);
}

void gwctx_store_put(gw_ctx *g, jobstore *js, int ok)
{
    if (!js)
        return;
    if (ok) {
        pthread_mutex_lock(&g->store_mu);
        if (g->nstore < GW_STORE_POOL) {
            g->store[g->nstore++] = js;
            js = NULL;
        }
        pthread_mutex_unlock(&g->store_mu);
    }
    jobstore_close(js);
}

int gwctx_ready(gw_ctx *g, mlhep_err *e)
{
    mlhep_err pe = {0};
    if (jobpub_ready(g->pub, &pe))
        return err_set(e, MLHEP_ENET, "broker (jobs): %s", pe.msg);
    if (rpcmux_connected(g->rpc) == 0)
        return err_set(e, MLHEP_ENET, "broker (predictions): not connected");
    jobstore *js;
    mlhep_err se = {0};
    int rc = gwctx_store_get(g, &js, &se);
    if (!rc) {
        rc = jobstore_ping(js, &se);
        gwctx_store_put(g, js, rc == 0);
    }
    if (rc)
        return err_set(e, MLHEP_ENET, "status store (Redis): %s", se.msg);
    return 0;
}
