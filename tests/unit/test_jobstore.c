/* test_jobstore.c - the job store's one classification of Redis's answers, against a
 * scripted fake Redis on loopback (a thread answering each command with the next canned
 * reply): connection refused or dropped and the transient states (LOADING, BUSY,
 * MASTERDOWN, TRYAGAIN, READONLY, also inside a script's error) are
 * JOBSTORE_UNAVAILABLE; NOPERM is MLHEP_EAUTH; any other error reply is MLHEP_EIO.
 * The scripts' behaviour on a real Redis is covered by tests/cli/service_*.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service/config.h"
#include "service/jobstore.h"
#include "test.h"

/* The fake server: replies[i] answers the i-th command it reads; "CLOSE" drops the
 * connection instead (the client reconnects once, which the server accepts). */
static const char *const *replies;
static int nreplies, served, lfd, port;

static void *fake_redis(void *arg)
{
    (void)arg;
    while (served < nreplies) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            break;
        char buf[4096];
        while (served < nreplies && read(c, buf, sizeof buf) > 0) {
            const char *r = replies[served++];
            if (!strcmp(r, "CLOSE"))
                break;
            if (write(c, r, strlen(r)) < 0)
                break;
        }
        close(c);
    }
    return NULL;
}

/* Runs PING against the scripted replies; returns its code and the message. */
static int ping_with(const char *const *script, int n, char *msg, size_t msgsz)
{
    replies = script;
    nreplies = n;
    served = 0;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4) ||
        getsockname(lfd, (struct sockaddr *)&a, &al))
        return -100;
    port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, fake_redis, NULL);
    mlhep_config cfg;
    mlhep_err e;
    err_clear(&e);
    unsetenv("MLHEP_CONFIG");
    int rc = config_load(&cfg, NULL, &e);
    jobstore *js = NULL;
    if (!rc) {
        free(cfg.redis_host);
        cfg.redis_host = strdup("127.0.0.1");
        cfg.redis_port = port;
        rc = jobstore_connect(&js, &cfg, &e);
    }
    if (!rc)
        rc = jobstore_ping(js, &e);
    snprintf(msg, msgsz, "%s", e.msg);
    jobstore_close(js);
    config_free(&cfg);
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(th, NULL);
    return rc;
}

TEST(transient_states_are_unavailable)
{
    static const char *const states[] = {
        "-LOADING Redis is loading the dataset in memory\r\n",
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
        "-READONLY You can't write against a read only replica. script: c787, on @user_script:1.\r\n",
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    };
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        char msg[MLHEP_ERR_MAX];
        int rc = ping_with(&states[i], 1, msg, sizeof msg);
        CHECKF(rc == JOBSTORE_UNAVAILABLE, "%s -> %d (%s)", states[i], rc, msg);
        CHECK(strstr(msg, "unavailable"));
    }
}

TEST(lasting_errors_are_not)
{
    static const char *const noperm[] = {"-NOPERM this user has no permissions to run the 'ping' command\r\n"};
    static const char *const err[] = {"-ERR unknown command 'PING'\r\n"};
    static const char *const loadingword[] = {"-ERR LOADINGS is not a state\r\n"};
    char msg[MLHEP_ERR_MAX];
    CHECK_EQ_INT(ping_with(noperm, 1, msg, sizeof msg), MLHEP_EAUTH);
    CHECK_EQ_INT(ping_with(err, 1, msg, sizeof msg), MLHEP_EIO);
    CHECK_EQ_INT(ping_with(loadingword, 1, msg, sizeof msg), MLHEP_EIO);
}

TEST(dropped_connections)
{
    /* dropped once: reconnected and answered */
    static const char *const once[] = {"CLOSE", "+PONG\r\n"};
    /* dropped twice (the retry too): unavailable */
    static const char *const twice[] = {"CLOSE", "CLOSE"};
    char msg[MLHEP_ERR_MAX];
    CHECKF(ping_with(once, 2, msg, sizeof msg) == 0, "%s", msg);
    CHECK_EQ_INT(ping_with(twice, 2, msg, sizeof msg), JOBSTORE_UNAVAILABLE);
}

TEST(refused)
{
    /* a port nobody listens on (bound, then closed) */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0);
    close(s);
    mlhep_config cfg;
    mlhep_err e;
    CHECK(config_load(&cfg, NULL, &e) == 0);
    cfg.redis_port = ntohs(a.sin_port);
    jobstore *js = NULL;
    int rc = jobstore_connect(&js, &cfg, &e);
    config_free(&cfg);
    jobstore_close(js);
    CHECK_EQ_INT(rc, JOBSTORE_UNAVAILABLE);
}

int main(void)
{
    RUN(transient_states_are_unavailable);
    RUN(lasting_errors_are_not);
    RUN(dropped_connections);
    RUN(refused);
    return test_summary();
}
