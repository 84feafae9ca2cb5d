/* log.c: -l payload files of selected flows, named after the flow; -x. */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/*
 * Open files kept between appends, so that a busy flow does not reopen its
 * file for every segment. Past this the least recently used one is closed
 * (counted in evicted); 64 descriptors stay well inside the usual limit of
 * 1024 while covering the flows a run writes to at the same time.
 */
#define FLOWLOG_MAX_OPEN 64

/*
 * A name found to exist by O_EXCL may be removed before we open it again;
 * retrying a few times beats a spurious error, and the bound keeps a hostile
 * directory from spinning us forever.
 */
#define FLOWLOG_OPEN_TRIES 4

/*
 * O_NOFOLLOW refuses a symbolic link planted under a flow's name; O_NONBLOCK
 * keeps a planted FIFO from blocking the open (it has no effect on the
 * regular files we accept); O_NOCTTY keeps a planted terminal from becoming
 * ours. O_APPEND: an existing file is never truncated or overwritten.
 */
#define FLOWLOG_OFLAGS \
	(O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

struct flowlog_file {
	char name[FLOWLOG_NAME_MAX];
	int fd;
	uint64_t used;		/* l->tick at the last append */
};

struct flowlog {
	int dirfd;
	char *dir;		/* as given, without trailing slashes */
	const char *sep;	/* "/" between dir and a name, "" after "/" */
	FILE *paths;		/* -x, or NULL; not ours to close */
	struct flowlog_file open[FLOWLOG_MAX_OPEN];
	unsigned nopen;
	uint64_t tick;
	uint64_t files;		/* created by this run */
	uint64_t evicted;	/* closed because the cache was full */
	uint64_t refused;	/* links and other files not ours to write */
};

static void
set_err(char *errbuf, const char *name, const char *why)
{
	if (errbuf == NULL)
		return;
	if (name == NULL)
		snprintf(errbuf, FLOWLOG_ERRBUF_SIZE, "%s", why);
	else
		snprintf(errbuf, FLOWLOG_ERRBUF_SIZE, "%s: %s", name, why);
}

struct flowlog *
flowlog_open(const char *dir, FILE *paths, char *errbuf)
{
	struct flowlog *l;
	size_t n;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->dir = strdup(dir)) == NULL) {
		set_err(errbuf, NULL, strerror(errno));
		free(l);
		return NULL;
	}
	/* "logs/" would otherwise print as "logs//NAME"; "/" stays "/". */
	n = strlen(l->dir);
	while (n > 1 && l->dir[n - 1] == '/')
		l->dir[--n] = '\0';
	l->sep = n > 0 && l->dir[n - 1] == '/' ? "" : "/";
	l->paths = paths;
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd == -1) {
		set_err(errbuf, NULL,
		    errno == ENOTDIR ? "not a directory" : strerror(errno));
		goto fail;
	}
	/*
	 * Creating a file needs write and search permission on the directory.
	 * Checked now so that a bad -l fails before any packet is read; the
	 * effective IDs count, as they will for the openat calls.
	 */
	if (faccessat(l->dirfd, ".", W_OK | X_OK, AT_EACCESS) == -1) {
		set_err(errbuf, NULL, strerror(errno));
		close(l->dirfd);
		goto fail;
	}
	return l;
fail:
	free(l->dir);
	free(l);
	return NULL;
}

void
flowlog_close(struct flowlog *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nopen; i++)
		close(l->open[i].fd);
	close(l->dirfd);
	free(l->dir);
	free(l);
}

/*
 * The name is built only from a decimal number, two inet_ntop(3) addresses
 * (hex digits, '.' and ':'), decimal ports and "tcp", "udp" or a decimal
 * protocol number, joined by '-'. So it never holds a '/', and it starts with
 * a digit and holds '-', so it is never "." or "..": it always names a file
 * directly inside the log directory. Other protocols are numbered rather
 * than named so that the name never depends on a table of names; their
 * ports are 0 and still printed, which keeps every name six fields long.
 * An ipver other than 4 or 6 also returns -1.
 */
int
flowlog_name(char *buf, size_t len, const struct flowlog_key *k)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pnum[4];
	const char *proto;
	int af, n;

	if (len > 0)
		buf[0] = '\0';
	if (k->ipver != 4 && k->ipver != 6)
		return -1;
	af = k->ipver == 6 ? AF_INET6 : AF_INET;
	/* RFC 5952 for IPv6: glibc's inet_ntop produces the canonical form. */
	if (inet_ntop(af, k->src, src, sizeof(src)) == NULL ||
	    inet_ntop(af, k->dst, dst, sizeof(dst)) == NULL)
		return -1;
	if (k->proto == 6)
		proto = "tcp";
	else if (k->proto == 17)
		proto = "udp";
	else {
		snprintf(pnum, sizeof(pnum), "%u", k->proto);
		proto = pnum;
	}
	n = snprintf(buf, len, "%" PRIu64 "-%s-%u-%s-%u-%s",
	    k->first_ts_ns / 1000000000u, src, k->sport, dst, k->dport, proto);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

