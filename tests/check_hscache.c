/* check_hscache.c: compiled databases on disk: exact keys, damage, safety, eviction. */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hscache.h"
#include "match.h"

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char tmpdir[] = "/tmp/check_hscache.XXXXXX";
static char cachedir[sizeof(tmpdir) + 32];

static const char *const exprs[] = { "evil[0-9]{2,4}\\.(ru|net)",
    "User-Agent: Bad", "passw(or)?d=" };
static const unsigned flags[] = { 0, HS_FLAG_CASELESS, 0 };
static const unsigned ids[] = { 0, 1, 2 };

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* Two levels missing: the store creates both. */
	snprintf(cachedir, sizeof(cachedir), "%s/cache/flowgrep", tmpdir);
}

static void
teardown(void)
{
	char cmd[sizeof(tmpdir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

static hs_database_t *
compile(const char *const *e, const unsigned *f, const unsigned *i, int n)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;

	ck_assert_int_eq(hs_compile_multi(e, f, i, (unsigned)n, HS_MODE_STREAM,
	    NULL, &db, &err), HS_SUCCESS);
	return db;
}

static void
make_key(struct hscache_key *k, const char *const *e, const unsigned *f,
    const unsigned *i, int n)
{
	ck_assert_int_eq(hscache_key_make(k, e, f, i, (unsigned)n,
	    HS_MODE_STREAM, NULL), 0);
}

static int
on_hit(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int fl, void *ctx)
{
	unsigned *hits = ctx;

	(void)from;
	(void)fl;
	/* id in the low byte, end offset above. */
	hits[hits[0] + 1] = id | (unsigned)(to << 8);
	hits[0]++;
	return 0;
}

/* The reports of db over two chunks: id | end << 8 each, count first. */
static void
scan(const hs_database_t *db, unsigned *hits)
{
	static const char a[] = "GET / HTTP/1.1\r\nuser-agent: bad\r\nHost: evi";
	static const char b[] = "l123.ru\r\n\r\npassword=1";
	hs_scratch_t *scr = NULL;
	hs_stream_t *st = NULL;

	hits[0] = 0;
	ck_assert_int_eq(hs_alloc_scratch(db, &scr), HS_SUCCESS);
	ck_assert_int_eq(hs_open_stream(db, 0, &st), HS_SUCCESS);
	ck_assert_int_eq(hs_scan_stream(st, a, sizeof(a) - 1, 0, scr, on_hit,
	    hits), HS_SUCCESS);
	ck_assert_int_eq(hs_scan_stream(st, b, sizeof(b) - 1, 0, scr, on_hit,
	    hits), HS_SUCCESS);
	ck_assert_int_eq(hs_close_stream(st, scr, on_hit, hits), HS_SUCCESS);
	hs_free_scratch(scr);
}

static void
entry_path(char *buf, size_t len)
{
	struct hscache_key k;
	char name[64];

	make_key(&k, exprs, flags, ids, 3);
	hscache_entry_name(name, sizeof(name), &k);
	hscache_key_free(&k);
	snprintf(buf, len, "%s/%s", cachedir, name);
}

/* Stores the three expressions; returns their key. */
static void
store_one(struct hscache_key *k)
{
	hs_database_t *db = compile(exprs, flags, ids, 3);

	make_key(k, exprs, flags, ids, 3);
	ck_assert(hscache_store(cachedir, k, db));
	hs_free_database(db);
}

START_TEST(test_roundtrip)
{
	struct hscache_key k;
	hs_database_t *db = compile(exprs, flags, ids, 3), *back;
	unsigned want[16], got[16];
	char path[512];
	struct stat st;

	make_key(&k, exprs, flags, ids, 3);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	ck_assert(hscache_store(cachedir, &k, db));
	ck_assert_int_eq(stat(cachedir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	entry_path(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	back = hscache_load(cachedir, &k);
	ck_assert_ptr_nonnull(back);
	scan(db, want);
	scan(back, got);
	/* Three patterns found, across the chunk boundary too. */
	ck_assert_uint_eq(want[0], 3);
	ck_assert_mem_eq(got, want, sizeof(unsigned) * (want[0] + 1));
	hs_free_database(back);
	hs_free_database(db);
	hscache_key_free(&k);
}
END_TEST

/* Anything compiled differently misses, even in the same file name slot. */
START_TEST(test_key_exact)
{
	static const char *const other_exprs[] = { "evil[0-9]{2,4}\\.(ru|net)",
	    "User-Agent: Bad", "passw(or)?d:" };
	static const unsigned other_flags[] = { 0, 0, 0 };
	static const unsigned other_ids[] = { 0, 2, 1 };
	struct hscache_key k, o;
	hs_platform_info_t plat;

	store_one(&k);
	make_key(&o, other_exprs, flags, ids, 3);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	make_key(&o, exprs, other_flags, ids, 3);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	make_key(&o, exprs, flags, other_ids, 3);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	make_key(&o, exprs, flags, ids, 2);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	ck_assert_int_eq(hscache_key_make(&o, exprs, flags, ids, 3,
	    HS_MODE_BLOCK, NULL), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	/* A's entry under the name of B (one flag apart, as long): a miss. */
	make_key(&o, exprs, other_flags, ids, 3);
	{
		char from[512], to[600], name[64];

		entry_path(from, sizeof(from));
		hscache_entry_name(name, sizeof(name), &o);
		snprintf(to, sizeof(to), "%s/%s", cachedir, name);
		ck_assert_int_eq(link(from, to), 0);
		ck_assert_uint_eq(o.len, k.len);
	}
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	/* Another platform: a processor without AVX2. */
	ck_assert_int_eq(hs_populate_platform(&plat), HS_SUCCESS);
	plat.cpu_features ^= HS_CPU_FEATURES_AVX2;
	ck_assert_int_eq(hscache_key_make(&o, exprs, flags, ids, 3,
	    HS_MODE_STREAM, &plat), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &o));
	hscache_key_free(&o);
	hscache_key_free(&k);
}
END_TEST

/* Damage anywhere (each tenth byte flipped, in turn), short or long files. */
START_TEST(test_damaged)
{
	struct hscache_key k;
	char path[512];
	unsigned char *buf;
	struct stat st;
	hs_database_t *db;
	size_t len, at;
	FILE *f;

	store_one(&k);
	entry_path(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	len = (size_t)st.st_size;
	buf = malloc(len + 1);
	f = fopen(path, "rb");
	ck_assert_uint_eq(fread(buf, 1, len, f), len);
	fclose(f);
	for (at = 0; at < len; at += 1 + len / 97) {
		buf[at] ^= 0x20;
		f = fopen(path, "wb");
		ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
		fclose(f);
		db = hscache_load(cachedir, &k);
		ck_assert_msg(db == NULL, "byte %zu of %zu flipped: loaded", at,
		    len);
		buf[at] ^= 0x20;
	}
	{
		const size_t sizes[] = { 0, 1, 15, 16, 39, 40, 41, 63, len / 2,
		    len - 1, len, len + 1 };
		int j;

		for (j = 0; j < NELEMS(sizes); j++) {
			at = sizes[j];
			f = fopen(path, "wb");
			ck_assert_uint_eq(fwrite(buf, 1, at < len ? at : len, f),
			    at < len ? at : len);
			if (at > len)
				fputc(0, f);
			fclose(f);
			db = hscache_load(cachedir, &k);
			if (at == len) {
				ck_assert_ptr_nonnull(db);
				hs_free_database(db);
			} else {
				ck_assert_msg(db == NULL, "%zu of %zu bytes: "
				    "loaded", at, len);
			}
		}
	}
	free(buf);
	hscache_key_free(&k);
}
END_TEST

/* Only what the effective user alone may write is loaded or written. */
START_TEST(test_unsafe_dir)
{
	struct hscache_key k;
	hs_database_t *db;
	char errbuf[HSCACHE_ERRBUF_SIZE], want[HSCACHE_ERRBUF_SIZE];

	store_one(&k);
	ck_assert_int_eq(hscache_check_dir(cachedir, errbuf, sizeof(errbuf)),
	    0);
	ck_assert_int_eq(chmod(cachedir, 0770), 0);
	ck_assert_int_eq(hscache_check_dir(cachedir, errbuf, sizeof(errbuf)),
	    -1);
	snprintf(want, sizeof(want), "%s: not a directory of uid %ld that "
	    "only it may write to", cachedir, (long)geteuid());
	ck_assert_str_eq(errbuf, want);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	ck_assert_int_eq(chmod(cachedir, 0702), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	db = compile(exprs, flags, ids, 3);
	ck_assert(!hscache_store(cachedir, &k, db));
	ck_assert_int_eq(chmod(cachedir, 0700), 0);
	db = (hs_free_database(db), hscache_load(cachedir, &k));
	ck_assert_ptr_nonnull(db);
	hs_free_database(db);
	/* A directory that does not exist yet is fine. */
	snprintf(want, sizeof(want), "%s/none", tmpdir);
	ck_assert_int_eq(hscache_check_dir(want, errbuf, sizeof(errbuf)), 0);
	hscache_key_free(&k);
}
END_TEST

START_TEST(test_unsafe_entry)
{
	struct hscache_key k;
	char path[512], moved[600];
	hs_database_t *db;
	int fd;

	store_one(&k);
	entry_path(path, sizeof(path));
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	ck_assert_int_eq(chmod(path, 0644), 0);
	db = hscache_load(cachedir, &k);
	ck_assert_ptr_nonnull(db);
	hs_free_database(db);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_ptr_null(hscache_load(cachedir, &k));
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	/* A symbolic link to a good entry is not followed. */
	snprintf(moved, sizeof(moved), "%s/elsewhere", tmpdir);
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(symlink(moved, path), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	/* Nor does a FIFO under the name hang the load. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	/* A store replaces what is there. */
	ck_assert_int_eq(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	close(fd);
	ck_assert_ptr_null(hscache_load(cachedir, &k));
	db = compile(exprs, flags, ids, 3);
	ck_assert(hscache_store(cachedir, &k, db));
	hs_free_database(db);
	db = hscache_load(cachedir, &k);
	ck_assert_ptr_nonnull(db);
	hs_free_database(db);
	hscache_key_free(&k);
}
END_TEST

static void
set_mtime(const char *dir, const char *name, time_t when)
{
	char path[600];
	struct timespec ts[2] = { { when, 0 }, { when, 0 } };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int
count_entries(const char *dir)
{
	char cmd[600], line[64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	return atoi(line);
}

/*
 * The HSCACHE_ENTRIES_MAX used last stay: entries made an hour apart, the
 * oldest loaded (so used last) before the store that evicts.
 */
START_TEST(test_eviction)
{
	enum { N = HSCACHE_ENTRIES_MAX + 4 };
	struct hscache_key k[N];
	char text[N][32];
	const char *e[1];
	unsigned f0 = 0, i0 = 0;
	hs_database_t *db;
	time_t now = time(NULL);
	char cmd[600], name[64];
	int i, fd;

	for (i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "pattern%d[0-9]+", i);
		e[0] = text[i];
		make_key(&k[i], e, &f0, &i0, 1);
		db = compile(e, &f0, &i0, 1);
		ck_assert(hscache_store(cachedir, &k[i], db));
		hs_free_database(db);
		hscache_entry_name(name, sizeof(name), &k[i]);
		set_mtime(cachedir, name, now - 3600 * (N + 10 - i));
		if (i == HSCACHE_ENTRIES_MAX - 1) {
			ck_assert_int_eq(count_entries(cachedir),
			    HSCACHE_ENTRIES_MAX);
			/* The oldest is used again: it must outlive 1..4. */
			db = hscache_load(cachedir, &k[0]);
			ck_assert_ptr_nonnull(db);
			hs_free_database(db);
		}
	}
	/* A stale temporary file goes, a fresh one (a store under way) stays. */
	snprintf(cmd, sizeof(cmd), "%s/.x.hsdb.1.tmp", cachedir);
	fd = open(cmd, O_WRONLY | O_CREAT, 0600);
	close(fd);
	set_mtime(cachedir, ".x.hsdb.1.tmp", now - 7200);
	snprintf(cmd, sizeof(cmd), "%s/.y.hsdb.2.tmp", cachedir);
	fd = open(cmd, O_WRONLY | O_CREAT, 0600);
	close(fd);
	e[0] = "one more";
	{
		struct hscache_key last;

		make_key(&last, e, &f0, &i0, 1);
		db = compile(e, &f0, &i0, 1);
		ck_assert(hscache_store(cachedir, &last, db));
		hs_free_database(db);
		hscache_key_free(&last);
	}
	ck_assert_int_eq(count_entries(cachedir), HSCACHE_ENTRIES_MAX + 1);
	snprintf(cmd, sizeof(cmd), "%s/.x.hsdb.1.tmp", cachedir);
	ck_assert_int_eq(access(cmd, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "%s/.y.hsdb.2.tmp", cachedir);
	ck_assert_int_eq(access(cmd, F_OK), 0);
	for (i = 0; i < N; i++) {
		db = hscache_load(cachedir, &k[i]);
		/* Kept: 0 (used again) and the newest; gone: 1 to 5. */
		if (i >= 1 && i <= 5)
			ck_assert_msg(db == NULL, "entry %d kept", i);
		else
			ck_assert_msg(db != NULL, "entry %d evicted", i);
		hs_free_database(db);
		hscache_key_free(&k[i]);
	}
}
END_TEST

START_TEST(test_default_dir)
{
	char buf[256];

	setenv("FLOWGREP_CACHE_DIR", "/var/cache/fg", 1);
	setenv("XDG_CACHE_HOME", "/x", 1);
	setenv("HOME", "/h", 1);
	ck_assert(hscache_default_dir(buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/var/cache/fg");
	/* Set empty: no cache. A relative one is refused too. */
	setenv("FLOWGREP_CACHE_DIR", "", 1);
	ck_assert(!hscache_default_dir(buf, sizeof(buf)));
	setenv("FLOWGREP_CACHE_DIR", "rel", 1);
	ck_assert(!hscache_default_dir(buf, sizeof(buf)));
	unsetenv("FLOWGREP_CACHE_DIR");
	ck_assert(hscache_default_dir(buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/x/flowgrep");
	/* XDG says a relative XDG_CACHE_HOME is ignored. */
	setenv("XDG_CACHE_HOME", "x", 1);
	ck_assert(hscache_default_dir(buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/h/.cache/flowgrep");
	unsetenv("XDG_CACHE_HOME");
	ck_assert(hscache_default_dir(buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/h/.cache/flowgrep");
	ck_assert(!hscache_default_dir(buf, 8));
	unsetenv("HOME");
	ck_assert(!hscache_default_dir(buf, sizeof(buf)));
}
END_TEST

/*
 * Through a match set: a set slow to compile is stored, the same set built
 * again loads it and reports the same, a set of one pattern stores nothing.
 */
START_TEST(test_match_set)
{
	struct match_set *ms[2];
	struct match_mem mm;
	char pat[64], errbuf[MATCH_ERRBUF_SIZE];
	int s, i;

	for (s = 0; s < 2; s++) {
		ms[s] = match_set_new();
		ck_assert_ptr_nonnull(ms[s]);
		match_set_engine(ms[s], MATCH_ENGINE_VECTORSCAN);
		ck_assert_int_eq(match_set_cache(ms[s], cachedir), 0);
		for (i = 0; i < 120; i++) {
			snprintf(pat, sizeof(pat),
			    "h%03dx[0-9]{2,4}\\.(ru|info|net)", i);
			ck_assert_int_eq(match_set_add(ms[s], pat, strlen(pat),
			    MATCH_CLIENT | MATCH_SERVER, false, "-a", errbuf),
			    0);
		}
		ck_assert_int_eq(match_set_prepare(ms[s]), 120);
		match_set_memory(ms[s], &mm);
		ck_assert_int_eq(mm.db_loaded, s == 1);
		ck_assert_int_eq(mm.db_stored, s == 0);
		ck_assert_int_eq(mm.expressions, 120);
	}
	for (s = 0; s < 2; s++)
		match_set_free(ms[s]);
	ck_assert_int_eq(count_entries(cachedir), 1);
	ms[0] = match_set_new();
	ck_assert_int_eq(match_set_cache(ms[0], cachedir), 0);
	match_set_engine(ms[0], MATCH_ENGINE_VECTORSCAN);
	ck_assert_int_eq(match_set_add(ms[0], "lonely", 6, MATCH_CLIENT, false,
	    "-a", errbuf), 0);
	ck_assert_int_eq(match_set_prepare(ms[0]), 1);
	match_set_memory(ms[0], &mm);
	ck_assert(!mm.db_loaded && !mm.db_stored);
	match_set_free(ms[0]);
	ck_assert_int_eq(count_entries(cachedir), 1);
}
END_TEST

static Suite *
hscache_suite(void)
{
	Suite *s = suite_create("hscache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_key_exact);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_unsafe_dir);
	tcase_add_test(tc, test_unsafe_entry);
	tcase_add_test(tc, test_eviction);
	tcase_add_test(tc, test_default_dir);
	tcase_add_test(tc, test_match_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hscache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
