/* options.c: flowgrep's command line, parsed and checked before any packet. */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "match.h"
#include "options.h"

#define HOLD_MEM_DEFAULT (256ULL * 1024 * 1024)
#define MAX_FLOWS_DEFAULT 1000000U
#define TCP_TIMEOUT_DEFAULT 300
#define UDP_TIMEOUT_DEFAULT 60
#define SNAPLEN_DEFAULT 262144
/* KiB; tcpdump's 2 MiB loses packets when a busy machine is slow to read. */
#define BUFFER_KIB_DEFAULT 16384
#define NS_PER_S 1000000000ULL

static const char usage_text[] =
"Usage: flowgrep [-iklqUvVx] [-r FILE | -d DEVICE] [-a RE]... [-c RE]...\n"
"                [-s RE]... [-f FILE] [-F FILE] [-w FILE] [-l DIR]\n"
"                [-A N] [-B N] [-C N] [-u USER] [options] [FILTER EXPRESSION]\n"
"Follow flows in a capture, reassemble them, grep their payload, and write\n"
"the original packets of the flows that match.\n"
"\n"
"Input:\n"
"  -r FILE          read a pcap or pcapng capture (- for standard input)\n"
"  -d DEVICE        capture live on DEVICE; with neither -r nor -d: standard\n"
"                   input when it is not a terminal, else the default device\n"
"  --snaplen N      bytes captured per packet, live (default 262144)\n"
"  --no-promisc     do not put the device in promiscuous mode\n"
"  --buffer-size KIB  the kernel's capture buffer, live (default 16384)\n"
"Patterns (Perl-compatible regular expressions, repeatable):\n"
"  -a RE            match either direction\n"
"  -c RE            match the client stream (what the client sends)\n"
"  -s RE            match the server stream\n"
"  -f FILE          client patterns, one per line\n"
"  -F FILE          server patterns, one per line\n"
"  -i               ignore case\n"
"  --pattern-cache DIR  keep compiled pattern sets in DIR (default\n"
"                   ~/.cache/flowgrep): a large -f file compiles once\n"
"  --no-pattern-cache  compile the patterns every run\n"
"  -v               select the flows that do not match\n"
"  -A N, -B N, -C N also select N flows that began after, before, around\n"
"                   each selected flow (at most 100)\n"
"Output:\n"
"  -w FILE          write the selected flows' packets as pcap (- for standard\n"
"                   output); without -w and -l, print a line per flow\n"
"  --json           print a JSON object per selected flow instead\n"
"  --stats-json     print the statistics as one JSON object\n"
"  -l DIR           log each selected flow's payload to files in DIR\n"
"  -x               print the path of each new log file (with -l)\n"
"  -U               flush the output after every packet\n"
"  -q               print no statistics at exit\n"
"Actions:\n"
"  -k               kill selected TCP connections with RSTs (live capture)\n"
"  --kill-via link|ip  inject on the capture device (default) or as raw IP\n"
"  --kill-dry-run FILE  write the RSTs to a pcap file instead of sending\n"
"  -u USER          when started as root, run as USER once everything is\n"
"                   open (default nobody)\n"
"  --no-sandbox     run without the system call filter that confines\n"
"                   flowgrep once everything is open\n"
"Scaling out:\n"
"  --shard K/N      follow only the flows whose hash is K mod N (run N\n"
"                   processes, K = 0..N-1, and merge their outputs)\n"
"  --fanout GROUP   live: share the device with the other processes of\n"
"                   GROUP, each seeing whole flows (PACKET_FANOUT hash)\n"
"  --match-thread auto|always|never  match on a second core while the\n"
"                   first reassembles: a file written with -w alone\n"
"                   (auto: when Vectorscan runs the patterns, 2+ CPUs)\n"
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
"SIGUSR1 prints the statistics so far. Exit status: 0 if a flow was\n"
"selected, 1 if none, 2 on error.\n";

