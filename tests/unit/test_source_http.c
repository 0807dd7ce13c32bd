/* test_source_http.c - the HTTP range-answer parser (multipart/byteranges, single
 * range, whole file, errors; bodies cut into pieces of every size) and the bearer
 * token discovery. Transfers against a real server are tests/cli/remote_*.sh. */
#include <stdlib.h>
#include <unistd.h>

#include "root/source_http.h"
#include "root/srcaccess.h"
#include "test.h"

static char file[4096];

static void init_file(void)
{
    for (size_t i = 0; i < sizeof file; i++)
        file[i] = (char)(i * 7 + 3);
}

/* multipart body with the given parts (a, b inclusive), boundary B */
static size_t mp_body(char *out, const char *b, const uint64_t (*parts)[2], size_t np)
{
    size_t pos = (size_t)sprintf(out, "\r\n");
    for (size_t i = 0; i < np; i++) {
        pos += (size_t)sprintf(out + pos, "--%s\r\nContent-type: application/octet-stream\r\ncontent-RANGE: bytes %llu-%llu/4096\r\n\r\n",
                               b, (unsigned long long)parts[i][0], (unsigned long long)parts[i][1]);
        memcpy(out + pos, file + parts[i][0], (size_t)(parts[i][1] - parts[i][0] + 1));
        pos += (size_t)(parts[i][1] - parts[i][0] + 1);
        pos += (size_t)sprintf(out + pos, "\r\n");
    }
    pos += (size_t)sprintf(out + pos, "--%s--\r\n", b);
    return pos;
}

typedef struct want {
    uint64_t off;
    size_t len;
} want;

static int run(const char *head, const char *body, size_t blen, size_t piece, const want *w, size_t n, char bufs[][512],
               mlhep_err *e)
{
    source_range r[8];
    for (size_t i = 0; i < n; i++) {
        memset(bufs[i], 0, 512);
        r[i] = (source_range){w[i].off, w[i].len, bufs[i]};
    }
    return http_parse_answer(head, strlen(head), body, blen, piece, r, n, e);
}

static int filled(const want *w, size_t n, char bufs[][512])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(bufs[i], file + w[i].off, w[i].len) != 0)
            return 0;
    return 1;
}

TEST(multipart_any_piece_size)
{
    const want w[] = {{10, 20}, {100, 1}, {1000, 300}};
    const uint64_t parts[][2] = {{1000, 1299}, {10, 29}, {100, 100}}; /* out of order */
    static char body[8192];
    size_t bl = mp_body(body, "3d6b6a416f9b5", parts, 3);
    char bufs[3][512];
    mlhep_err e;
    const char *head = "HTTP/1.1 206 Partial Content\r\nContent-Length: 999\r\n"
                       "Content-Type: multipart/byteranges; boundary=3d6b6a416f9b5\r\n\r\n";
    for (size_t piece = 1; piece <= bl; piece += piece < 40 ? 1 : 97) {
        CHECKF(run(head, body, bl, piece, w, 3, bufs, &e) == 0, "piece %zu: %s", piece, e.msg);
        CHECK(filled(w, 3, bufs));
    }
    /* quoted boundary, and a server that merged our ranges into one part */
    const uint64_t merged[][2] = {{0, 150}, {1000, 1299}};
    bl = mp_body(body, "xyz", merged, 2);
    CHECK(run("HTTP/1.1 206 Partial\r\ncontent-type: multipart/byteranges; boundary=\"xyz\"\r\n\r\n", body, bl, 5, w,
              3, bufs, &e) == 0);
    CHECK(filled(w, 3, bufs));
}

