/* sandbox.c: the seccomp allow-list flowgrep runs under once all is open. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include "sandbox.h"

/*
 * The list was taken from strace -f runs of every mode (file, standard
 * input, -w, -l, -x, --kill-dry-run, --json, progress on a terminal,
 * SIGUSR1, SIGINT, live capture with -k, -w and -l, a device that goes
 * away), keeping what the process calls from the first packet to its
 * exit. Everything it opens is open by then: the input, the outputs, the
 * log directory, the injection sockets, pass 2's temporary files. So the
 * filter has no open(2) but the log directory's and libpcap's, no
 * socket(2), no execve(2), no way to make memory executable, and no way
 * to signal another process.
 */

/* Which needs a rule serves; 0: every run. */
#define NEED_LOG	0x1u
#define NEED_LIVE	0x2u
#define NEED_INJECT	0x4u

/* Argument comparisons per rule: two at most are used. */
#define RULE_ARGS_MAX 2

struct sandbox_rule {
	int nr;				/* SCMP_SYS(name) */
	unsigned need;			/* NEED_*, 0: always */
	unsigned argc;
	struct scmp_arg_cmp arg[RULE_ARGS_MAX];
};

#define ARG_MASKED(i, m, v) \
	{ (i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(m), (scmp_datum_t)(v) }
/*
 * An int argument sits in a 64-bit register sign- or zero-extended,
 * depending on the caller: only its low 32 bits are compared.
 */
#define ARG_INT_EQ(i, v) ARG_MASKED(i, 0xffffffffu, (uint32_t)(v))

static const struct sandbox_rule rules[] = {
	/* Reading input, writing outputs, pass 2 by offset. */
	{ SCMP_SYS(read), 0, 0, { { 0 } } },
	{ SCMP_SYS(pread64), 0, 0, { { 0 } } },
	{ SCMP_SYS(write), 0, 0, { { 0 } } },
	{ SCMP_SYS(writev), 0, 0, { { 0 } } },
	{ SCMP_SYS(lseek), 0, 0, { { 0 } } },
	{ SCMP_SYS(close), 0, 0, { { 0 } } },
	/*
	 * fstat(2) as glibc makes it: on an open descriptor, never a path.
	 * stdio calls it, and isatty(3), on a stream's first use.
	 */
	{ SCMP_SYS(fstat), 0, 0, { { 0 } } },
	{ SCMP_SYS(newfstatat), 0, 1,
	    { ARG_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH) } },
	{ SCMP_SYS(ioctl), 0, 1, { ARG_INT_EQ(1, TCGETS) } },
	/* Waiting for input with our signals unblocked, and the signals. */
	{ SCMP_SYS(poll), 0, 0, { { 0 } } },
	{ SCMP_SYS(ppoll), 0, 0, { { 0 } } },
	{ SCMP_SYS(rt_sigprocmask), 0, 0, { { 0 } } },
	{ SCMP_SYS(rt_sigreturn), 0, 0, { { 0 } } },
	{ SCMP_SYS(restart_syscall), 0, 0, { { 0 } } },
	/* The vDSO answers these; a kernel without one makes the call. */
	{ SCMP_SYS(clock_gettime), 0, 0, { { 0 } } },
	{ SCMP_SYS(gettimeofday), 0, 0, { { 0 } } },
	/* Memory: malloc, flows, held packets; never executable. */
	{ SCMP_SYS(brk), 0, 0, { { 0 } } },
	{ SCMP_SYS(mmap), 0, 1, { ARG_MASKED(2, PROT_EXEC, 0) } },
	{ SCMP_SYS(mprotect), 0, 1, { ARG_MASKED(2, PROT_EXEC, 0) } },
	{ SCMP_SYS(munmap), 0, 0, { { 0 } } },
	{ SCMP_SYS(mremap), 0, 0, { { 0 } } },
	{ SCMP_SYS(madvise), 0, 0, { { 0 } } },
	{ SCMP_SYS(futex), 0, 0, { { 0 } } },
	/* glibc's qsort(3) asks how much memory the machine has. */
	{ SCMP_SYS(sysinfo), 0, 0, { { 0 } } },
	/* Exit, and abort(3) raising SIGABRT (to this process: see below). */
	{ SCMP_SYS(exit_group), 0, 0, { { 0 } } },
	{ SCMP_SYS(exit), 0, 0, { { 0 } } },
	{ SCMP_SYS(getpid), 0, 0, { { 0 } } },
	{ SCMP_SYS(gettid), 0, 0, { { 0 } } },
	/*
	 * libpcap: its statistics (SIGUSR1, exit), the tear-down of its ring
	 * at close (which fails, EBUSY, and is ignored), and, when the
	 * device goes down or away, the socket's error, its device and that
	 * device's flags, which pick the message.
	 */
	{ SCMP_SYS(getsockopt), NEED_LIVE, 2,
	    { ARG_INT_EQ(1, SOL_PACKET), ARG_INT_EQ(2, PACKET_STATISTICS) } },
	{ SCMP_SYS(setsockopt), NEED_LIVE, 2,
	    { ARG_INT_EQ(1, SOL_PACKET), ARG_INT_EQ(2, PACKET_RX_RING) } },
	{ SCMP_SYS(getsockopt), NEED_LIVE, 2,
	    { ARG_INT_EQ(1, SOL_SOCKET), ARG_INT_EQ(2, SO_ERROR) } },
	{ SCMP_SYS(getsockname), NEED_LIVE, 0, { { 0 } } },
	{ SCMP_SYS(ioctl), NEED_LIVE, 1, { ARG_INT_EQ(1, SIOCGIFFLAGS) } },
	/* libnet: the device's index before each frame, then the frame. */
	{ SCMP_SYS(sendto), NEED_INJECT, 0, { { 0 } } },
	{ SCMP_SYS(ioctl), NEED_INJECT, 1, { ARG_INT_EQ(1, SIOCGIFINDEX) } },
};

