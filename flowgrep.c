/* flowgrep.c: wiring, the main loop, signals, privileges and exit status. */
#include <err.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "hscache.h"
#include "kill.h"
#include "log.h"
#include "match.h"
#include "options.h"
#include "pcapio.h"
#include "report.h"
#include "sandbox.h"
#include "stats.h"

#define NS_PER_S 1000000000ULL
/* The progress line is redrawn at most this often. */
#define PROGRESS_INTERVAL_NS (250ULL * 1000000ULL)

/* Set by SIGINT/SIGTERM: stop reading, decide what is open, and finish. */
static volatile sig_atomic_t stop_requested;
/* Set by SIGUSR1: print the statistics so far. */
static volatile sig_atomic_t stats_requested;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
on_stats_signal(int sig)
{
	(void)sig;
	stats_requested = 1;
}

/* The signal mask to wait for input with: ours unblocked. */
static sigset_t wait_mask;

/*
 * SIGINT, SIGTERM and SIGUSR1 are blocked except while pcapio waits for
 * input (ppoll with wait_mask): a signal then never cuts a write to a pipe
 * short, and a read blocked on a quiet pipe still wakes up for it.
 */
static void
catch_signals(void)
{
	struct sigaction sa;
	sigset_t ours;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(EXIT_TROUBLE, "sigaction");
	sa.sa_handler = on_stats_signal;
	if (sigaction(SIGUSR1, &sa, NULL) == -1)
		err(EXIT_TROUBLE, "sigaction");
	sigemptyset(&ours);
	sigaddset(&ours, SIGINT);
	sigaddset(&ours, SIGTERM);
	sigaddset(&ours, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &ours, &wait_mask) == -1)
		err(EXIT_TROUBLE, "sigprocmask");
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGUSR1);
}

/*
 * Pass 1's record of one packet for pass 2: which unit it belongs to and
 * how long it is (record header and data). Records follow each other, so
 * offsets are implied; where some are skipped (a BPF filter), an entry of
 * length 0 carries the bytes skipped in serial.
 */
struct serial_entry {
	uint32_t serial;
	uint32_t len;
};

/*
 * The entries go to a temporary file through a buffer of this many, with
 * write(2) and read(2): a system call per 64 Ki packets, none per packet.
 */
#define SPOOL_ENTRIES (64U * 1024)

struct spool {
	FILE *f;		/* a tmpfile(); written through its descriptor */
	struct serial_entry *buf;
	size_t n;		/* entries in buf */
	size_t pos;		/* reading: the next one */
	uint64_t next_off;	/* writing: where the next record should be */
	bool failed;
};

/* What the callbacks need while the run goes on. */
struct run {
	struct options *opt;
	struct pcapio_in *in;
	const char *in_name;
	struct pcapio_out *out;
	struct engine *log_engine;	/* reassembles written packets for -l */
	struct match_set *log_ms;	/* its pattern set: empty */
	struct flowlog *log;
	size_t log_dir_len;	/* without trailing slashes, as -x prints it */
	struct killer *killer;
	struct spool serials;	/* two-pass: a serial_entry per packet */
	bool raw;		/* records have offsets (pcapio_raw_records) */
	const struct pcap_rec *cur;	/* the record being processed */
	FILE *aliases;		/* two-pass: datagram units joined to flows */
	bool nano;
	bool text_lines;	/* report lines on standard output */
	bool write_failed;
	bool log_failed;
	bool kill_failed;
	struct stats st;
	struct stats log_st;	/* the log engine's own counters, unused */
	uint64_t next_progress;
	bool progress;
	bool hold;		/* stream input: held packets in the statistics */
	uint64_t total_bytes;
	struct timespec started;
};

/* ---- the serial spool ---- */

static int
spool_open(struct spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	if ((sp->f = tmpfile()) == NULL ||
	    (sp->buf = malloc(SPOOL_ENTRIES * sizeof(*sp->buf))) == NULL)
		return -1;
	return 0;
}

