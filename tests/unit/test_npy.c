/* test_npy.c - the .npy writer (base/npy.h): small arrays and large aligned ones (the
 * O_DIRECT path, header padded to 4096 bytes) both read back as a valid version 1.0
 * header, the right shape and the same bytes; a large unaligned array takes the plain
 * path; a file that cannot be created is an error naming it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/npy.h"
#include "test.h"

static char dir[256];

/* reads path whole; checks the header and returns the data offset (0 on a bad file) */
static size_t read_npy(const char *path, uint8_t **buf, size_t *len, char *dict, size_t dcap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    if (*len < 10 || memcmp(*buf, "\x93NUMPY\x01\x00", 8))
        return 0;
    size_t hl = (size_t)(*buf)[8] | (size_t)(*buf)[9] << 8;
    size_t off = 10 + hl;
    if (off > *len || off % 64 || (*buf)[off - 1] != '\n')
        return 0;
    size_t dl = strcspn((char *)*buf + 10, "}") + 1;
    if (dl >= dcap || dl > hl)
        return 0;
    memcpy(dict, *buf + 10, dl);
    dict[dl] = 0;
    return off;
}

static void roundtrip(const char *name, const uint8_t *data, size_t rows, size_t cols, size_t want_off, int *ok)
{
    char path[512], dict[256], want[256];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    mlhep_err e = {0};
    *ok = 0;
    if (npy_write(path, "<f4", data, 4, rows, cols, 2, &e)) {
        printf("  npy_write: %s\n", e.msg);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t off = read_npy(path, &buf, &len, dict, sizeof dict);
    snprintf(want, sizeof want, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    *ok = off == want_off && len == off + rows * cols * 4 && !strcmp(dict, want) &&
          !memcmp(buf + off, data, rows * cols * 4);
    if (!*ok)
        printf("  %s: offset %zu (want %zu), length %zu, dict %s\n", name, off, want_off, len, dict);
    free(buf);
    remove(path);
}

TEST(small_and_large_arrays)
{
    /* 1001 x 331 floats (1.3 MB, not a whole number of 4096-byte blocks): aligned, the
     * direct path; one float further in, the plain path */
    size_t rows = 1001, cols = 331, n = rows * cols * 4 + 4096;
    uint8_t *a = aligned_alloc(4096, (n + 4095) / 4096 * 4096);
    CHECK(a);
    for (size_t i = 0; i < n; i++)
        a[i] = (uint8_t)(i * 2654435761u >> 13);
    int ok;
    roundtrip("small", a, 3, 5, 128, &ok);
    if (ok)
        roundtrip("direct", a, rows, cols, 4096, &ok);
    if (ok)
        roundtrip("unaligned", a + 4, rows, cols, 128, &ok);
    if (ok)
        roundtrip("empty", a, 0, cols, 128, &ok);
    free(a);
    CHECK(ok);
}

TEST(unwritable_path)
{
    float v = 1;
    mlhep_err e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", dir);
    CHECK(npy_write(path, "<f4", &v, 4, 1, 1, 1, &e) != 0);
    CHECK(strstr(e.msg, "no/such/dir") != NULL);
}

int main(void)
{
    /* where /tmp is a tmpfs that refuses O_DIRECT, the plain path runs and gives the same files */
    snprintf(dir, sizeof dir, "/tmp/test_npy.XXXXXX");
    if (!mkdtemp(dir))
        snprintf(dir, sizeof dir, "/tmp");
    RUN(small_and_large_arrays);
    RUN(unwritable_path);
    rmdir(dir);
    return test_summary();
}
