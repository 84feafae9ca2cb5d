/* check_log.c: -l file names, appending, refusals, -x lines and the cache. */
#include <sys/resource.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Keep in step with log.c: the number of files it keeps open. */
#define TEST_MAX_OPEN 64

static const uint8_t a_any4[16] = { 0, 0, 0, 0 };
static const uint8_t a_bcast[16] = { 255, 255, 255, 255 };
static const uint8_t a_c84[16] = { 192, 168, 10, 84 };
static const uint8_t a_c190[16] = { 192, 168, 10, 190 };
static const uint8_t a_db81[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t a_db82[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
static const uint8_t a_any6[16] = { 0 };
static const uint8_t a_mapped[16] = { [10] = 0xff, [11] = 0xff,
	1, 2, 3, 4 };
static const uint8_t a_full[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
/* RFC 5952 4.2.3: the first of two equal runs of zeros is shortened. */
static const uint8_t a_tworuns[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	0, 1, 0, 0, 0, 0, 0, 1 };
/* RFC 5952 4.2.2: a single zero field is not shortened. */
static const uint8_t a_onezero[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
	0, 1, 0, 1, 0, 1, 0, 1 };
/* RFC 5952 4.3: lower case. */
static const uint8_t a_upper[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd,
	[15] = 0xef };

#define TS_MAX_S "18446744073"	/* UINT64_MAX ns in whole seconds */

static const struct name_case {
	uint64_t ts;
	uint8_t ipver, proto;
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	const char *want;
} name_cases[] = {
	{ 1098320995999999999ULL, 4, 6, a_c84, a_c190, 22, 28318,
	    "1098320995-192.168.10.84-22-192.168.10.190-28318-tcp" },
	{ 1700000000000000000ULL, 6, 6, a_db81, a_db82, 443, 5555,
	    "1700000000-2001:db8::1-443-2001:db8::2-5555-tcp" },
	{ 0, 4, 17, a_any4, a_bcast, 0, 65535,
	    "0-0.0.0.0-0-255.255.255.255-65535-udp" },
	{ 1ULL << 63, 6, 58, a_any6, a_mapped, 0, 0,
	    "9223372036-::-0-::ffff:1.2.3.4-0-58" },
	{ UINT64_MAX, 4, 1, a_bcast, a_any4, 0, 0,
	    TS_MAX_S "-255.255.255.255-0-0.0.0.0-0-1" },
	{ 999999999, 4, 0, a_c84, a_c84, 65535, 65535,
	    "0-192.168.10.84-65535-192.168.10.84-65535-0" },
	{ 1000000000, 6, 255, a_tworuns, a_onezero, 1, 2,
	    "1-2001:db8::1:0:0:1-1-2001:db8:0:1:1:1:1:1-2-255" },
	{ 1000000000, 6, 17, a_upper, a_any6, 53, 53,
	    "1-2001:db8:abcd::ef-53-::-53-udp" },
	{ UINT64_MAX, 6, 255, a_full, a_full, 65535, 65535,
	    TS_MAX_S "-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff-65535-"
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff-65535-255" },
};

static struct flowlog_key
case_key(const struct name_case *c)
{
	struct flowlog_key k = { .first_ts_ns = c->ts, .ipver = c->ipver,
	    .proto = c->proto, .src = c->src, .dst = c->dst,
	    .sport = c->sport, .dport = c->dport };

	return k;
}

/* A key for test files: flow i of a run, distinct by source port. */
static struct flowlog_key
flow_key(unsigned i)
{
	struct flowlog_key k = { .first_ts_ns = 1700000000000000000ULL,
	    .ipver = 4, .proto = 6, .src = a_c84, .dst = a_c190,
	    .sport = (uint16_t)(1000 + i), .dport = 80 };

	return k;
}

static const char *
key_name(const struct flowlog_key *k)
{
	static char buf[FLOWLOG_NAME_MAX];

	ck_assert_int_gt(flowlog_name(buf, sizeof(buf), k), 0);
	return buf;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh scratch directory per test, removed by rm_tree. */
static char *
scratch(void)
{
	char *d = strdup("/tmp/check_log.XXXXXX");

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void
rm_tree(char *d)
{
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

/* The whole of dir/name in a static buffer; NULL when it cannot be read. */
static const char *
slurp(const char *dir, const char *name)
{
	static char buf[4096];
	char path[PATH_MAX];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

static int
append_str(struct flowlog *l, const struct flowlog_key *k, const char *s,
    char *errbuf)
{
	return flowlog_append(l, k, (const uint8_t *)s, (uint32_t)strlen(s),
	    errbuf);
}

/* Whether this process has dir/name open (through /proc/self/fd). */
static bool
is_open(const char *dir, const char *name)
{
	char want[PATH_MAX], path[PATH_MAX], link[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;
	ssize_t n;

	snprintf(want, sizeof(want), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

/* How many files inside dir this process has open. */
static int
open_in(const char *dir)
{
	char path[PATH_MAX], link[PATH_MAX];
	size_t dl = strlen(dir);
	struct dirent *e;
	int count = 0;
	DIR *d;
	ssize_t n;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, dir, dl) == 0 && link[dl] == '/')
			count++;
	}
	closedir(d);
	return count;
}

START_TEST(test_name_table)
{
	const struct name_case *c = &name_cases[_i];
	struct flowlog_key k = case_key(c);
	char buf[FLOWLOG_NAME_MAX];
	size_t i;
	int n;

	memset(buf, 'X', sizeof(buf));
	n = flowlog_name(buf, sizeof(buf), &k);
	ck_assert_str_eq(buf, c->want);
	ck_assert_int_eq(n, (int)strlen(c->want));
	/* Nothing that could leave the directory, or name it. */
	ck_assert_ptr_null(strchr(buf, '/'));
	ck_assert_str_ne(buf, ".");
	ck_assert_str_ne(buf, "..");
	for (i = 0; buf[i] != '\0'; i++)
		ck_assert_msg(strchr("0123456789abcdefghijklmnopqrstuvwxyz.:-",
		    buf[i]) != NULL, "%s: bad character", buf);
}
END_TEST

START_TEST(test_name_buffer_and_key)
{
	const struct name_case *c = &name_cases[0];
	struct flowlog_key k = case_key(c);
	size_t need = strlen(c->want);
	char buf[FLOWLOG_NAME_MAX];

	/* Room for the name but not its NUL: refused, and left empty. */
	ck_assert_int_eq(flowlog_name(buf, need, &k), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(flowlog_name(buf, need + 1, &k), (int)need);
	ck_assert_str_eq(buf, c->want);
	ck_assert_int_eq(flowlog_name(buf, 0, &k), -1);
	k.ipver = 0;
	ck_assert_int_eq(flowlog_name(buf, sizeof(buf), &k), -1);
	k.ipver = 5;
	ck_assert_int_eq(flowlog_name(buf, sizeof(buf), &k), -1);
}
END_TEST

static const struct open_case {
	const char *what;	/* "missing", "file" */
	const char *err;
} open_cases[] = {
	{ "missing", "No such file or directory" },
	{ "file", "not a directory" },
	{ "empty", "No such file or directory" },
};

START_TEST(test_open_errors)
{
	const struct open_case *c = &open_cases[_i];
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	char path[PATH_MAX];
	char *d = scratch();

	if (strcmp(c->what, "empty") == 0)
		path[0] = '\0';
	else
		snprintf(path, sizeof(path), "%s/%s", d, c->what);
	if (strcmp(c->what, "file") == 0)
		put(d, "file", "x");
	ck_assert_ptr_null(flowlog_open(path, NULL, errbuf));
	ck_assert_str_eq(errbuf, c->err);
	rm_tree(d);
}
END_TEST

START_TEST(test_open_unwritable)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	char *d = scratch();

	if (geteuid() == 0) {
		/* Root ignores the mode bits, so there is nothing to see. */
		printf("test_open_unwritable: skipped (running as root)\n");
		rm_tree(d);
		return;
	}
	ck_assert_int_eq(chmod(d, 0555), 0);
	ck_assert_ptr_null(flowlog_open(d, NULL, errbuf));
	ck_assert_str_eq(errbuf, "Permission denied");
	ck_assert_int_eq(chmod(d, 0700), 0);
	rm_tree(d);
}
END_TEST

/* Two appends in a run, one more in a second run: one file, in order. */
START_TEST(test_append_and_reopen)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	struct flowlog_key k = flow_key(0);
	char *d = scratch(), *out = NULL;
	const char *name = key_name(&k);
	char want[PATH_MAX + 2];
	struct flowlog *l;
	struct stat st;
	size_t outlen = 0;
	FILE *paths;

	ck_assert_ptr_nonnull(paths = open_memstream(&out, &outlen));
	ck_assert_ptr_nonnull(l = flowlog_open(d, paths, errbuf));
	ck_assert_uint_eq(flowlog_files(l), 0);
	ck_assert_int_eq(append_str(l, &k, "abc", errbuf), 0);
	ck_assert_int_eq(append_str(l, &k, "", errbuf), 0);
	ck_assert_int_eq(append_str(l, &k, "def", errbuf), 0);
	ck_assert_uint_eq(flowlog_files(l), 1);
	flowlog_close(l);
	ck_assert_str_eq(slurp(d, name), "abcdef");
	snprintf(want, sizeof(want), "%s/%s\n", d, name);
	fflush(paths);
	ck_assert_str_eq(out, want);

	/* A second run appends and neither counts nor prints the file. */
	ck_assert_ptr_nonnull(l = flowlog_open(d, paths, errbuf));
	ck_assert_int_eq(append_str(l, &k, "ghi", errbuf), 0);
	ck_assert_uint_eq(flowlog_files(l), 0);
	flowlog_close(l);
	ck_assert_str_eq(slurp(d, name), "abcdefghi");
	fflush(paths);
	ck_assert_str_eq(out, want);
	fclose(paths);
	free(out);

	/* The file is created with mode 0644 less the umask. */
	{
		char path[PATH_MAX];
		mode_t um = umask(0);

		umask(um);
		snprintf(path, sizeof(path), "%s/%s", d, name);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0644 & ~um);
	}
	rm_tree(d);
}
END_TEST

/* A file someone else left under the flow's name is appended to. */
START_TEST(test_existing_file)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	struct flowlog_key k = flow_key(1);
	char *d = scratch(), *out = NULL;
	const char *name = key_name(&k);
	struct flowlog *l;
	size_t outlen = 0;
	FILE *paths;

	put(d, name, "earlier\n");
	ck_assert_ptr_nonnull(paths = open_memstream(&out, &outlen));
	ck_assert_ptr_nonnull(l = flowlog_open(d, paths, errbuf));
	ck_assert_int_eq(append_str(l, &k, "later\n", errbuf), 0);
	ck_assert_uint_eq(flowlog_files(l), 0);
	flowlog_close(l);
	ck_assert_str_eq(slurp(d, name), "earlier\nlater\n");
	fclose(paths);
	ck_assert_uint_eq(outlen, 0);
	free(out);
	rm_tree(d);
}
END_TEST

/*
 * Things planted under a flow's name: each refused with a message naming
 * the file, nothing outside the directory touched, nothing counted or
 * printed, and nothing blocks (a FIFO without a reader).
 */
static const struct plant_case {
	const char *what;
	const char *err;
} plant_cases[] = {
	{ "symlink", "is a symbolic link, not followed" },
	{ "dangling", "is a symbolic link, not followed" },
	{ "dir", "not a regular file" },
	{ "fifo", "not a regular file" },
	{ "hardlink", "has other hard links, not written" },
};

START_TEST(test_planted_refused)
{
	const struct plant_case *c = &plant_cases[_i];
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "", want[FLOWLOG_ERRBUF_SIZE];
	char path[PATH_MAX], target[PATH_MAX];
	struct flowlog_key k = flow_key(2);
	char *d = scratch(), *out = NULL;
	char *outside = scratch();
	const char *name = key_name(&k);
	struct flowlog *l;
	size_t outlen = 0;
	FILE *paths;

	put(outside, "victim", "keep");
	snprintf(target, sizeof(target), "%s/%s", outside,
	    strcmp(c->what, "dangling") == 0 ? "new" : "victim");
	snprintf(path, sizeof(path), "%s/%s", d, name);
	if (strcmp(c->what, "symlink") == 0 ||
	    strcmp(c->what, "dangling") == 0)
		ck_assert_int_eq(symlink(target, path), 0);
	else if (strcmp(c->what, "dir") == 0)
		ck_assert_int_eq(mkdir(path, 0755), 0);
	else if (strcmp(c->what, "fifo") == 0)
		ck_assert_int_eq(mkfifo(path, 0644), 0);
	else
		ck_assert_int_eq(link(target, path), 0);

	ck_assert_ptr_nonnull(paths = open_memstream(&out, &outlen));
	ck_assert_ptr_nonnull(l = flowlog_open(d, paths, errbuf));
	ck_assert_int_eq(append_str(l, &k, "evil", errbuf), -1);
	snprintf(want, sizeof(want), "%s: %s", name, c->err);
	ck_assert_str_eq(errbuf, want);
	/* Every later segment is refused the same way. */
	errbuf[0] = '\0';
	ck_assert_int_eq(append_str(l, &k, "evil", errbuf), -1);
	ck_assert_str_eq(errbuf, want);
	ck_assert_uint_eq(flowlog_files(l), 0);
	/* Another flow is not affected. */
	k = flow_key(3);
	ck_assert_int_eq(append_str(l, &k, "fine", errbuf), 0);
	ck_assert_uint_eq(flowlog_files(l), 1);
	flowlog_close(l);
	fclose(paths);

	ck_assert_str_eq(slurp(outside, "victim"), "keep");
	ck_assert_ptr_null(slurp(outside, "new"));
	ck_assert_str_eq(slurp(d, key_name(&k)), "fine");
	free(out);
	rm_tree(outside);
	rm_tree(d);
}
END_TEST

/* -x: one line per new file, DIR as given, in order of creation. */
START_TEST(test_x_lines)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "", dirarg[PATH_MAX];
	char want[4 * PATH_MAX];
	struct flowlog_key c2s = { .first_ts_ns = 1098320995000000000ULL,
	    .ipver = 4, .proto = 6, .src = a_c84, .dst = a_c190,
	    .sport = 22, .dport = 28318 };
	struct flowlog_key s2c = c2s, udp6 = { .first_ts_ns = 5000000000ULL,
	    .ipver = 6, .proto = 17, .src = a_db81, .dst = a_db82,
	    .sport = 53, .dport = 5353 };
	char buf[256];
	char *d = scratch();
	struct flowlog *l;
	FILE *paths;

	s2c.src = a_c190;
	s2c.dst = a_c84;
	s2c.sport = 28318;
	s2c.dport = 22;
	/* A trailing slash is not doubled. */
	snprintf(dirarg, sizeof(dirarg), "%s//", d);
	memset(buf, 0, sizeof(buf));
	ck_assert_ptr_nonnull(paths = fmemopen(buf, sizeof(buf), "w"));
	ck_assert_ptr_nonnull(l = flowlog_open(dirarg, paths, errbuf));
	ck_assert_int_eq(append_str(l, &c2s, "SSH-2.0-client\r\n", errbuf), 0);
	/* Flushed at once: visible before anything else happens. */
	snprintf(want, sizeof(want), "%s/%s\n", d,
	    "1098320995-192.168.10.84-22-192.168.10.190-28318-tcp");
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(append_str(l, &s2c, "SSH-2.0-server\r\n", errbuf), 0);
	ck_assert_int_eq(append_str(l, &c2s, "more", errbuf), 0);
	ck_assert_int_eq(append_str(l, &udp6, "query", errbuf), 0);
	ck_assert_int_eq(append_str(l, &s2c, "more", errbuf), 0);
	ck_assert_uint_eq(flowlog_files(l), 3);
	flowlog_close(l);
	snprintf(want, sizeof(want), "%s/%s\n%s/%s\n%s/%s\n",
	    d, "1098320995-192.168.10.84-22-192.168.10.190-28318-tcp",
	    d, "1098320995-192.168.10.190-28318-192.168.10.84-22-tcp",
	    d, "5-2001:db8::1-53-2001:db8::2-5353-udp");
	ck_assert_str_eq(buf, want);
	fclose(paths);
	ck_assert_str_eq(slurp(d,
	    "1098320995-192.168.10.84-22-192.168.10.190-28318-tcp"),
	    "SSH-2.0-client\r\nmore");
	ck_assert_str_eq(slurp(d,
	    "1098320995-192.168.10.190-28318-192.168.10.84-22-tcp"),
	    "SSH-2.0-server\r\nmore");
	rm_tree(d);
}
END_TEST

/* The least recently used file is the one closed when the cache is full. */
START_TEST(test_lru_order)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	struct flowlog_key k;
	char *d = scratch();
	struct flowlog *l;
	unsigned i;

	ck_assert_ptr_nonnull(l = flowlog_open(d, NULL, errbuf));
	for (i = 0; i < TEST_MAX_OPEN; i++) {
		k = flow_key(i);
		ck_assert_int_eq(append_str(l, &k, "a", errbuf), 0);
	}
	ck_assert_int_eq(open_in(d), TEST_MAX_OPEN);
	k = flow_key(0);
	ck_assert_int_eq(append_str(l, &k, "b", errbuf), 0);
	k = flow_key(TEST_MAX_OPEN);
	ck_assert_int_eq(append_str(l, &k, "a", errbuf), 0);
	ck_assert_int_eq(open_in(d), TEST_MAX_OPEN);
	k = flow_key(1);
	ck_assert(!is_open(d, key_name(&k)));
	k = flow_key(0);
	ck_assert(is_open(d, key_name(&k)));
	k = flow_key(TEST_MAX_OPEN);
	ck_assert(is_open(d, key_name(&k)));
	/* Reopened after eviction: appended, not counted again. */
	k = flow_key(1);
	ck_assert_int_eq(append_str(l, &k, "b", errbuf), 0);
	ck_assert(is_open(d, key_name(&k)));
	k = flow_key(2);
	ck_assert(!is_open(d, key_name(&k)));
	ck_assert_uint_eq(flowlog_files(l), TEST_MAX_OPEN + 1);
	flowlog_close(l);
	ck_assert_int_eq(open_in(d), 0);
	k = flow_key(0);
	ck_assert_str_eq(slurp(d, key_name(&k)), "ab");
	k = flow_key(1);
	ck_assert_str_eq(slurp(d, key_name(&k)), "ab");
	k = flow_key(2);
	ck_assert_str_eq(slurp(d, key_name(&k)), "a");
	rm_tree(d);
}
END_TEST

/* Three times the cache's worth of flows, interleaved: every byte lands. */
START_TEST(test_lru_many)
{
	enum { NFLOWS = 3 * TEST_MAX_OPEN + 5, ROUNDS = 3 };
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "", seg[32], want[128];
	char *d = scratch(), *out = NULL, *line, *save;
	struct flowlog_key k;
	struct flowlog *l;
	size_t outlen = 0;
	unsigned i, r, lines = 0;
	FILE *paths;

	ck_assert_ptr_nonnull(paths = open_memstream(&out, &outlen));
	ck_assert_ptr_nonnull(l = flowlog_open(d, paths, errbuf));
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < NFLOWS; i++) {
			k = flow_key(i);
			snprintf(seg, sizeof(seg), "<%u.%u>", i, r);
			ck_assert_int_eq(append_str(l, &k, seg, errbuf), 0);
			ck_assert_int_le(open_in(d), TEST_MAX_OPEN);
		}
	ck_assert_uint_eq(flowlog_files(l), NFLOWS);
	flowlog_close(l);
	fclose(paths);
	for (i = 0; i < NFLOWS; i++) {
		k = flow_key(i);
		snprintf(want, sizeof(want), "<%u.0><%u.1><%u.2>", i, i, i);
		ck_assert_str_eq(slurp(d, key_name(&k)), want);
	}
	/* Each path exactly once, in order of creation. */
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		k = flow_key(lines);
		snprintf(want, sizeof(want), "%s/%s", d, key_name(&k));
		ck_assert_str_eq(line, want);
		lines++;
	}
	ck_assert_uint_eq(lines, NFLOWS);
	free(out);
	rm_tree(d);
}
END_TEST

/*
 * A file size limit makes the kernel take only part of a write: the rest
 * must be retried, which then fails with EFBIG and names the file.
 */
START_TEST(test_short_write)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "", want[FLOWLOG_ERRBUF_SIZE];
	static uint8_t data[1500];
	struct flowlog_key k = flow_key(0);
	char path[PATH_MAX];
	struct rlimit old, lim;
	char *d = scratch();
	struct flowlog *l;
	struct stat st;
	int rc;

	memset(data, 'z', sizeof(data));
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1000;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_ptr_nonnull(l = flowlog_open(d, NULL, errbuf));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = flowlog_append(l, &k, data, sizeof(data), errbuf);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_int_eq(rc, -1);
	snprintf(want, sizeof(want), "%s: %s", key_name(&k), strerror(EFBIG));
	ck_assert_str_eq(errbuf, want);
	snprintf(path, sizeof(path), "%s/%s", d, key_name(&k));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 1000);
	/* Created, so counted, even though the write then failed. */
	ck_assert_uint_eq(flowlog_files(l), 1);
	flowlog_close(l);
	rm_tree(d);
}
END_TEST