enum long_option {
	OPT_DEPTH = 256,
	OPT_WINDOW,
	OPT_HOLD_MEM,
	OPT_MAX_FLOWS,
	OPT_TCP_TIMEOUT,
	OPT_UDP_TIMEOUT,
	OPT_JSON,
	OPT_STATS_JSON,
	OPT_KILL_VIA,
	OPT_KILL_DRY_RUN,
	OPT_SNAPLEN,
	OPT_BUFFER_SIZE,
	OPT_NO_PROMISC,
	OPT_SHARD,
	OPT_FANOUT,
	OPT_NO_SANDBOX,
	OPT_PATTERN_CACHE,
	OPT_NO_PATTERN_CACHE,
	OPT_MATCH_THREAD,
};

static const struct option long_options[] = {
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "hold-mem", required_argument, NULL, OPT_HOLD_MEM },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "tcp-timeout", required_argument, NULL, OPT_TCP_TIMEOUT },
	{ "udp-timeout", required_argument, NULL, OPT_UDP_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "stats-json", no_argument, NULL, OPT_STATS_JSON },
	{ "kill-via", required_argument, NULL, OPT_KILL_VIA },
	{ "kill-dry-run", required_argument, NULL, OPT_KILL_DRY_RUN },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
	{ "buffer-size", required_argument, NULL, OPT_BUFFER_SIZE },
	{ "no-promisc", no_argument, NULL, OPT_NO_PROMISC },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "fanout", required_argument, NULL, OPT_FANOUT },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "pattern-cache", required_argument, NULL, OPT_PATTERN_CACHE },
	{ "no-pattern-cache", no_argument, NULL, OPT_NO_PATTERN_CACHE },
	{ "match-thread", required_argument, NULL, OPT_MATCH_THREAD },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Every usage error: one line, exit status 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("flowgrep: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see flowgrep --help)\n", stderr);
	exit(EXIT_TROUBLE);
}

/*
 * Parses a count with an optional K, M or G suffix (powers of 1024) when
 * sizes is set, at most max.
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

static uint32_t
parse_context(const char *opt, const char *s)
{
	uint64_t n = parse_number(opt, s, false, UINT32_MAX);

	if (n > CONTEXT_MAX)
		usage_error("%s: at most %d flows of context", opt,
		    CONTEXT_MAX);
	return (uint32_t)n;
}

/* --shard K/N: 0 <= K < N. */
static void
parse_shard(struct options *o, const char *s)
{
	unsigned long k, n;
	char *end;

	/* Digits only: strtoul would also take spaces and signs. */
	errno = 0;
	if (!isdigit((unsigned char)*s))
		goto bad;
	k = strtoul(s, &end, 10);
	if (*end != '/' || !isdigit((unsigned char)end[1]))
		goto bad;
	s = end + 1;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n > UINT32_MAX || k >= n)
		goto bad;
	o->shard_index = (uint32_t)k;
	o->shard_count = (uint32_t)n;
	return;
bad:
	usage_error("--shard: '%s' is not K/N with 0 <= K < N", optarg);
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

/* Combinations that cannot work are refused before anything is opened. */
static void
check_combinations(const struct options *o)
{
	bool pcap_stdout = o->write_path != NULL &&
	    strcmp(o->write_path, "-") == 0;

	if (o->npatterns == 0)
		errx(EXIT_TROUBLE, "no pattern given (use -a, -c, -s, -f "
		    "or -F)");
	if (o->read_path != NULL && o->device != NULL)
		usage_error("-r and -d cannot be used together");
	if (o->print_paths && o->log_dir == NULL)
		usage_error("-x needs -l DIR");
	if (o->fanout_group >= 0 && o->read_path != NULL)
		usage_error("--fanout needs a live capture, not -r");
	if (pcap_stdout && (o->print_paths || o->json))
		usage_error("-w - and %s would both write to standard output",
		    o->json ? "--json" : "-x");
	if (o->print_paths && o->json)
		usage_error("-x and --json would both write to standard "
		    "output");
}