static void
spool_flush(struct spool *sp)
{
	const uint8_t *p = (const uint8_t *)sp->buf;
	size_t left = sp->n * sizeof(*sp->buf);
	ssize_t w;

	while (left > 0 && !sp->failed) {
		w = write(fileno(sp->f), p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			sp->failed = true;
		else {
			p += w;
			left -= (size_t)w;
		}
	}
	sp->n = 0;
}

static void
spool_put(struct spool *sp, uint32_t serial, uint64_t offset, uint32_t len)
{
	uint64_t skip;

	/* Offsets only grow in a classic pcap file; pcapng has none to keep. */
	while (offset > sp->next_off) {
		skip = offset - sp->next_off;
		if (skip > UINT32_MAX)
			skip = UINT32_MAX;
		if (sp->n == SPOOL_ENTRIES)
			spool_flush(sp);
		sp->buf[sp->n].serial = (uint32_t)skip;
		sp->buf[sp->n++].len = 0;
		sp->next_off += skip;
	}
	if (sp->n == SPOOL_ENTRIES)
		spool_flush(sp);
	sp->buf[sp->n].serial = serial;
	sp->buf[sp->n++].len = len;
	sp->next_off = offset + len;
}

/* Back to the first entry, for reading. Returns -1 if writing failed. */
static int
spool_rewind(struct spool *sp)
{
	spool_flush(sp);
	if (sp->failed || lseek(fileno(sp->f), 0, SEEK_SET) != 0)
		return -1;
	sp->n = sp->pos = 0;
	return 0;
}

/* The next entry; false at the end or on a read error (errno set). */
static bool
spool_get(struct spool *sp, struct serial_entry *se)
{
	ssize_t r;

	if (sp->pos == sp->n) {
		do
			r = read(fileno(sp->f), sp->buf, SPOOL_ENTRIES *
			    sizeof(*sp->buf));
		while (r < 0 && errno == EINTR);
		if (r <= 0 || r % (ssize_t)sizeof(*sp->buf) != 0)
			return false;
		sp->n = (size_t)r / sizeof(*sp->buf);
		sp->pos = 0;
	}
	*se = sp->buf[sp->pos++];
	return true;
}

/* The next entry of a record, skipping entries of skipped bytes. */
static bool
spool_get_record(struct spool *sp, struct serial_entry *se)
{
	while (spool_get(sp, se))
		if (se->len != 0)
			return true;
	return false;
}

static void
spool_close(struct spool *sp)
{
	if (sp->f != NULL)
		fclose(sp->f);
	free(sp->buf);
}

/* ---- engine callbacks ---- */

/*
 * A selected packet: to the pcap output, and through the log engine, which
 * reassembles what is written into the -l files.
 */
static void
output_packet(void *ctx, const struct pcap_rec *rec)
{
	struct run *run = ctx;

	if (run->out != NULL && !run->write_failed &&
	    pcapio_write(run->out, rec->hdr, rec->data, rec->caplen) == -1)
		run->write_failed = true;
	if (run->log_engine != NULL)
		engine_packet(run->log_engine, rec);
}

/* The -l file names of a flow, as DIR/NAME; returns how many. */
static int
log_names(const struct run *run, const struct engine_report *r,
    char names[2][PATH_MAX])
{
	struct flowlog_key k;
	char name[FLOWLOG_NAME_MAX];
	int n = 0, d;

	if (run->log == NULL || !r->is_flow)
		return 0;
	for (d = 0; d < (r->proto == 6 ? 2 : 1); d++) {
		k.first_ts_ns = r->first_ts_ns;
		k.ipver = r->ipver;
		k.proto = r->proto;
		k.src = d == 0 ? r->client_addr : r->server_addr;
		k.dst = d == 0 ? r->server_addr : r->client_addr;
		k.sport = d == 0 ? r->client_port : r->server_port;
		k.dport = d == 0 ? r->server_port : r->client_port;
		if (flowlog_name(name, sizeof(name), &k) > 0)
			snprintf(names[n++], PATH_MAX, "%.*s/%s",
			    (int)run->log_dir_len, run->opt->log_dir, name);
	}
	return n;
}

static void
report_unit(void *ctx, const struct engine_report *r)
{
	struct run *run = ctx;
	char names[2][PATH_MAX];
	const char *logged[2] = { names[0], names[1] };

	if (run->opt->json)
		report_json(stdout, r, run->nano, logged,
		    log_names(run, r, names));
	else if (run->text_lines)
		report_line(stdout, r, run->nano);
	else
		return;
	if (run->opt->unbuffered)
		fflush(stdout);
}

static void
assign_unit(void *ctx, uint32_t serial)
{
	struct run *run = ctx;

	/* Only classic pcap records have offsets; others follow on. */
	spool_put(&run->serials, serial, run->raw ? run->cur->offset :
	    run->serials.next_off, PCAPIO_RECORD_HEADER_LEN + run->cur->caplen);
}

static void
alias_unit(void *ctx, uint32_t from, uint32_t to)
{
	struct run *run = ctx;
	uint32_t pair[2] = { from, to };

	if (fwrite(pair, sizeof(pair), 1, run->aliases) != 1)
		run->write_failed = true;
}

/*
 * The next sequence number one side expects from the other (RFC 5961: a RST
 * must carry exactly that): the end of what the sender was seen to send,
 * plus its FIN, or what the receiver acknowledged if that is further.
 */
static bool
next_expected(const struct tcp_half *snd, const struct tcp_half *rcv,
    uint32_t *seq)
{
	bool known = false;

	if (snd->flags & TCPH_SENT) {
		*seq = snd->snd_end;
		/* A FIN takes a number; a segment after it may already count it. */
		if ((snd->flags & TCPH_FIN) && SEQ_GT(snd->fin_seq + 1, *seq))
			*seq = snd->fin_seq + 1;
		known = true;
	}
	if ((rcv->flags & TCPH_ACKED) && (!known || SEQ_GT(rcv->last_ack,
	    *seq))) {
		*seq = rcv->last_ack;
		known = true;
	}
	return known;
}

static void
kill_flow(void *ctx, struct flow *f, uint64_t ts_ns)
{
	struct run *run = ctx;
	struct kill_target t;
	char errbuf[KILL_ERRBUF_SIZE];
	int n;

	memset(&t, 0, sizeof(t));
	t.ts_ns = ts_ns;
	t.ipver = f->key.ipver;
	t.client_addr = flow_addr(f, 0);
	t.server_addr = flow_addr(f, 1);
	t.client_port = flow_port(f, 0);
	t.server_port = flow_port(f, 1);
	t.client_next_known = next_expected(&f->tcp.half[0], &f->tcp.half[1],
	    &t.client_next);
	t.server_next_known = next_expected(&f->tcp.half[1], &f->tcp.half[0],
	    &t.server_next);
	t.linktype = pcapio_linktype(run->in);
	t.link = f->link;
	t.link_len = f->link_len;
	t.link_from_client = f->link_from_client;
	n = killer_kill(run->killer, &t, errbuf);
	if (n == -1 && !run->kill_failed) {
		/* Once: a failing injection would say so for every packet. */
		warnx("-k: %s", errbuf);
		run->kill_failed = true;
	}
}

/* The log engine's reassembled bytes go to the -l files. */
static void
log_stream(void *ctx, const struct flow *f, int dir, const uint8_t *p,
    uint32_t len)
{
	struct run *run = ctx;
	struct flowlog_key k;
	char errbuf[FLOWLOG_ERRBUF_SIZE];
	int from = f->key.proto == 6 ? dir : 0;

	k.first_ts_ns = f->first_ts;
	k.ipver = f->key.ipver;
	k.proto = f->key.proto;
	k.src = flow_addr(f, from);
	k.dst = flow_addr(f, 1 - from);
	k.sport = flow_port(f, from);
	k.dport = flow_port(f, 1 - from);
	if (flowlog_append(run->log, &k, p, len, errbuf) == 0)
		return;
	run->st.log_errors++;
	if (!run->log_failed) {
		warnx("-l %s: %s", run->opt->log_dir, errbuf);
		run->log_failed = true;
	}
}

/* ---- set-up ---- */

/*
 * --pattern-cache DIR, else the default directory, unless
 * --no-pattern-cache. A directory another user could write to is never
 * used; only one named on the command line is worth a warning.
 */
static void
use_pattern_cache(const struct options *o, struct match_set *ms)
{
	char dir[PATH_MAX], errbuf[HSCACHE_ERRBUF_SIZE];

	if (o->no_pattern_cache || o->npatterns == 0)
		return;
	if (o->pattern_cache != NULL) {
		if (snprintf(dir, sizeof(dir), "%s", o->pattern_cache) >=
		    (int)sizeof(dir))
			errx(EXIT_TROUBLE, "--pattern-cache: name too long");
	} else if (!hscache_default_dir(dir, sizeof(dir))) {
		return;
	}
	if (hscache_check_dir(dir, errbuf, sizeof(errbuf)) == -1) {
		if (o->pattern_cache != NULL)
			warnx("warning: pattern cache not used: %s", errbuf);
		return;
	}
	if (match_set_cache(ms, dir) == -1)
		err(EXIT_TROUBLE, "out of memory");
}

static struct match_set *
compile_patterns(const struct options *o)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i;

	if (ms == NULL)
		err(EXIT_TROUBLE, "out of memory");
	for (i = 0; i < o->npatterns; i++) {
		const struct pattern_arg *p = &o->patterns[i];

		if (match_set_add(ms, p->text, p->len, p->dirs, o->caseless,
		    p->origin, errbuf) == -1)
			errx(EXIT_TROUBLE, "%s", errbuf);
	}
	match_set_limits(ms, (uint32_t)o->window, o->depth);
	use_pattern_cache(o, ms);
	/* Vectorscan's database is built now, before the first packet. */
	(void)match_set_prepare(ms);
	return ms;
}

