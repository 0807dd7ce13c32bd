/* arena.h - bump allocator for metadata that lives and dies together (one TTree's
 * branches, leaves, names and basket tables). Allocation only; arena_free() releases
 * everything at once, so parsers that fail half-way leak nothing. Not for hot paths
 * that need to free individually. */
#ifndef MLHEP_ARENA_H
#define MLHEP_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
    size_t total; /* bytes handed out, for limits */
} arena;

void arena_init(arena *a);
void *arena_alloc(arena *a, size_t n);            /* zeroed, 16-byte aligned; NULL if out of memory */
char *arena_strndup(arena *a, const char *s, size_t n); /* NUL-terminated copy */
char *arena_strdup(arena *a, const char *s);
void arena_free(arena *a);

#endif