START_TEST(test_bad_key)
{
	char errbuf[FLOWLOG_ERRBUF_SIZE] = "";
	struct flowlog_key k = flow_key(0);
	char *d = scratch();
	struct flowlog *l;

	k.ipver = 0;
	ck_assert_ptr_nonnull(l = flowlog_open(d, NULL, errbuf));
	ck_assert_int_eq(append_str(l, &k, "x", errbuf), -1);
	ck_assert_str_eq(errbuf, "flow key has no valid address family");
	ck_assert_uint_eq(flowlog_files(l), 0);
	flowlog_close(l);
	flowlog_close(NULL);
	rm_tree(d);
}
END_TEST

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tn = tcase_create("names");
	TCase *tf = tcase_create("files");

	tcase_add_loop_test(tn, test_name_table, 0, NELEMS(name_cases));
	tcase_add_test(tn, test_name_buffer_and_key);
	suite_add_tcase(s, tn);
	tcase_add_loop_test(tf, test_open_errors, 0, NELEMS(open_cases));
	tcase_add_test(tf, test_open_unwritable);
	tcase_add_test(tf, test_append_and_reopen);
	tcase_add_test(tf, test_existing_file);
	tcase_add_loop_test(tf, test_planted_refused, 0, NELEMS(plant_cases));
	tcase_add_test(tf, test_x_lines);
	tcase_add_test(tf, test_lru_order);
	tcase_add_test(tf, test_lru_many);
	tcase_add_test(tf, test_short_write);
	tcase_add_test(tf, test_bad_key);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
