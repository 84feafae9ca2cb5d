/*
 * hscache.c: compiled Vectorscan databases kept on disk between runs.
 *
 * Compiling a pattern file costs about 1 ms per regular expression (0.45 s
 * for the 1,000-pattern benchmark file), while loading the same database
 * serialised costs under a millisecond. Suricata 8 keeps its Hyperscan
 * databases the same way. An entry is one file:
 *
 *   magic (16 bytes) | key length | database length | checksum (3 x u64)
 *   | key | hs_serialize_database() output
 *
 * The key is every expression, flag and id compiled, the mode, the platform
 * and the library's version; it is compared whole, so an entry is used only
 * for exactly what it was compiled from. The file name is a hash of the key.
 * The checksum catches damaged entries (Vectorscan trusts what it loads).
 *
 * flowgrep often runs as root, and Vectorscan would run whatever a crafted
 * database holds, so only the effective user's files in a directory of the
 * effective user that no one else may write are loaded, and a symbolic link
 * to an entry is never followed. An entry is written under a temporary
 * name and renamed, so a reader never sees half of one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hscache.h"

#define HSCACHE_MAGIC "flowgrep hsdb 1\n"
#define HSCACHE_MAGIC_LEN 16
#define HSCACHE_HEADER_LEN (HSCACHE_MAGIC_LEN + 3 * 8)
/* No entry is larger: a database for 100,000 patterns is some 50 MiB. */
#define HSCACHE_FILE_MAX ((size_t)256 << 20)
#define HSCACHE_SUFFIX ".hsdb"
#define HSCACHE_TMP_SUFFIX ".tmp"
/* A temporary file this old was left by a run that died while writing. */
#define HSCACHE_TMP_STALE_S 3600

static uint64_t
fnv1a64(uint64_t h, const unsigned char *p, size_t n)
{
	while (n-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

bool
hscache_default_dir(char *buf, size_t len)
{
	const char *env = getenv("FLOWGREP_CACHE_DIR");
	int n;

	if (env != NULL)
		n = snprintf(buf, len, "%s", env);
	else if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/')
		n = snprintf(buf, len, "%s/flowgrep", env);
	else if ((env = getenv("HOME")) != NULL && env[0] == '/')
		n = snprintf(buf, len, "%s/.cache/flowgrep", env);
	else
		return false;
	return n > 0 && (size_t)n < len && buf[0] == '/';
}

/* Is st a directory, or with dir false a regular file, only euid writes? */
static bool
owned_safely(const struct stat *st, bool dir)
{
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return false;
	return st->st_uid == geteuid() && (st->st_mode & (S_IWGRP | S_IWOTH))
	    == 0;
}

/* The directory, checked; -1 when missing or not safe (errno ENOENT). */
static int
dir_open(const char *dir, char *errbuf, size_t errlen)
{
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd == -1) {
		if (errbuf != NULL && errno != ENOENT)
			snprintf(errbuf, errlen, "%s: %s", dir,
			    strerror(errno));
		return -1;
	}
	if (fstat(dfd, &st) == -1 || !owned_safely(&st, true)) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "%s: not a directory of uid "
			    "%ld that only it may write to", dir,
			    (long)geteuid());
		(void)close(dfd);
		errno = EPERM;
		return -1;
	}
	return dfd;
}

int
hscache_check_dir(const char *dir, char *errbuf, size_t errlen)
{
	int dfd = dir_open(dir, errbuf, errlen);

	if (dfd >= 0) {
		(void)close(dfd);
		return 0;
	}
	return errno == ENOENT ? 0 : -1;
}

static void
put_u32(unsigned char **p, uint32_t v)
{
	memcpy(*p, &v, sizeof(v));
	*p += sizeof(v);
}

static void
put_u64(unsigned char **p, uint64_t v)
{
	memcpy(*p, &v, sizeof(v));
	*p += sizeof(v);
}