static void
set_err(char *errbuf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, SANDBOX_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

/*
 * Adds one rule. A system call this architecture does not have (poll on
 * arm64) has a negative pseudo number and is skipped: its replacement is
 * on the list too.
 */
static int
add(scmp_filter_ctx ctx, int nr, unsigned argc,
    const struct scmp_arg_cmp *arg, char *errbuf)
{
	int rc;

	if (nr < 0)
		return 0;
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, argc, arg);
	if (rc < 0) {
		char *name = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, nr);

		set_err(errbuf, "cannot allow %s: %s",
		    name != NULL ? name : "a system call", strerror(-rc));
		free(name);
		return -1;
	}
	return 0;
}

/*
 * openat(2) as the program makes it after start-up: log files, appended
 * to, never through a symbolic link, relative to the log directory; and
 * libpcap's read-only look at the device's counters in /sys at each
 * statistics (ifdrop: a failure there would make them garbage).
 */
static int
add_opens(scmp_filter_ctx ctx, const struct sandbox_needs *n, char *errbuf)
{
	struct scmp_arg_cmp a[2];
	int nr = SCMP_SYS(openat);

	if (n->log_files) {
		if (n->log_dirfd >= 0)
			a[0] = (struct scmp_arg_cmp)ARG_INT_EQ(0, n->log_dirfd);
		else	/* any descriptor, but not AT_FDCWD */
			a[0] = (struct scmp_arg_cmp)ARG_MASKED(0, 0x80000000u,
			    0);
		a[1] = (struct scmp_arg_cmp)ARG_MASKED(2,
		    O_ACCMODE | O_APPEND | O_NOFOLLOW | O_TRUNC,
		    O_WRONLY | O_APPEND | O_NOFOLLOW);
		if (add(ctx, nr, 2, a, errbuf) == -1)
			return -1;
	}
	if (n->live) {
		a[0] = (struct scmp_arg_cmp)ARG_INT_EQ(0, AT_FDCWD);
		a[1] = (struct scmp_arg_cmp)ARG_MASKED(2,
		    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY);
		if (add(ctx, nr, 2, a, errbuf) == -1)
			return -1;
	}
	return 0;
}