/* -r FILE, -d DEVICE, standard input, or the default device. */
static void
open_input(struct run *run)
{
	const struct options *o = run->opt;
	char errbuf[PCAPIO_ERRBUF_SIZE];
	const char *path = o->read_path;

	if (path == NULL && o->device == NULL && !isatty(STDIN_FILENO))
		path = "-";
	if (path != NULL) {
		run->in_name = strcmp(path, "-") == 0 ? "standard input" :
		    path;
		run->in = pcapio_open(path, &run->st, errbuf);
		if (run->in == NULL)
			errx(EXIT_TROUBLE, "%s: %s", run->in_name, errbuf);
	} else {
		run->in = pcapio_open_live(o->device, (uint32_t)o->snaplen,
		    (uint32_t)o->buffer_kib,
		    o->promisc, &run->st, errbuf);
		if (run->in == NULL)
			errx(EXIT_TROUBLE, "%s", errbuf);
		run->in_name = pcapio_device(run->in);
	}
	run->nano = pcapio_nano(run->in);
	if (o->fanout_group >= 0 &&
	    pcapio_set_fanout(run->in, o->fanout_group, errbuf) == -1)
		errx(EXIT_TROUBLE, "%s", errbuf);
	if (o->filter != NULL &&
	    pcapio_set_filter(run->in, o->filter, errbuf) == -1)
		errx(EXIT_TROUBLE, "bad filter '%s': %s", o->filter, errbuf);
}

