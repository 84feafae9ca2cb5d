/* flowgrep.c: options, wiring, the main loop and exit status. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "match.h"
#include "pcapio.h"
#include "report.h"
#include "stats.h"

#define EXIT_SELECTED 0
#define EXIT_NONE 1
#define EXIT_TROUBLE 2

#define HOLD_MEM_DEFAULT (256ULL * 1024 * 1024)
#define MAX_FLOWS_DEFAULT 1000000U
#define TCP_TIMEOUT_DEFAULT 300
#define UDP_TIMEOUT_DEFAULT 60
#define NS_PER_S 1000000000ULL

/* Set by SIGINT/SIGTERM: stop reading, decide what is open, and finish. */
static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/*
 * Without SA_RESTART, so a read blocked on a pipe returns EINTR and the run
 * ends cleanly: undecided flows are decided and output is flushed.
 */
static void
catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(EXIT_TROUBLE, "sigaction");
}

/* A pattern as given, compiled once every option (-i) is known. */
struct pattern_arg {
	char *text;
	size_t len;
	unsigned dirs;
	char *origin;
};

struct options {
	const char *read_path;		/* NULL: standard input */
	const char *write_path;		/* NULL: report lines */
	struct pattern_arg *patterns;
	size_t npatterns;
	bool caseless;
	bool invert;
	bool unbuffered;
	bool quiet;
	uint64_t depth;
	uint64_t window;
	uint64_t hold_mem;
	uint64_t max_flows;
	uint64_t tcp_timeout;
	uint64_t udp_timeout;
	char *filter;
};

/* What the engine's callbacks need while the run goes on. */
struct run {
	struct options *opt;
	struct pcapio_in *in;
	struct pcapio_out *out;
	FILE *serials;		/* two-pass: the unit of every packet */
	FILE *aliases;		/* two-pass: datagram units joined to flows */
	bool nano;
	bool write_failed;
	struct stats st;
};

static const char usage_text[] =
"Usage: flowgrep [-iqUvV] [-r FILE] [-a RE]... [-c RE]... [-s RE]...\n"
"                [-f FILE] [-F FILE] [-w FILE] [--depth N] [--window N]\n"
"                [--hold-mem N] [--max-flows N] [--tcp-timeout S]\n"
"                [--udp-timeout S] [FILTER EXPRESSION]\n"
"Follow flows in a capture, reassemble them, grep their payload, and write\n"
"the original packets of the flows that match.\n"
"\n"
"Input and output:\n"
"  -r FILE          read a pcap or pcapng capture (- for standard input);\n"
"                   default: standard input when it is not a terminal\n"
"  -w FILE          write the selected flows' packets as pcap (- for standard\n"
"                   output); without -w, print a line per selected flow\n"
"  -U               flush the output after every packet\n"
"  -q               print no statistics at exit\n"
"Patterns (Perl-compatible regular expressions, repeatable):\n"
"  -a RE            match either direction\n"
"  -c RE            match the client stream (what the client sends)\n"
"  -s RE            match the server stream\n"
"  -f FILE          client patterns, one per line\n"
"  -F FILE          server patterns, one per line\n"
"  -i               ignore case\n"
"  -v               select the flows that do not match\n"
"Limits:\n"
"  --depth N        match only the first N bytes of each direction (0: all)\n"
"  --window N       longest match across packets, bytes (default 64K)\n"
"  --hold-mem N     memory for packets of undecided flows when reading a\n"
"                   stream (default 256M); the oldest are dropped past it\n"
"  --max-flows N    flows followed at once (default 1000000)\n"
"  --tcp-timeout S  idle seconds before a TCP flow ends (default 300)\n"
"  --udp-timeout S  idle seconds before a UDP or other flow ends (default 60)\n"
"  -h, --help       this help;  -V, --version  the version\n"
"A trailing filter expression (tcpdump syntax) selects packets first.\n"
"Exit status: 0 if a flow was selected, 1 if none, 2 on error.\n";

enum long_option {
	OPT_DEPTH = 256,
	OPT_WINDOW,
	OPT_HOLD_MEM,
	OPT_MAX_FLOWS,
	OPT_TCP_TIMEOUT,
	OPT_UDP_TIMEOUT,
};