/* Closes the least recently used file to make room; returns its slot. */
static int
evict(struct flowlog *l, char *errbuf)
{
	unsigned i, lru = 0;
	int rc = 0;

	for (i = 1; i < l->nopen; i++)
		if (l->open[i].used < l->open[lru].used)
			lru = i;
	/*
	 * A failed close of a regular file can mean lost data (NFS): say so,
	 * for the file it concerns. The descriptor is gone either way.
	 */
	if (close(l->open[lru].fd) == -1 && errno != EINTR) {
		set_err(errbuf, l->open[lru].name, strerror(errno));
		rc = -1;
	}
	l->evicted++;
	l->open[lru] = l->open[--l->nopen];
	return rc;
}

/*
 * Opens name in the directory for appending, creating it if missing; sets
 * *created when this call made it. Anything but a regular file with a single
 * link is refused: a symbolic link or a hard link planted under a flow's
 * name could otherwise make us append to a file outside the directory.
 */
static int
open_file(struct flowlog *l, const char *name, bool *created, char *errbuf)
{
	struct stat st;
	int e, fd = -1, tries;

	*created = false;
	for (tries = 0; tries < FLOWLOG_OPEN_TRIES; tries++) {
		/* O_EXCL never follows a symbolic link, dangling or not. */
		fd = openat(l->dirfd, name, FLOWLOG_OFLAGS | O_CREAT | O_EXCL,
		    0644);
		if (fd != -1) {
			*created = true;
			return fd;
		}
		if (errno != EEXIST && errno != EINTR)
			break;
		if (errno == EINTR)
			continue;
		fd = openat(l->dirfd, name, FLOWLOG_OFLAGS);
		if (fd != -1 || (errno != ENOENT && errno != EINTR))
			break;
	}
	if (fd == -1) {
		e = errno;
		if (e == ELOOP) {
			l->refused++;
			set_err(errbuf, name,
			    "is a symbolic link, not followed");
		} else if (e == EISDIR || e == ENXIO) {
			/* ENXIO: a FIFO without a reader, or a socket. */
			l->refused++;
			set_err(errbuf, name, "not a regular file");
		} else
			set_err(errbuf, name, strerror(e));
		/* The caller looks for EMFILE. */
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		set_err(errbuf, name, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		l->refused++;
		set_err(errbuf, name, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "has other hard links, not written");
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of p, across short writes and signals. */
static int
write_all(int fd, const uint8_t *p, size_t len, const char *name,
    char *errbuf)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_err(errbuf, name,
			    n == 0 ? "no progress writing" : strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The file of k comes from the cache, or is opened and cached, evicting the
 * least recently used file when full. A file is new, printed for -x and
 * counted, when this call's O_EXCL creates it: so each path is printed at
 * most once per run (after an eviction it exists), and a file left by an
 * earlier run is appended to without being printed. The path is printed
 * after the first bytes are written, so that whoever reads it finds them.
 */
int
flowlog_append(struct flowlog *l, const struct flowlog_key *k,
    const uint8_t *p, uint32_t len, char *errbuf)
{
	char name[FLOWLOG_NAME_MAX];
	struct flowlog_file *f = NULL;
	bool created = false;
	unsigned i;
	int fd, rc;

	if (flowlog_name(name, sizeof(name), k) == -1) {
		set_err(errbuf, NULL, "flow key has no valid address family");
		return -1;
	}
	l->tick++;
	for (i = 0; i < l->nopen; i++)
		if (strcmp(l->open[i].name, name) == 0) {
			f = &l->open[i];
			break;
		}
	if (f == NULL) {
		if (l->nopen == FLOWLOG_MAX_OPEN && evict(l, errbuf) == -1)
			return -1;
		fd = open_file(l, name, &created, errbuf);
		/* Out of descriptors: give one of ours back and try again. */
		if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
		    l->nopen > 0) {
			if (evict(l, errbuf) == -1)
				return -1;
			fd = open_file(l, name, &created, errbuf);
		}
		if (fd == -1)
			return -1;
		f = &l->open[l->nopen++];
		memcpy(f->name, name, sizeof(name));
		f->fd = fd;
		if (created)
			l->files++;
	}
	f->used = l->tick;
	rc = write_all(f->fd, p, len, f->name, errbuf);
	if (created && l->paths != NULL) {
		/* Flushed at once: xargs may be waiting for the line. */
		if (fprintf(l->paths, "%s%s%s\n", l->dir, l->sep, name) < 0 ||
		    fflush(l->paths) == EOF) {
			if (rc == 0)
				set_err(errbuf, name, strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

uint64_t
flowlog_files(const struct flowlog *l)
{
	return l->files;
}