static void
open_actions(struct run *run)
{
	const struct options *o = run->opt;
	char errbuf[KILL_ERRBUF_SIZE > FLOWLOG_ERRBUF_SIZE ?
	    KILL_ERRBUF_SIZE : FLOWLOG_ERRBUF_SIZE];

	if (o->write_path != NULL) {
		run->out = pcapio_out_open(o->write_path, run->in,
		    o->unbuffered, &run->st, errbuf);
		if (run->out == NULL) {
			if (strcmp(o->write_path, "-") == 0)
				errx(EXIT_TROUBLE, "%s", errbuf);
			errx(EXIT_TROUBLE, "%s: %s", o->write_path, errbuf);
		}
	}
	if (o->log_dir != NULL &&
	    (run->log = flowlog_open(o->log_dir, o->print_paths ? stdout :
	    NULL, errbuf)) == NULL)
		errx(EXIT_TROUBLE, "-l %s: %s", o->log_dir, errbuf);
	if (o->log_dir != NULL) {
		run->log_dir_len = strlen(o->log_dir);
		while (run->log_dir_len > 1 &&
		    o->log_dir[run->log_dir_len - 1] == '/')
			run->log_dir_len--;
	}
	if (!o->kill)
		return;
	if (o->kill_dry_run != NULL)
		run->killer = killer_open_dry_run(o->kill_dry_run, o->kill_via,
		    pcapio_linktype(run->in), errbuf);
	else if (!pcapio_is_live(run->in))
		errx(EXIT_TROUBLE, "-k needs a live capture (-d DEVICE): "
		    "replayed traffic is not live (use --kill-dry-run FILE)");
	else
		run->killer = killer_open(pcapio_device(run->in), o->kill_via,
		    errbuf);
	if (run->killer == NULL)
		errx(EXIT_TROUBLE, "-k: %s", errbuf);
}

/*
 * Started as root, flowgrep gives root up once everything that needs it is
 * open: the device, the outputs, the log directory, the injection handle.
 * Every step is checked, and so is that root cannot be had back.
 */