static const struct option long_options[] = {
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "hold-mem", required_argument, NULL, OPT_HOLD_MEM },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "tcp-timeout", required_argument, NULL, OPT_TCP_TIMEOUT },
	{ "udp-timeout", required_argument, NULL, OPT_UDP_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void __attribute__((noreturn))
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "flowgrep: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see flowgrep --help)\n");
	exit(EXIT_TROUBLE);
}

/*
 * Parses a count with an optional K, M or G suffix (powers of 1024) when
 * sizes is set. Exits with a usage error naming the option otherwise.
 */
static uint64_t
parse_number(const char *opt, const char *s, bool sizes, uint64_t max)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		goto bad;
	if (sizes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1024; end++; break;
		case 'm': case 'M': mult = 1024 * 1024; end++; break;
		case 'g': case 'G': mult = 1024 * 1024 * 1024; end++; break;
		}
	}
	if (*end != '\0' || v > max / mult)
		goto bad;
	return v * mult;
bad:
	fprintf(stderr, "flowgrep: %s: '%s' is not a valid number\n", opt, s);
	exit(EXIT_TROUBLE);
}

static void
add_pattern(struct options *o, const char *text, size_t len, unsigned dirs,
    const char *origin)
{
	struct pattern_arg *p;

	p = realloc(o->patterns, (o->npatterns + 1) * sizeof(*p));
	if (p == NULL)
		err(EXIT_TROUBLE, "out of memory");
	o->patterns = p;
	p = &o->patterns[o->npatterns++];
	if ((p->text = malloc(len + 1)) == NULL ||
	    (p->origin = strdup(origin)) == NULL)
		err(EXIT_TROUBLE, "out of memory");
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->len = len;
	p->dirs = dirs;
}

/*
 * Reads one pattern per line. The newline (and a CR before it) is not part
 * of the pattern; empty lines are skipped.
 */
static void
add_pattern_file(struct options *o, const char *opt, const char *path,
    unsigned dirs)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, origin[PATH_MAX + 32];
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;

	if (fp == NULL)
		errx(EXIT_TROUBLE, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		snprintf(origin, sizeof(origin), "%s %s:%lu", opt, path,
		    lineno);
		add_pattern(o, line, (size_t)n, dirs, origin);
	}
	if (ferror(fp))
		errx(EXIT_TROUBLE, "%s: %s", path, strerror(errno));
	free(line);
	if (fp != stdin)
		fclose(fp);
}