int
hscache_key_make(struct hscache_key *k, const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n, unsigned mode,
    const hs_platform_info_t *plat)
{
	const char *version = hs_version();
	hs_platform_info_t host;
	size_t len, vlen = strlen(version) + 1, i;
	unsigned char *p;

	if (plat == NULL) {
		memset(&host, 0, sizeof(host));
		if (hs_populate_platform(&host) != HS_SUCCESS)
			return -1;
		plat = &host;
	}
	len = vlen + 4 + 3 * 8 + 4 + 4;
	for (i = 0; i < n; i++)
		len += 3 * 4 + strlen(exprs[i]);
	if ((k->bytes = malloc(len)) == NULL)
		return -1;
	k->len = len;
	p = k->bytes;
	memcpy(p, version, vlen);
	p += vlen;
	put_u32(&p, plat->tune);
	put_u64(&p, plat->cpu_features);
	put_u64(&p, plat->reserved1);
	put_u64(&p, plat->reserved2);
	put_u32(&p, mode);
	put_u32(&p, n);
	for (i = 0; i < n; i++) {
		size_t el = strlen(exprs[i]);

		put_u32(&p, ids[i]);
		put_u32(&p, flags[i]);
		put_u32(&p, (uint32_t)el);
		memcpy(p, exprs[i], el);
		p += el;
	}
	return 0;
}

void
hscache_key_free(struct hscache_key *k)
{
	free(k->bytes);
	k->bytes = NULL;
	k->len = 0;
}

void
hscache_entry_name(char *buf, size_t len, const struct hscache_key *k)
{
	snprintf(buf, len, "%016" PRIx64 HSCACHE_SUFFIX,
	    fnv1a64(FNV_OFFSET, k->bytes, k->len));
}

static bool
read_all(int fd, unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = read(fd, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		buf += r;
		len -= (size_t)r;
	}
	return true;
}

static bool
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		buf += r;
		len -= (size_t)r;
	}
	return true;
}

hs_database_t *
hscache_load(const char *dir, const struct hscache_key *k)
{
	char name[64];
	unsigned char *buf = NULL;
	uint64_t key_len, db_len, sum;
	hs_database_t *db = NULL;
	struct stat st;
	int dfd, fd = -1;

	if ((dfd = dir_open(dir, NULL, 0)) == -1)
		return NULL;
	hscache_entry_name(name, sizeof(name), k);
	/* O_NONBLOCK: a FIFO planted under the name must not hang the run. */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !owned_safely(&st, false) ||
	    st.st_size < HSCACHE_HEADER_LEN ||
	    (uint64_t)st.st_size > HSCACHE_FILE_MAX ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    !read_all(fd, buf, (size_t)st.st_size))
		goto out;
	memcpy(&key_len, buf + HSCACHE_MAGIC_LEN, 8);
	memcpy(&db_len, buf + HSCACHE_MAGIC_LEN + 8, 8);
	memcpy(&sum, buf + HSCACHE_MAGIC_LEN + 16, 8);
	if (memcmp(buf, HSCACHE_MAGIC, HSCACHE_MAGIC_LEN) != 0 ||
	    key_len != k->len || db_len == 0 ||
	    key_len > (uint64_t)st.st_size - HSCACHE_HEADER_LEN ||
	    db_len != (uint64_t)st.st_size - HSCACHE_HEADER_LEN - key_len ||
	    memcmp(buf + HSCACHE_HEADER_LEN, k->bytes, k->len) != 0 ||
	    fnv1a64(FNV_OFFSET, buf + HSCACHE_HEADER_LEN, key_len + db_len)
	    != sum)
		goto out;
	if (hs_deserialize_database((const char *)buf + HSCACHE_HEADER_LEN +
	    key_len, db_len, &db) != HS_SUCCESS) {
		db = NULL;
		goto out;
	}
	/* Used now: eviction goes by modification time. */
	(void)futimens(fd, NULL);
out:
	free(buf);
	if (fd != -1)
		(void)close(fd);
	(void)close(dfd);
	return db;
}

