/* test_artstream.c - artifact downloads as streams (gateway/artstream): a file read in
 * pieces at the positions the server asks for, and the .tar.gz of several files (one in
 * a sub-directory, one whose path needs a pax header, one of 3 MB that takes many
 * refills) inflated and parsed back block by block, with reads of 1 byte to 64 KiB;
 * refusals of links, directories, missing files and names that climb; a file cut short
 * after the stream began ends it with an error, never a different archive. */
#include "gateway/artstream.h"
#include "gateway/gwhttp.h"
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/mlhep-test-art.XXXXXX";
static int dfd = -1;
static char longname[160];

static void put_file(const char *name, const unsigned char *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static unsigned char *content(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)sz + 1);
    *n = fread(p, 1, (size_t)sz, f);
    fclose(f);
    return p;
}

static void setup(void)
{
    if (!mkdtemp(dir))
        return;
    char p[512];
    snprintf(p, sizeof p, "%s/plots", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/deep", dir);
    mkdir(p, 0755);
    put_file("a.txt", (const unsigned char *)"hello\n", 6);
    put_file("plots/roc.svg", (const unsigned char *)"<svg></svg>", 11);
    put_file("MANIFEST.json", (const unsigned char *)"{\"files\":[]}", 12);
    size_t big = 3u << 20;
    unsigned char *b = malloc(big);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < big; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)(i < big / 2 ? x : i % 251); /* half noise, half compressible */
    }
    put_file("big.bin", b, big);
    free(b);
    snprintf(longname, sizeof longname, "deep/");
    for (int i = 0; i < 130; i++)
        longname[5 + i] = (char)('a' + i % 26);
    longname[135] = '\0';
    strcat(longname, ".json");
    put_file(longname, (const unsigned char *)"{}", 2);
    snprintf(p, sizeof p, "%s/link.txt", dir);
    if (symlink("a.txt", p)) {
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
}

/* Reads the whole stream with read sizes cycling through sizes[]; *n bytes out. */
static int drain(artstream *s, unsigned char **out, size_t *n)
{
    static const size_t sizes[] = {1, 7, 4096, 65536, 333};
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    uint64_t pos = 0;
    for (int k = 0;; k++) {
        size_t want = sizes[k % 5];
        if (len + want > cap)
            p = realloc(p, cap = 2 * (len + want));
        ssize_t r = artstream_read(s, pos, (char *)p + len, want);
        if (r == GW_READER_END)
            break;
        if (r <= 0 || (size_t)r > want) {
            free(p);
            return -1;
        }
        len += (size_t)r;
        pos += (uint64_t)r;
    }
    *out = p;
    *n = len;
    return 0;
}

static unsigned char *gunzip(const unsigned char *in, size_t n, size_t *outn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 31) != Z_OK)
        return NULL;
    size_t cap = 8u << 20;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = inflate(&z, Z_FINISH);
    *outn = cap - z.avail_out;
    int leftover = z.avail_in != 0;
    inflateEnd(&z);
    if (r != Z_STREAM_END || leftover) {
        free(out);
        return NULL;
    }
    return out;
}