TEST(single_range_and_whole_file_answers)
{
    const want w[] = {{10, 20}, {100, 1}, {1000, 300}};
    char bufs[3][512];
    mlhep_err e;
    /* a 206 with one range to a 3-range request: the first arrives, the rest is asked again */
    CHECK(run("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-29/4096\r\n\r\n", file + 10, 20, 3, w, 3, bufs,
              &e) == 1);
    CHECK(memcmp(bufs[0], file + 10, 20) == 0);
    /* a 200 with the whole file: everything is taken from it, the rest cut off */
    CHECK(run("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n", file, sizeof file, 256, w, 3, bufs, &e) == 0);
    CHECK(filled(w, 3, bufs));
    /* one range, answered exactly */
    CHECK(run("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1299/4096\r\n\r\n", file + 1000, 300, 0, w + 2,
              1, bufs, &e) == 0);
    CHECK(memcmp(bufs[0], file + 1000, 300) == 0);
    /* redirect then answer: the last status counts */
    CHECK(run("HTTP/1.1 302 Found\r\nLocation: x\r\n\r\nHTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-100/4096\r\n\r\n",
              file + 100, 1, 0, w + 1, 1, bufs, &e) == 0);
}

TEST(errors)
{
    const want w[] = {{10, 20}, {100, 1}};
    char bufs[2][512];
    mlhep_err e;
    CHECK(run("HTTP/1.1 404 Not Found\r\n\r\n", "nope", 4, 0, w, 1, bufs, &e) == MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "404") != NULL, "%s", e.msg);
    CHECK(run("HTTP/1.1 403 Forbidden\r\n\r\n", "", 0, 0, w, 1, bufs, &e) == MLHEP_EAUTH);
    CHECK(run("HTTP/1.1 503 Service Unavailable\r\n\r\n", "", 0, 0, w, 1, bufs, &e) == MLHEP_ENET);
    CHECK(run("HTTP/1.1 416 Range Not Satisfiable\r\n\r\n", "", 0, 0, w, 1, bufs, &e) == MLHEP_EFORMAT);
    /* short single range */
    CHECK(run("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-29/4096\r\n\r\n", file + 10, 12, 0, w, 1, bufs,
              &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "short answer") != NULL, "%s", e.msg);
    /* part without Content-Range */
    const char *bad = "--b\r\nContent-Type: x\r\n\r\n0123456789\r\n--b--\r\n";
    CHECK(run("HTTP/1.1 206 P\r\nContent-Type: multipart/byteranges; boundary=b\r\n\r\n", bad, strlen(bad), 4, w, 2,
              bufs, &e) == MLHEP_ENET);
    CHECKF(strstr(e.msg, "malformed") != NULL, "%s", e.msg);
    /* multipart body cut in the middle of a part */
    static char body[4096];
    const uint64_t parts[][2] = {{10, 29}, {100, 100}};
    size_t bl = mp_body(body, "b", parts, 2);
    CHECK(run("HTTP/1.1 206 P\r\nContent-Type: multipart/byteranges; boundary=b\r\n\r\n", body, bl / 2, 7, w, 2, bufs,
              &e) != 0);
    /* bad arguments */
    const want ov[] = {{10, 20}, {15, 5}};
    CHECK(run("HTTP/1.1 200 OK\r\n\r\n", file, sizeof file, 0, ov, 2, bufs, &e) == MLHEP_EINVAL);
}