/* mkdir -m 0700 of dir and of its parent, when missing. */
static void
dir_create(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	if (mkdir(dir, 0700) == 0 || errno != ENOENT)
		return;
	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return;
	if ((slash = strrchr(parent, '/')) == NULL || slash == parent)
		return;
	*slash = '\0';
	if (mkdir(parent, 0700) == 0 || errno == EEXIST)
		(void)mkdir(dir, 0700);
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

struct entry_age {
	struct timespec mtime;
	char name[64];
};

static int
older_first(const void *a, const void *b)
{
	const struct timespec *x = &((const struct entry_age *)a)->mtime;
	const struct timespec *y = &((const struct entry_age *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	if (x->tv_nsec != y->tv_nsec)
		return x->tv_nsec < y->tv_nsec ? -1 : 1;
	return 0;
}

/*
 * Keeps the HSCACHE_ENTRIES_MAX entries used last and removes temporary
 * files left by runs that died. Touches only names it writes.
 */
static void
evict(int dfd)
{
	struct entry_age *ents = NULL, *grown;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	int fd = dup(dfd);
	DIR *d;

	if (fd == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		bool tmp = de->d_name[0] == '.' &&
		    has_suffix(de->d_name, HSCACHE_TMP_SUFFIX);

		if ((!tmp && !has_suffix(de->d_name, HSCACHE_SUFFIX)) ||
		    strlen(de->d_name) >= sizeof(ents->name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			if (now - st.st_mtim.tv_sec > HSCACHE_TMP_STALE_S)
				(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 32 : 2 * cap;
			if ((grown = realloc(ents, cap * sizeof(*ents))) ==
			    NULL)
				break;
			ents = grown;
		}
		ents[n].mtime = st.st_mtim;
		memcpy(ents[n].name, de->d_name, strlen(de->d_name) + 1);
		n++;
	}
	(void)closedir(d);
	if (n > HSCACHE_ENTRIES_MAX) {
		qsort(ents, n, sizeof(*ents), older_first);
		for (i = 0; i < n - HSCACHE_ENTRIES_MAX; i++)
			(void)unlinkat(dfd, ents[i].name, 0);
	}
	free(ents);
}

bool
hscache_store(const char *dir, const struct hscache_key *k,
    const hs_database_t *db)
{
	char name[64], tmp[96];
	char *ser = NULL;
	size_t ser_len = 0;
	unsigned char header[HSCACHE_HEADER_LEN], *p = header;
	uint64_t sum;
	bool ok = false;
	int dfd, fd;

	if (hs_serialize_database(db, &ser, &ser_len) != HS_SUCCESS)
		return false;
	if (ser_len == 0 ||
	    ser_len > HSCACHE_FILE_MAX - HSCACHE_HEADER_LEN - k->len) {
		free(ser);
		return false;
	}
	dir_create(dir);
	if ((dfd = dir_open(dir, NULL, 0)) == -1) {
		free(ser);
		return false;
	}
	hscache_entry_name(name, sizeof(name), k);
	snprintf(tmp, sizeof(tmp), ".%s.%ld" HSCACHE_TMP_SUFFIX, name,
	    (long)getpid());
	sum = fnv1a64(fnv1a64(FNV_OFFSET, k->bytes, k->len),
	    (const unsigned char *)ser, ser_len);
	memcpy(p, HSCACHE_MAGIC, HSCACHE_MAGIC_LEN);
	p += HSCACHE_MAGIC_LEN;
	put_u64(&p, k->len);
	put_u64(&p, ser_len);
	put_u64(&p, sum);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd != -1) {
		ok = write_all(fd, header, sizeof(header)) &&
		    write_all(fd, k->bytes, k->len) &&
		    write_all(fd, (const unsigned char *)ser, ser_len);
		ok = close(fd) == 0 && ok;
		ok = ok && renameat(dfd, tmp, dfd, name) == 0;
		if (!ok)
			(void)unlinkat(dfd, tmp, 0);
	}
	if (ok)
		evict(dfd);
	(void)close(dfd);
	free(ser);
	return ok;
}