static void
drop_privileges(const struct options *o)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return;
	errno = 0;
	if ((pw = getpwnam(o->user)) == NULL)
		errx(EXIT_TROUBLE, "-u: no such user '%s'", o->user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		return;
	if (setgroups(1, &gid) == -1)
		err(EXIT_TROUBLE, "-u %s: setgroups", o->user);
	if (setresgid(gid, gid, gid) == -1)
		err(EXIT_TROUBLE, "-u %s: setresgid", o->user);
	if (setresuid(uid, uid, uid) == -1)
		err(EXIT_TROUBLE, "-u %s: setresuid", o->user);
	if (setuid(0) != -1 || geteuid() != uid || getuid() != uid ||
	    getegid() != gid)
		errx(EXIT_TROUBLE, "-u %s: root could be regained", o->user);
	/* Files are created in the log directory as that user from now on. */
	if (o->log_dir != NULL && access(o->log_dir, W_OK | X_OK) == -1)
		errx(EXIT_TROUBLE, "-l %s: not writable by user %s (-u)",
		    o->log_dir, o->user);
}

/* The log engine: the written packets reassembled again, for -l. */
static void
open_log_engine(struct run *run, const struct engine_config *main_cfg)
{
	struct engine_config cfg;

	if (run->log == NULL)
		return;
	if ((run->log_ms = match_set_new()) == NULL)
		err(EXIT_TROUBLE, "out of memory");
	memset(&cfg, 0, sizeof(cfg));
	cfg.linktype = main_cfg->linktype;
	cfg.max_flows = main_cfg->max_flows;
	cfg.tcp_timeout_ns = main_cfg->tcp_timeout_ns;
	cfg.udp_timeout_ns = main_cfg->udp_timeout_ns;
	cfg.ms = run->log_ms;
	cfg.st = &run->log_st;
	cfg.stream = log_stream;
	cfg.full_streams = true;
	cfg.ctx = run;
	if ((run->log_engine = engine_new(&cfg)) == NULL)
		err(EXIT_TROUBLE, "out of memory");
}

/*
 * From here on the process makes only the system calls its steady state
 * needs (sandbox.c). Everything is open by now (input, outputs, log
 * directory, injection sockets, temporary files) and root is given up.
 */
static void
enter_sandbox(const struct run *run)
{
	struct sandbox_needs n;
	char errbuf[SANDBOX_ERRBUF_SIZE];

	if (run->opt->no_sandbox || !sandbox_supported())
		return;
	memset(&n, 0, sizeof(n));
	n.log_files = run->log != NULL;
	n.log_dirfd = -1;
	n.live = pcapio_is_live(run->in);
	n.inject = run->killer != NULL && run->opt->kill_dry_run == NULL;
	if (sandbox_install(&n, errbuf) == -1)
		errx(EXIT_TROUBLE, "%s (--no-sandbox runs without it)", errbuf);
}

/* ---- the run ---- */

/*
 * Whether pass 1 matches on a thread of its own (--match-thread): only when
 * nothing waits on a flow's verdict before the end of pass 1 (-w alone, no
 * -l, reports, context or kills). auto wants two CPUs and a pattern set
 * that Vectorscan runs: for a set PCRE2 alone runs, handing every byte over
 * costs about what it saves (one literal: the same time, 0.2 s more CPU).
 */
static bool
want_match_thread(const struct run *run, const struct match_set *ms,
    bool two_pass)
{
	const struct options *o = run->opt;
	struct match_mem mm;
	cpu_set_t cpus;

	if (!two_pass || o->match_thread == MATCH_THREAD_NEVER ||
	    run->log != NULL || run->text_lines || o->json ||
	    o->context_after > 0 || o->context_before > 0 ||
	    run->killer != NULL)
		return false;
	if (o->match_thread == MATCH_THREAD_ALWAYS)
		return true;
	match_set_memory(ms, &mm);
	return mm.fast + mm.gated > 0 &&
	    sched_getaffinity(0, sizeof(cpus), &cpus) == 0 &&
	    CPU_COUNT(&cpus) >= 2;
}