/*
 * Defined when a sanitizer runtime is linked in (-fsanitize=...); a weak
 * reference, so it is NULL otherwise.
 */
extern void __sanitizer_sandbox_on_notify(void *args) __attribute__((weak));

/*
 * UndefinedBehaviorSanitizer reads /proc/self/exe, cmdline and environ
 * (read-only, with open(2) where the architecture has it) before its first
 * report: allowed in such builds, so that a report is printed rather than
 * cut short by SIGSYS.
 */
static int
add_sanitizer(scmp_filter_ctx ctx, char *errbuf)
{
	struct scmp_arg_cmp a[3];

	a[0] = (struct scmp_arg_cmp)ARG_MASKED(1,
	    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY);
	a[1] = (struct scmp_arg_cmp)ARG_INT_EQ(0, AT_FDCWD);
	a[2] = (struct scmp_arg_cmp)ARG_MASKED(2,
	    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY);
	if (add(ctx, SCMP_SYS(readlink), 0, NULL, errbuf) == -1 ||
	    add(ctx, SCMP_SYS(open), 1, &a[0], errbuf) == -1 ||
	    add(ctx, SCMP_SYS(openat), 2, &a[1], errbuf) == -1)
		return -1;
	return 0;
}

/*
 * AddressSanitizer's leak check runs at exit and stops the process with
 * ptrace(2) from a thread of its own: a filter that allowed that would be
 * no filter, so such builds run without one.
 */
bool
sandbox_supported(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return false;
#else
	return true;
#endif
#else
	return true;
#endif
}

int
sandbox_install(const struct sandbox_needs *n, char *errbuf)
{
	scmp_filter_ctx ctx;
	struct scmp_arg_cmp self;
	unsigned need = (n->log_files ? NEED_LOG : 0) |
	    (n->live ? NEED_LIVE : 0) | (n->inject ? NEED_INJECT : 0);
	size_t i;
	int rc;

	/*
	 * strftime(3) loads the time zone on first use, from
	 * /etc/localtime: loaded now, while files can still be opened.
	 */
	tzset();
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		set_err(errbuf, "cannot set up the system call filter");
		return -1;
	}
	/* A call made through another ABI (int 0x80, x32) kills as well. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS);
	if (rc < 0) {
		set_err(errbuf, "cannot set up the system call filter: %s",
		    strerror(-rc));
		goto fail;
	}
	/* The kernel's own errno when it refuses, not ECANCELED. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/*
	 * Kernels before 5.16 also turn the Speculative Store Bypass
	 * mitigation on for a filtered process, which costs compute on every
	 * packet; what the filter guards against is a process taken over
	 * through a bug, not speculation. Opted out where the kernel can.
	 */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
	/* The threads reading ahead (readahead.c) and matching (matcher.c) too. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		set_err(errbuf, "cannot set up the system call filter: %s",
		    strerror(-rc));
		goto fail;
	}
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (rules[i].need != 0 && (rules[i].need & need) == 0)
			continue;
		if (add(ctx, rules[i].nr, rules[i].argc, rules[i].arg,
		    errbuf) == -1)
			goto fail;
	}
	if (add_opens(ctx, n, errbuf) == -1)
		goto fail;
	if (__sanitizer_sandbox_on_notify != NULL &&
	    add_sanitizer(ctx, errbuf) == -1)
		goto fail;
	/* Signals to this process only: raise(3) and abort(3). */
	self = (struct scmp_arg_cmp)ARG_INT_EQ(0, getpid());
	if (add(ctx, SCMP_SYS(tgkill), 1, &self, errbuf) == -1)
		goto fail;
	if ((rc = seccomp_load(ctx)) < 0) {
		set_err(errbuf, "cannot install the system call filter: %s",
		    strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}