TEST(bearer_token_discovery)
{
    char tok[128];
    mlhep_err e;
    unsetenv("MLHEP_HTTP_TOKEN");
    unsetenv("BEARER_TOKEN");
    unsetenv("BEARER_TOKEN_FILE");
    CHECK(http_bearer_token(tok, sizeof tok, &e) == 0 && tok[0] == 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mlhep-token-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("  eyJfile.token  \n", f);
    fclose(f);
    setenv("BEARER_TOKEN_FILE", path, 1);
    CHECK(http_bearer_token(tok, sizeof tok, &e) == 0);
    CHECKF(strcmp(tok, "eyJfile.token") == 0, "'%s'", tok);
    setenv("BEARER_TOKEN", "env.token", 1);
    CHECK(http_bearer_token(tok, sizeof tok, &e) == 0 && strcmp(tok, "env.token") == 0);
    setenv("MLHEP_HTTP_TOKEN", "mine", 1);
    CHECK(http_bearer_token(tok, sizeof tok, &e) == 0 && strcmp(tok, "mine") == 0);
    setenv("MLHEP_HTTP_TOKEN", "bad\r\nX-Injected: 1", 1);
    CHECK(http_bearer_token(tok, sizeof tok, &e) == MLHEP_EINVAL);
    setenv("MLHEP_HTTP_TOKEN", "a-token-much-too-long-for-the-buffer", 1);
    CHECK(http_bearer_token(tok, 8, &e) == MLHEP_EINVAL);
    unsetenv("MLHEP_HTTP_TOKEN");
    unsetenv("BEARER_TOKEN");
    setenv("BEARER_TOKEN_FILE", "/nonexistent/token", 1);
    CHECK(http_bearer_token(tok, sizeof tok, &e) == MLHEP_EIO);
    unsetenv("BEARER_TOKEN_FILE");
    unlink(path);
}

/* the expiry of JWT-shaped tokens and of X.509 proxies, seen before anything is sent */
TEST(credential_expiry)
{
    /* {"alg":"none"} . {"sub":"a","exp":1000} . sig */
    CHECK(srcaccess_jwt_exp("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoxMDAwfQ.c2ln") == 1000);
    CHECK(srcaccess_jwt_exp("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.c2ln") == -1); /* no exp */
    CHECK(srcaccess_jwt_exp("opaque-token") == -1);
    CHECK(srcaccess_jwt_exp("a.b.c.d") == -1);
    CHECK(srcaccess_jwt_exp("a.!!!.c") == -1);
    char tok[256];
    const char *from;
    mlhep_err e;
    srcaccess a = {.token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoxMDAwfQ.c2ln", .token_origin = "the job's token"};
    CHECK(srcaccess_token(&a, tok, sizeof tok, &from, &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "the job's token") && strstr(e.msg, "expired at 1970-01-01 00:16:40 UTC") &&
           !strstr(e.msg, "eyJ"), "%s", e.msg);
    a.token = "opaque";
    CHECK(srcaccess_token(&a, tok, sizeof tok, &from, &e) == 0 && !strcmp(tok, "opaque") && !strcmp(from, "the job's token"));
    CHECK(srcaccess_check_proxy("/nonexistent/x509up", NULL, &e) == MLHEP_EIO);
}

static size_t slurp(const char *name, char *buf, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "fuzz/corpus/proxy_pem/%s", name); /* tests/run.sh runs from the top */
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(buf, 1, n - 1, f) : 0;
    if (f)
        fclose(f);
    buf[got] = 0;
    return got;
}

/* A proxy a user hands a job (the fuzz seeds: an EC certificate + key valid until 2126,
 * the same key under a certificate that expired in 2020, the certificate alone). */
TEST(proxy_pem_checks)
{
    static char valid[4096], expired[4096], certonly[4096], mixed[8192];
    size_t lv = slurp("valid", valid, sizeof valid), le = slurp("expired", expired, sizeof expired),
           lc = slurp("certonly", certonly, sizeof certonly);
    CHECK(lv > 0 && le > 0 && lc > 0);
    long long until = 0;
    mlhep_err e;
    CHECK(srcaccess_check_proxy_pem(valid, lv, &until, &e) == 0 && until > 4000000000LL);
    CHECK(srcaccess_check_proxy_pem(expired, le, &until, &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "the X.509 proxy expired at 2020-01-02 00:00:00 UTC") && !strstr(e.msg, "BEGIN"), "%s", e.msg);
    CHECK(srcaccess_check_proxy_pem(certonly, lc, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "no private key"));
    /* the 2020 certificate with the valid one's key: not its key */
    const char *k = strstr(valid, "-----BEGIN PRIVATE KEY");
    const char *c = strstr(expired, "-----BEGIN PRIVATE KEY");
    CHECK(k && c);
    int lm = snprintf(mixed, sizeof mixed, "%.*s%s", (int)(c - expired), expired, k);
    CHECK(srcaccess_check_proxy_pem(mixed, (size_t)lm, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "does not match"));
    CHECK(srcaccess_check_proxy_pem("", 0, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "empty"));
    CHECK(srcaccess_check_proxy_pem("junk", 4, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "no PEM certificate"));
    CHECK(srcaccess_check_proxy_pem(valid, SRCACCESS_PROXY_MAX + 1, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "too long"));
}

int main(void)
{
    init_file();
    RUN(proxy_pem_checks);
    RUN(multipart_any_piece_size);
    RUN(single_range_and_whole_file_answers);
    RUN(errors);
    RUN(bearer_token_discovery);
    RUN(credential_expiry);
    return test_summary();
}