static void
print_stats(struct run *run, bool hold)
{
	if (run->progress)
		report_progress_end(stderr);
	if (pcapio_is_live(run->in))
		pcapio_update_drops(run->in);
	if (run->log != NULL)
		run->st.log_files = flowlog_files(run->log);
	if (run->killer != NULL)
		run->st.rst_sent = killer_sent(run->killer);
	if (run->opt->stats_json || run->opt->json)
		report_stats_json(stderr, &run->st);
	else
		report_stats(stderr, &run->st, hold);
	fflush(stderr);
}

/* SIGUSR1 arrived while waiting for input: the statistics so far. */
static void
wake_for_stats(void *ctx)
{
	struct run *run = ctx;

	stats_requested = 0;
	print_stats(run, run->hold);
}

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Redraws the progress line now and then (a terminal, a regular file). */
static void
show_progress(struct run *run)
{
	uint64_t now = monotonic_ns(), start;

	if (now < run->next_progress)
		return;
	start = (uint64_t)run->started.tv_sec * NS_PER_S +
	    (uint64_t)run->started.tv_nsec;
	run->next_progress = now + PROGRESS_INTERVAL_NS;
	/* Record headers are 16 bytes each; near enough for pcapng. */
	report_progress(stderr, run->st.bytes_read + 16 * run->st.packets_read,
	    run->total_bytes, (double)(now - start) / 1e9, &run->st);
}

/*
 * Pass 2 copies from the file read ahead (pcapio_copy_ahead) when the
 * selected records fill at least 1/COPY_AHEAD_SHARE of the bytes from the
 * first of them to the last: the reading thread reading all of that, while
 * this one writes, then costs less than this one reading each record
 * before writing it.
 */
#define COPY_AHEAD_SHARE 8

/* A walk over the spool's records; offsets are implied (spool_put). */
struct spool_walk {
	uint64_t records;	/* of pass 1 */
	uint64_t i;		/* records passed */
	uint64_t at;		/* offset of the next one */
};

/*
 * The next record pass 1 selected: its offset and length. Returns 1, 0
 * when none is left, -1 on a read error (errno set) or when the spool
 * ended early (errno 0).
 */
static int
next_selected(struct run *run, struct engine *e, struct spool_walk *w,
    uint64_t *off, uint32_t *len)
{
	struct serial_entry se;

	while (w->i < w->records) {
		errno = 0;
		if (!spool_get(&run->serials, &se))
			return -1;
		if (se.len == 0) {
			w->at += se.serial;
			continue;
		}
		w->i++;
		*off = w->at;
		w->at += se.len;
		if (engine_selected(e, se.serial)) {
			*len = se.len;
			return 1;
		}
	}
	return 0;
}

/*
 * The selected records' bytes, and the span from the first of them to the
 * end of the last. Leaves the spool rewound; false on a read error.
 */
static bool
selected_span(struct run *run, struct engine *e, uint64_t records,
    uint64_t *first, uint64_t *span, uint64_t *bytes)
{
	struct spool_walk w = { records, 0, 0 };
	uint64_t off;
	uint32_t len;
	int r;

	*first = *span = *bytes = 0;
	while ((r = next_selected(run, e, &w, &off, &len)) == 1) {
		if (*bytes == 0)
			*first = off;
		*span = off + len - *first;
		*bytes += len;
	}
	return r == 0 && spool_rewind(&run->serials) == 0;
}

/*
 * Pass 2 over a classic pcap file, for -w alone: the selected records are
 * copied by offset, runs of adjacent ones at once, so the pass costs what
 * it writes rather than what it reads.
 */
static int
copy_selected(struct run *run, struct engine *e, uint64_t records)
{
	char errbuf[PCAPIO_ERRBUF_SIZE];
	struct spool_walk w = { records, 0, 0 };
	uint64_t off, start = 0, run_len = 0, n = 0, first, span, bytes;
	uint32_t len;
	int r;

	errno = 0;
	if (!selected_span(run, e, records, &first, &span, &bytes))
		goto fail;
	if (bytes > 0 && bytes >= span / COPY_AHEAD_SHARE)
		(void)pcapio_copy_ahead(run->in, first);
	while ((r = next_selected(run, e, &w, &off, &len)) == 1) {
		if (n > 0 && off == start + run_len) {
			run_len += len;
			n++;
			continue;
		}
		if (n > 0 && pcapio_copy_records(run->in, run->out, start,
		    run_len, n, errbuf) == -1)
			goto copy_fail;
		start = off;
		run_len = len;
		n = 1;
	}
	if (r == -1)
		goto fail;
	if (n > 0 && pcapio_copy_records(run->in, run->out, start, run_len, n,
	    errbuf) == -1)
		goto copy_fail;
	return 0;
fail:
	warnx("%s: %s", run->in_name, errno != 0 ? strerror(errno) :
	    "changed while it was read");
	return -1;
copy_fail:
	warnx("%s: %s", run->in_name, errbuf);
	return -1;
}