void
options_parse(struct options *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->window = MATCH_WINDOW_DEFAULT;
	o->hold_mem = HOLD_MEM_DEFAULT;
	o->max_flows = MAX_FLOWS_DEFAULT;
	o->tcp_timeout = TCP_TIMEOUT_DEFAULT;
	o->udp_timeout = UDP_TIMEOUT_DEFAULT;
	o->snaplen = SNAPLEN_DEFAULT;
	o->buffer_kib = BUFFER_KIB_DEFAULT;
	o->promisc = true;
	o->user = "nobody";
	o->kill_via = KILL_VIA_LINK;
	o->fanout_group = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv,
	    ":a:c:s:f:F:ir:d:vw:UqVhkl:xu:A:B:C:", long_options, NULL)) != -1) {
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
		case 'd': o->device = optarg; break;
		case 'v': o->invert = true; break;
		case 'w': o->write_path = optarg; break;
		case 'U': o->unbuffered = true; break;
		case 'q': o->quiet = true; break;
		case 'k': o->kill = true; break;
		case 'l': o->log_dir = optarg; break;
		case 'x': o->print_paths = true; break;
		case 'u': o->user = optarg; break;
		case 'A':
			o->context_after = parse_context("-A", optarg);
			break;
		case 'B':
			o->context_before = parse_context("-B", optarg);
			break;
		case 'C':
			o->context_after = o->context_before =
			    parse_context("-C", optarg);
			break;
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
				usage_error("--window must be at least 1");
			break;
		case OPT_HOLD_MEM:
			o->hold_mem = parse_number("--hold-mem", optarg, true,
			    SIZE_MAX);
			break;
		case OPT_MAX_FLOWS:
			o->max_flows = parse_number("--max-flows", optarg,
			    false, UNIT_DGRAM - 1);
			if (o->max_flows == 0)
				usage_error("--max-flows must be at least 1");
			break;
		case OPT_TCP_TIMEOUT:
			o->tcp_timeout = parse_number("--tcp-timeout", optarg,
			    false, UINT64_MAX / NS_PER_S);
			break;
		case OPT_UDP_TIMEOUT:
			o->udp_timeout = parse_number("--udp-timeout", optarg,
			    false, UINT64_MAX / NS_PER_S);
			break;
		case OPT_JSON: o->json = true; break;
		case OPT_STATS_JSON: o->stats_json = true; break;
		case OPT_KILL_VIA:
			if (strcmp(optarg, "link") == 0)
				o->kill_via = KILL_VIA_LINK;
			else if (strcmp(optarg, "ip") == 0)
				o->kill_via = KILL_VIA_IP;
			else
				usage_error("--kill-via: '%s' is neither link "
				    "nor ip", optarg);
			break;
		case OPT_KILL_DRY_RUN:
			o->kill_dry_run = optarg;
			o->kill = true;
			break;
		case OPT_SNAPLEN:
			o->snaplen = parse_number("--snaplen", optarg, true,
			    SNAPLEN_DEFAULT);
			if (o->snaplen == 0)
				o->snaplen = SNAPLEN_DEFAULT;
			break;
		case OPT_BUFFER_SIZE:
			/* As tcpdump's --buffer-size: KiB, at most 4 GiB - 1 KiB. */
			o->buffer_kib = parse_number("--buffer-size", optarg,
			    false, UINT32_MAX / 1024);
			if (o->buffer_kib == 0)
				usage_error("--buffer-size must be at least 1");
			break;
		case OPT_NO_PROMISC: o->promisc = false; break;
		case OPT_NO_SANDBOX: o->no_sandbox = true; break;
		case OPT_PATTERN_CACHE:
			if (*optarg == '\0')
				usage_error("--pattern-cache: empty directory "
				    "name");
			o->pattern_cache = optarg;
			o->no_pattern_cache = false;
			break;
		case OPT_NO_PATTERN_CACHE:
			o->no_pattern_cache = true;
			o->pattern_cache = NULL;
			break;
		case OPT_MATCH_THREAD:
			if (strcmp(optarg, "auto") == 0)
				o->match_thread = MATCH_THREAD_AUTO;
			else if (strcmp(optarg, "always") == 0)
				o->match_thread = MATCH_THREAD_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				o->match_thread = MATCH_THREAD_NEVER;
			else
				usage_error("--match-thread: '%s' is not auto, "
				    "always or never", optarg);
			break;
		case OPT_SHARD: parse_shard(o, optarg); break;
		case OPT_FANOUT:
			o->fanout_group = (int)parse_number("--fanout", optarg,
			    false, 65535);
			break;
		case ':':
			if (optopt > 0 && optopt < 256)
				usage_error("option -%c needs an argument",
				    optopt);
			usage_error("option %s needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 256)
				usage_error("unknown option -%c", optopt);
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->filter = join_args(argc - optind, argv + optind);
	check_combinations(o);
}

void
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