static char *
join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = calloc(1, len)) == NULL)
		err(EXIT_TROUBLE, "out of memory");
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void
parse_options(struct options *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->window = MATCH_WINDOW_DEFAULT;
	o->hold_mem = HOLD_MEM_DEFAULT;
	o->max_flows = MAX_FLOWS_DEFAULT;
	o->tcp_timeout = TCP_TIMEOUT_DEFAULT;
	o->udp_timeout = UDP_TIMEOUT_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:c:s:f:F:ir:vw:UqVh",
	    long_options, NULL)) != -1) {
		switch (c) {
		case 'a':
			add_pattern(o, optarg, strlen(optarg),
			    MATCH_CLIENT | MATCH_SERVER, "-a");
			break;
		case 'c':
			add_pattern(o, optarg, strlen(optarg), MATCH_CLIENT,
			    "-c");
			break;
		case 's':
			add_pattern(o, optarg, strlen(optarg), MATCH_SERVER,
			    "-s");
			break;
		case 'f':
			add_pattern_file(o, "-f", optarg, MATCH_CLIENT);
			break;
		case 'F':
			add_pattern_file(o, "-F", optarg, MATCH_SERVER);
			break;
		case 'i': o->caseless = true; break;
		case 'r': o->read_path = optarg; break;
		case 'v': o->invert = true; break;
		case 'w': o->write_path = optarg; break;
		case 'U': o->unbuffered = true; break;
		case 'q': o->quiet = true; break;
		case 'V':
			printf("flowgrep %s\n", FLOWGREP_VERSION);
			exit(EXIT_SELECTED);
		case 'h':
			fputs(usage_text, stdout);
			exit(EXIT_SELECTED);
		case OPT_DEPTH:
			o->depth = parse_number("--depth", optarg, true,
			    UINT64_MAX);
			break;
		case OPT_WINDOW:
			o->window = parse_number("--window", optarg, true,
			    1ULL << 30);
			if (o->window == 0)
				usage_error("--window must be at least 1%s", "");
			break;
		case OPT_HOLD_MEM:
			o->hold_mem = parse_number("--hold-mem", optarg, true,
			    SIZE_MAX);
			break;
		case OPT_MAX_FLOWS:
			o->max_flows = parse_number("--max-flows", optarg,
			    false, UINT32_MAX - 1);
			if (o->max_flows == 0)
				usage_error("--max-flows must be at least 1%s",
				    "");
			break;
		case OPT_TCP_TIMEOUT:
			o->tcp_timeout = parse_number("--tcp-timeout", optarg,
			    false, UINT64_MAX / NS_PER_S);
			break;
		case OPT_UDP_TIMEOUT:
			o->udp_timeout = parse_number("--udp-timeout", optarg,
			    false, UINT64_MAX / NS_PER_S);
			break;
		case ':':
			if (optopt > 0 && optopt < 256)
				fprintf(stderr, "flowgrep: option -%c needs an "
				    "argument (see flowgrep --help)\n", optopt);
			else
				fprintf(stderr, "flowgrep: option %s needs an "
				    "argument (see flowgrep --help)\n",
				    argv[optind - 1]);
			exit(EXIT_TROUBLE);
		default:
			if (optopt > 0 && optopt < 256) {
				char s[3] = { '-', (char)optopt, '\0' };

				usage_error("unknown option %s", s);
			}
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (o->npatterns == 0)
		errx(EXIT_TROUBLE, "no pattern given (use -a, -c, -s, -f "
		    "or -F)");
	if (optind < argc)
		o->filter = join_args(argc - optind, argv + optind);
}

static void
options_free(struct options *o)
{
	size_t i;

	for (i = 0; i < o->npatterns; i++) {
		free(o->patterns[i].text);
		free(o->patterns[i].origin);
	}
	free(o->patterns);
	free(o->filter);
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
	return ms;
}

/* ---- engine callbacks ---- */

static void
write_packet(void *ctx, const struct pcap_rec *rec)
{
	struct run *run = ctx;

	if (run->out != NULL && !run->write_failed &&
	    pcapio_write(run->out, rec->hdr, rec->data, rec->caplen) == -1)
		run->write_failed = true;
}

static void
report_unit(void *ctx, const struct engine_report *r)
{
	struct run *run = ctx;

	if (run->opt->write_path != NULL)
		return;
	report_line(stdout, r, run->nano);
	if (run->opt->unbuffered)
		fflush(stdout);
}

static void
assign_unit(void *ctx, uint32_t serial)
{
	struct run *run = ctx;

	if (fwrite(&serial, sizeof(serial), 1, run->serials) != 1)
		run->write_failed = true;
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
 * Pass 2 of a regular file: the first `records` records again, each written
 * if pass 1 selected its unit. The output keeps the input's order exactly.
 */
static int
write_selected(struct run *run, struct engine *e, const char *name,
    uint64_t records)
{
	char errbuf[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	uint32_t pair[2], serial;
	uint64_t i;

	rewind(run->aliases);
	while (fread(pair, sizeof(pair), 1, run->aliases) == 1)
		engine_resolve_alias(e, pair[0], pair[1]);
	if (run->st.units_selected == 0)
		return 0;
	rewind(run->serials);
	if (pcapio_rewind(run->in, errbuf) == -1) {
		warnx("%s: %s", name, errbuf);
		return -1;
	}
	for (i = 0; i < records; i++) {
		if (pcapio_next(run->in, &rec, errbuf) != 1 ||
		    fread(&serial, sizeof(serial), 1, run->serials) != 1) {
			warnx("%s: changed while it was read", name);
			return -1;
		}
		if (engine_selected(e, serial))
			write_packet(run, &rec);
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
	char errbuf[PCAPIO_ERRBUF_SIZE];
	const char *path, *name;
	bool two_pass, trouble = false;
	uint64_t records = 0;
	int r = 0;

	parse_options(&opt, argc, argv);
	ms = compile_patterns(&opt);
	memset(&run, 0, sizeof(run));
	run.opt = &opt;

	path = opt.read_path;
	if (path == NULL) {
		if (isatty(STDIN_FILENO))
			errx(EXIT_TROUBLE, "no capture to read: use -r FILE "
			    "or pipe a capture into standard input");
		path = "-";
	}
	name = strcmp(path, "-") == 0 ? "standard input" : path;
	if ((run.in = pcapio_open(path, &run.st, errbuf)) == NULL)
		errx(EXIT_TROUBLE, "%s: %s", name, errbuf);
	run.nano = pcapio_nano(run.in);
	if (opt.filter != NULL &&
	    pcapio_set_filter(run.in, opt.filter, errbuf) == -1)
		errx(EXIT_TROUBLE, "bad filter '%s': %s", opt.filter, errbuf);
	if (opt.write_path != NULL) {
		run.out = pcapio_out_open(opt.write_path, run.in,
		    opt.unbuffered, &run.st, errbuf);
		if (run.out == NULL) {
			if (strcmp(opt.write_path, "-") == 0)
				errx(EXIT_TROUBLE, "%s", errbuf);
			errx(EXIT_TROUBLE, "%s: %s", opt.write_path, errbuf);
		}
	}

	/*
	 * A regular file is read twice when packets are written: pass 1 decides
	 * every flow, pass 2 writes in the input's order and nothing is held.
	 */
	two_pass = run.out != NULL && pcapio_rewindable(run.in);
	if (two_pass && ((run.serials = tmpfile()) == NULL ||
	    (run.aliases = tmpfile()) == NULL))
		err(EXIT_TROUBLE, "temporary file");

	memset(&cfg, 0, sizeof(cfg));
	cfg.linktype = pcapio_linktype(run.in);
	cfg.invert = opt.invert;
	cfg.hold = run.out != NULL && !two_pass;
	cfg.max_flows = (uint32_t)opt.max_flows;
	cfg.tcp_timeout_ns = opt.tcp_timeout * NS_PER_S;
	cfg.udp_timeout_ns = opt.udp_timeout * NS_PER_S;
	cfg.hold_mem = (size_t)opt.hold_mem;
	cfg.ms = ms;
	cfg.st = &run.st;
	cfg.write = write_packet;
	cfg.report = report_unit;
	cfg.assign = two_pass ? assign_unit : NULL;
	cfg.alias = two_pass ? alias_unit : NULL;
	cfg.ctx = &run;
	match_set_stats(ms, &run.st);
	if ((e = engine_new(&cfg)) == NULL)
		errx(EXIT_TROUBLE, "out of memory");

	catch_stop_signals();
	pcapio_set_interrupt(run.in, &stop_requested);
	while (!stop_requested &&
	    (r = pcapio_next(run.in, &rec, errbuf)) == 1) {
		engine_packet(e, &rec);
		records++;
	}
	if (r == -1) {
		/* Damage: what came before it still counts and is written. */
		warnx("%s: %s", name, errbuf);
		trouble = true;
	}
	engine_finish(e);
	if (two_pass && write_selected(&run, e, name, records) == -1)
		trouble = true;
	if (run.out != NULL && pcapio_out_close(run.out, errbuf) == -1) {
		warnx("%s: %s", opt.write_path, errbuf);
		trouble = true;
	}
	if (run.write_failed) {
		warnx("%s: write failed", opt.write_path != NULL ?
		    opt.write_path : "temporary file");
		trouble = true;
	}
	if (fflush(stdout) == EOF)
		trouble = true;
	if (!opt.quiet)
		report_stats(stderr, &run.st, cfg.hold);
	if (run.st.packets_dropped > 0)
		warnx("warning: %" PRIu64 " held packets dropped: raise "
		    "--hold-mem", run.st.packets_dropped);
	engine_free(e);
	match_set_free(ms);
	pcapio_close(run.in);
	if (run.serials != NULL)
		fclose(run.serials);
	if (run.aliases != NULL)
		fclose(run.aliases);
	options_free(&opt);
	if (trouble)
		return EXIT_TROUBLE;
	return run.st.units_selected > 0 ? EXIT_SELECTED : EXIT_NONE;
}
