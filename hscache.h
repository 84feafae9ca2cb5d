/*
 * hscache.h: compiled Vectorscan databases kept on disk between runs, keyed
 * by exactly what was compiled, so a large pattern file is compiled once.
 */
#ifndef FLOWGREP_HSCACHE_H
#define FLOWGREP_HSCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include <hs.h>

#define HSCACHE_ERRBUF_SIZE 512

/*
 * What a database was compiled from: every expression, flag and id, the
 * mode, the platform and the library's version, as bytes compared whole
 * (a hash only names the file).
 */
struct hscache_key {
	unsigned char *bytes;
	size_t len;
};

/*
 * The default directory: $FLOWGREP_CACHE_DIR, else $XDG_CACHE_HOME/flowgrep,
 * else $HOME/.cache/flowgrep. Returns false when there is none (no HOME,
 * a relative or too long path, or FLOWGREP_CACHE_DIR set empty).
 */
bool hscache_default_dir(char *buf, size_t len);

/*
 * Checks that dir, when it exists, is a directory of the effective user
 * that no one else may write to. Returns -1 with errbuf set when it is not
 * (the cache must then be left alone); 0 when it is or does not exist yet.
 */
int hscache_check_dir(const char *dir, char *errbuf, size_t errlen);

/* Builds the key; -1 when out of memory. */
int hscache_key_make(struct hscache_key *k, const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n, unsigned mode,
    const hs_platform_info_t *plat);
void hscache_key_free(struct hscache_key *k);

/* The file name of k's entry in the directory (64 bytes are enough). */
void hscache_entry_name(char *buf, size_t len, const struct hscache_key *k);

/*
 * The database stored under k in dir, or NULL: none, not the effective
 * user's, damaged, or not for this library and platform. Never follows a
 * symbolic link to an entry.
 */
hs_database_t *hscache_load(const char *dir, const struct hscache_key *k);

/*
 * Stores db under k in dir (created, mode 0700, with its parent, when
 * missing), replacing the entry atomically, and keeps the directory to the
 * most recently used HSCACHE_ENTRIES_MAX entries. Failures are quiet: the
 * cache only saves time. Returns true when stored.
 */
#define HSCACHE_ENTRIES_MAX 16
bool hscache_store(const char *dir, const struct hscache_key *k,
    const hs_database_t *db);

#endif