/*
 * Pass 2 of a regular file: the first `records` records again, each output
 * if pass 1 selected its unit. The output keeps the input's order exactly.
 */
static int
output_selected(struct run *run, struct engine *e, uint64_t records)
{
	char errbuf[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	struct serial_entry se;
	uint32_t pair[2];
	uint64_t i;

	rewind(run->aliases);
	while (fread(pair, sizeof(pair), 1, run->aliases) == 1)
		engine_resolve_alias(e, pair[0], pair[1]);
	if (run->st.units_selected == 0)
		return 0;
	if (spool_rewind(&run->serials) == -1) {
		run->write_failed = true;
		return -1;
	}
	if (run->log_engine == NULL && pcapio_raw_records(run->in))
		return copy_selected(run, e, records);
	if (pcapio_rewind(run->in, errbuf) == -1) {
		warnx("%s: %s", run->in_name, errbuf);
		return -1;
	}
	for (i = 0; i < records; i++) {
		if (pcapio_next(run->in, &rec, errbuf) != 1 ||
		    !spool_get_record(&run->serials, &se)) {
			warnx("%s: changed while it was read", run->in_name);
			return -1;
		}
		if (engine_selected(e, se.serial))
			output_packet(run, &rec);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct options opt;
	struct run run;
	struct engine_config cfg;
	struct engine *e;
	struct match_set *ms;
	struct pcap_rec rec;
	struct pcapio_chunks chunks;
	char errbuf[PCAPIO_ERRBUF_SIZE];
	const char *env;
	bool two_pass, need_packets, trouble = false;
	uint64_t records = 0;
	int r = 0;

	options_parse(&opt, argc, argv);
	ms = compile_patterns(&opt);
	memset(&run, 0, sizeof(run));
	run.opt = &opt;
	{
		struct match_mem mm;

		match_set_memory(ms, &mm);
		run.st.pattern_db_loaded = mm.db_loaded;
		run.st.pattern_db_stored = mm.db_stored;
	}
	open_input(&run);
	open_actions(&run);

	/*
	 * Packets are needed for -w and -l. A regular file is then read twice:
	 * pass 1 decides every flow, pass 2 outputs in the input's order and
	 * nothing is held. Streams hold undecided flows' packets instead.
	 */
	need_packets = run.out != NULL || run.log != NULL;
	two_pass = need_packets && pcapio_rewindable(run.in);
	if (two_pass && (spool_open(&run.serials) == -1 ||
	    (run.aliases = tmpfile()) == NULL))
		err(EXIT_TROUBLE, "temporary file");
	run.text_lines = opt.write_path == NULL && opt.log_dir == NULL;
	run.raw = pcapio_raw_records(run.in);

	memset(&cfg, 0, sizeof(cfg));
	cfg.linktype = pcapio_linktype(run.in);
	cfg.invert = opt.invert;
	cfg.hold = need_packets && !two_pass;
	cfg.max_flows = (uint32_t)opt.max_flows;
	cfg.tcp_timeout_ns = opt.tcp_timeout * NS_PER_S;
	cfg.udp_timeout_ns = opt.udp_timeout * NS_PER_S;
	cfg.hold_mem = (size_t)opt.hold_mem;
	cfg.shard_index = opt.shard_index;
	cfg.shard_count = opt.shard_count;
	cfg.context_after = opt.context_after;
	cfg.context_before = opt.context_before;
	cfg.ms = ms;
	cfg.st = &run.st;
	cfg.write = output_packet;
	cfg.report = report_unit;
	cfg.assign = two_pass ? assign_unit : NULL;
	cfg.alias = two_pass ? alias_unit : NULL;
	cfg.kill = run.killer != NULL ? kill_flow : NULL;
	cfg.match_thread = want_match_thread(&run, ms, two_pass);
	env = getenv("FLOWGREP_MATCH_HERE");
	cfg.match_here = env != NULL && strcmp(env, "alternate") == 0 ?
	    MATCH_HERE_ALTERNATE : MATCH_HERE_BEHIND;
	cfg.ctx = &run;
	match_set_stats(ms, &run.st);
	if ((e = engine_new(&cfg)) == NULL)
		errx(EXIT_TROUBLE, "out of memory");
	/*
	 * A stream is read by a second thread, into the hold pool when
	 * packets are held, so that they are not copied.
	 */
	if (engine_input_chunks(e, &chunks))
		pcapio_set_chunks(run.in, &chunks);
	else
		pcapio_read_ahead(run.in);
	open_log_engine(&run, &cfg);
	drop_privileges(&opt);

	run.hold = cfg.hold;
	catch_signals();
	pcapio_set_signals(run.in, &wait_mask, &stop_requested,
	    &stats_requested, wake_for_stats, &run);
	if (!opt.quiet && pcapio_is_live(run.in)) {
		const char *lt_name, *lt_desc;

		/* As tcpdump: from here on every packet is seen. */
		pcapio_linktype_names(cfg.linktype, &lt_name, &lt_desc);
		fprintf(stderr, "flowgrep: listening on %s, link-type %s (%s), "
		    "snapshot length %" PRIu32 " bytes\n",
		    pcapio_device(run.in), lt_name, lt_desc,
		    pcapio_snaplen(run.in));
	}
	if (!opt.quiet && isatty(STDERR_FILENO) && pcapio_rewindable(run.in)) {
		struct stat sb;

		if (opt.read_path != NULL && stat(opt.read_path, &sb) == 0)
			run.total_bytes = (uint64_t)sb.st_size;
		run.progress = true;
		clock_gettime(CLOCK_MONOTONIC, &run.started);
	}
	enter_sandbox(&run);
	while (!stop_requested &&
	    (r = pcapio_next(run.in, &rec, errbuf)) >= 1) {
		if (r == 1) {
			run.cur = &rec;
			engine_packet(e, &rec);
			records++;
		}
		if (stats_requested) {
			stats_requested = 0;
			print_stats(&run, cfg.hold);
		}
		if (run.progress && (records & 1023) == 0)
			show_progress(&run);
	}
	if (r == -1) {
		/* Damage: what came before it still counts and is output. */
		if (run.progress)
			report_progress_end(stderr);
		warnx("%s: %s", run.in_name, errbuf);
		trouble = true;
	}
	engine_finish(e);
	/* Pass 2 reads what pass 1 read, whatever signal came. */
	pcapio_set_signals(run.in, NULL, NULL, NULL, NULL, NULL);
	if (two_pass && output_selected(&run, e, records) == -1)
		trouble = true;
	if (run.log_engine != NULL) {
		engine_finish(run.log_engine);
		engine_free(run.log_engine);
		match_set_free(run.log_ms);
	}
	if (run.out != NULL && pcapio_out_close(run.out, errbuf) == -1) {
		warnx("%s: %s", opt.write_path, errbuf);
		trouble = true;
	}
	if (run.write_failed) {
		warnx("%s: write failed", opt.write_path != NULL ?
		    opt.write_path : "temporary file");
		trouble = true;
	}
	if (run.killer != NULL) {
		run.st.rst_sent = killer_sent(run.killer);
		if (killer_close(run.killer, errbuf) == -1) {
			warnx("-k: %s", errbuf);
			trouble = true;
		}
		run.killer = NULL;
	}
	trouble |= run.log_failed || run.kill_failed;
	if (fflush(stdout) == EOF)
		trouble = true;
	/* An explicit --stats-json wins over -q. */
	if (!opt.quiet || opt.stats_json)
		print_stats(&run, cfg.hold);
	if (run.st.packets_dropped > 0 && !opt.stats_json && !opt.json)
		warnx("warning: %" PRIu64 " held packets dropped: raise "
		    "--hold-mem", run.st.packets_dropped);
	flowlog_close(run.log);
	/* First: its reading thread may still write into the hold pool. */
	pcapio_close(run.in);
	engine_free(e);
	match_set_free(ms);
	spool_close(&run.serials);
	if (run.aliases != NULL)
		fclose(run.aliases);
	options_free(&opt);
	if (trouble)
		return EXIT_TROUBLE;
	return run.st.units_selected > 0 ? EXIT_SELECTED : EXIT_NONE;
}