static unsigned long long octal(const unsigned char *f, size_t w)
{
    unsigned long long v = 0;
    for (size_t i = 0; i < w && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (unsigned)(f[i] - '0');
    return v;
}

TEST(file_stream_in_pieces)
{
    artstream *s;
    uint64_t size = 0;
    mlhep_err e = {0};
    CHECK(artstream_file(dfd, "big.bin", &s, &size, &e) == 0);
    CHECK_EQ_INT(size, 3u << 20);
    unsigned char *got;
    size_t n;
    int rc = drain(s, &got, &n);
    artstream_free(s);
    CHECK(rc == 0);
    size_t wn;
    unsigned char *want = content("big.bin", &wn);
    CHECK(n == wn && memcmp(got, want, n) == 0);
    free(got);
    free(want);
    /* a position other than where the last read ended is an error, not a silent skip */
    CHECK(artstream_file(dfd, "plots/roc.svg", &s, &size, &e) == 0);
    char b[4];
    CHECK(artstream_read(s, 0, b, 4) == 4);
    CHECK(artstream_read(s, 7, b, 4) == GW_READER_ERROR);
    artstream_free(s);
}

TEST(refusals)
{
    artstream *s = NULL;
    uint64_t size;
    mlhep_err e = {0};
    CHECK_EQ_INT(artstream_file(dfd, "link.txt", &s, &size, &e), MLHEP_ENOTFOUND);
    CHECK(!s && strstr(e.msg, "link.txt"));
    CHECK_EQ_INT(artstream_file(dfd, "plots", &s, &size, &e), MLHEP_ENOTFOUND);
    CHECK_EQ_INT(artstream_file(dfd, "nope.txt", &s, &size, &e), MLHEP_ENOTFOUND);
    CHECK_EQ_INT(artstream_file(dfd, "../etc/passwd", &s, &size, &e), MLHEP_ENOTFOUND);
    CHECK_EQ_INT(artstream_file(dfd, "plots/../a.txt", &s, &size, &e), MLHEP_ENOTFOUND);
    const char *names[] = {"a.txt", "missing.svg", "MANIFEST.json"};
    CHECK_EQ_INT(artstream_archive(dfd, names, 3, "job", &s, &e), MLHEP_ENOTFOUND);
    CHECK(!s && strstr(e.msg, "missing.svg"));
    const char *linked[] = {"a.txt", "link.txt"};
    CHECK_EQ_INT(artstream_archive(dfd, linked, 2, "job", &s, &e), MLHEP_ENOTFOUND);
}

TEST(archive_round_trip)
{
    const char *names[] = {"a.txt", "plots/roc.svg", "big.bin", longname, "MANIFEST.json"};
    artstream *s;
    mlhep_err e = {0};
    CHECK(artstream_archive(dfd, names, 5, "0123abcd", &s, &e) == 0);
    unsigned char *gz;
    size_t gzn;
    int rc = drain(s, &gz, &gzn);
    artstream_free(s);
    CHECK(rc == 0);
    CHECKF(gzn < (3u << 20) * 3 / 4, "%zu bytes: the compressible half was not compressed", gzn);
    size_t tn;
    unsigned char *tar = gunzip(gz, gzn, &tn);
    free(gz);
    CHECK(tar);
    CHECK(tn % 512 == 0);
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        CHECKF(off + 512 <= tn, "file %d: the archive ends early", i);
        unsigned char *h = tar + off;
        char path[400];
        snprintf(path, sizeof path, "0123abcd/%s", names[i]);
        unsigned sum = 0;
        for (int k = 0; k < 512; k++)
            sum += k >= 148 && k < 156 ? ' ' : h[k];
        CHECKF(octal(h + 148, 8) == sum, "file %d: header checksum", i);
        CHECK(!memcmp(h + 257, "ustar", 6));
        if (h[156] == 'x') { /* pax: "NNN path=...\n" */
            size_t pl = octal(h + 124, 12);
            char rec[600];
            CHECK(pl < sizeof rec);
            memcpy(rec, h + 512, pl);
            rec[pl] = '\0';
            char expect[600];
            snprintf(expect, sizeof expect, "%zu path=%s\n", strlen(path) + 10, path);
            CHECKF(!strcmp(rec, expect), "pax record '%s'", rec);
            CHECK(strlen(path) > 100);
            off += 512 + (pl + 511) / 512 * 512;
            h = tar + off;
        } else {
            CHECKF(!strncmp((char *)h, path, 100), "file %d: name '%.100s'", i, (char *)h);
        }
        CHECK(h[156] == '0');
        size_t sz = octal(h + 124, 12), wn;
        unsigned char *want = content(names[i], &wn);
        CHECKF(sz == wn, "file %d: size %zu vs %zu", i, sz, wn);
        CHECKF(off + 512 + sz <= tn && !memcmp(tar + off + 512, want, sz), "file %d: bytes differ", i);
        free(want);
        off += 512 + (sz + 511) / 512 * 512;
    }
    CHECKF(tn - off == 1024, "%zu bytes after the last file (two zero blocks expected)", tn - off);
    for (size_t k = off; k < tn; k++)
        CHECK(tar[k] == 0);
    free(tar);
}

TEST(empty_archive)
{
    artstream *s;
    mlhep_err e = {0};
    CHECK(artstream_archive(dfd, NULL, 0, "x", &s, &e) == 0);
    unsigned char *gz;
    size_t gzn, tn;
    int rc = drain(s, &gz, &gzn);
    artstream_free(s);
    CHECK(rc == 0);
    unsigned char *tar = gunzip(gz, gzn, &tn);
    free(gz);
    CHECK(tar && tn == 1024);
    free(tar);
}

TEST(file_cut_short_ends_with_an_error)
{
    put_file("cut.bin", (const unsigned char *)"0123456789", 10);
    const char *names[] = {"a.txt", "cut.bin"};
    artstream *s;
    mlhep_err e = {0};
    CHECK(artstream_archive(dfd, names, 2, "j", &s, &e) == 0);
    put_file("cut.bin", (const unsigned char *)"01234", 5); /* after the sizes were taken */
    char buf[4096];
    uint64_t pos = 0;
    ssize_t r;
    while ((r = artstream_read(s, pos, buf, sizeof buf)) > 0)
        pos += (uint64_t)r;
    artstream_free(s);
    CHECK(r == GW_READER_ERROR);
}

int main(void)
{
    setup();
    RUN(file_stream_in_pieces);
    RUN(refusals);
    RUN(archive_round_trip);
    RUN(empty_archive);
    RUN(file_cut_short_ends_with_an_error);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    if (dfd >= 0)
        close(dfd);
    return test_summary();
}
