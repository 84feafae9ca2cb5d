/* check_sandbox.c: the seccomp allow-list: what it forbids kills, the rest works. */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "readahead.h"
#include "sandbox.h"

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A forbidden call that returned: the child exits with this. */
#define CALL_RETURNED 42
/* The child could not install the filter. */
#define INSTALL_FAILED 43

/* Set by a sanitizer runtime (see sandbox.c): it may open files read-only. */
extern void __sanitizer_sandbox_on_notify(void *args) __attribute__((weak));

/* Which needs a child asks for (sandbox.h), as bits. */
#define T_LOG		0x1u
#define T_LIVE		0x2u
#define T_INJECT	0x4u
#define T_PIN		0x8u	/* log_dirfd: the log directory's */
#define T_ALL		(T_LOG | T_LIVE | T_INJECT | T_PIN)

/* What every child inherits, opened before its filter is installed. */
static char tmpdir[] = "/tmp/check_sandbox.XXXXXX";
static int dirfd_log = -1;	/* tmpdir */
static int dirfd_other = -1;	/* tmpdir/other */
static int sock[2] = { -1, -1 };	/* AF_UNIX datagrams */
static int pipefd[2] = { -1, -1 };
static int datafd = -1;		/* tmpdir/data, "0123456789" */
static FILE *pipe_fp;		/* pipefd[1] as a stream, not used yet */

static void
setup(void)
{
	char path[sizeof(tmpdir) + 16];

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/other", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	dirfd_log = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirfd_other = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_log, 0);
	ck_assert_int_ge(dirfd_other, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sock), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_ptr_nonnull(pipe_fp = fdopen(dup(pipefd[1]), "w"));
	snprintf(path, sizeof(path), "%s/data", tmpdir);
	datafd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(datafd, 0);
	ck_assert_int_eq(write(datafd, "0123456789", 10), 10);
}

/* Removes every file the children left, then the directories. */
static void
remove_all(int dfd, const char *path)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_type != DT_DIR)
			(void)unlinkat(dfd, de->d_name, 0);
	closedir(d);
	(void)rmdir(path);
}

static void
teardown(void)
{
	char path[sizeof(tmpdir) + 16];

	snprintf(path, sizeof(path), "%s/other", tmpdir);
	remove_all(dirfd_other, path);
	remove_all(dirfd_log, tmpdir);
	close(dirfd_log);
	close(dirfd_other);
	close(sock[0]);
	close(sock[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	close(datafd);
	fclose(pipe_fp);
}

/*
 * Ends a child under the filter: exit_group(2) itself, as flowgrep's exit
 * ends in it. exit(3) and _exit(3) would first run what a sanitizer hooks
 * there (AddressSanitizer's leak check), and AddressSanitizer calls
 * sigaltstack(2) before any call of a noreturn function: the filter
 * forbids both. syscall(3) is not noreturn; exit_group does not return.
 */
#define CHILD_EXIT(code) ((void)syscall(SYS_exit_group, (code)))

/*
 * Forks a child that installs the filter for the needs in bits, runs fn
 * and exits with what it returns. Returns the child's wait status.
 */
static int
run_sandboxed(unsigned bits, int (*fn)(void))
{
	struct sandbox_needs n;
	char errbuf[SANDBOX_ERRBUF_SIZE];
	pid_t pid;
	int status;

	memset(&n, 0, sizeof(n));
	n.log_files = (bits & T_LOG) != 0;
	n.log_dirfd = (bits & T_PIN) ? dirfd_log : -1;
	n.live = (bits & T_LIVE) != 0;
	n.inject = (bits & T_INJECT) != 0;
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (sandbox_install(&n, errbuf) == -1)
			CHILD_EXIT(INSTALL_FAILED);
		CHILD_EXIT(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void
describe(char *buf, size_t len, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %#x", status);
}

static void
expect_sigsys(const char *name, unsigned bits, int status)
{
	char got[64];

	describe(got, sizeof(got), status);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s (needs %#x): expected death by SIGSYS, got %s", name, bits,
	    got);
}

static void
expect_exit0(const char *name, unsigned bits, int status)
{
	char got[64];

	describe(got, sizeof(got), status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s (needs %#x): expected exit 0, got %s", name, bits, got);
}

/* ---- calls the filter forbids whatever the needs ---- */

static int
call_execve(void)
{
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };

	execve(argv[0], argv, envp);
	return CALL_RETURNED;
}

static int
call_socket(void)
{
	(void)socket(AF_INET, SOCK_DGRAM, 0);
	return CALL_RETURNED;
}

static int
call_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		CHILD_EXIT(0);
	return CALL_RETURNED;
}

/* A new file beside the program rather than in the log directory. */
static int
call_create_cwd(void)
{
	char path[sizeof(tmpdir) + 16];

	snprintf(path, sizeof(path), "%s/created", tmpdir);
	(void)openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	return CALL_RETURNED;
}

/* The log files' flags, but by path. */
static int
call_log_flags_cwd(void)
{
	char path[sizeof(tmpdir) + 16];

	snprintf(path, sizeof(path), "%s/by-path", tmpdir);
	(void)openat(AT_FDCWD, path, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CREAT | O_EXCL, 0644);
	return CALL_RETURNED;
}

/* In the log directory, but truncating. */
static int
call_log_truncate(void)
{
	(void)openat(dirfd_log, "truncated", O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CREAT | O_TRUNC, 0644);
	return CALL_RETURNED;
}

/* In the log directory, but following a symbolic link. */
static int
call_log_follow(void)
{
	(void)openat(dirfd_log, "followed", O_WRONLY | O_APPEND | O_CREAT,
	    0644);
	return CALL_RETURNED;
}

/* In the log directory, for reading. */
static int
call_log_read(void)
{
	(void)openat(dirfd_log, "data", O_RDONLY);
	return CALL_RETURNED;
}

static int
call_stat_path(void)
{
	struct stat st;

	(void)stat("/etc/passwd", &st);
	return CALL_RETURNED;
}

static int
call_unlink(void)
{
	(void)unlinkat(dirfd_log, "data", 0);
	return CALL_RETURNED;
}

static int
call_mmap_exec(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return CALL_RETURNED;
}

static int
call_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return CALL_RETURNED;
}

static int
call_kill_parent(void)
{
	(void)kill(getppid(), 0);
	return CALL_RETURNED;
}

static int
call_tgkill_parent(void)
{
	(void)syscall(SYS_tgkill, getppid(), getppid(), 0);
	return CALL_RETURNED;
}

static int
call_setuid(void)
{
	(void)setuid(getuid());
	return CALL_RETURNED;
}

static int
call_ptrace(void)
{
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return CALL_RETURNED;
}

static int
call_prctl(void)
{
	(void)syscall(SYS_prctl, 4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0);
	return CALL_RETURNED;
}

static int
call_ioctl_fionread(void)
{
	int n;

	(void)ioctl(sock[0], FIONREAD, &n);
	return CALL_RETURNED;
}

static int
call_getsockopt_other(void)
{
	int v;
	socklen_t len = sizeof(v);

	(void)getsockopt(sock[0], SOL_SOCKET, SO_TYPE, &v, &len);
	return CALL_RETURNED;
}

static int
call_setsockopt_other(void)
{
	int v = 65536;

	(void)setsockopt(sock[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	return CALL_RETURNED;
}

static int
call_recv(void)
{
	char c;

	(void)recv(sock[1], &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return CALL_RETURNED;
}

static int
call_connect(void)
{
	struct sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	(void)connect(sock[0], &sa, sizeof(sa));
	return CALL_RETURNED;
}

/* An x32 system call: another ABI, refused whatever its number. */
static int
call_other_abi(void)
{
#if defined(__x86_64__)
	(void)syscall(0x40000000L | SYS_getpid);
	return CALL_RETURNED;
#else
	(void)syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
	return CALL_RETURNED;
#endif
}

static const struct {
	const char *name;
	int (*fn)(void);
} forbidden[] = {
	{ "execve", call_execve },
	{ "socket(AF_INET)", call_socket },
	{ "fork", call_fork },
	{ "create a file by path", call_create_cwd },
	{ "log-file flags by path", call_log_flags_cwd },
	{ "truncate in the log directory", call_log_truncate },
	{ "open without O_NOFOLLOW", call_log_follow },
	{ "read a file in the log directory", call_log_read },
	{ "stat a path", call_stat_path },
	{ "unlinkat", call_unlink },
	{ "mmap PROT_EXEC", call_mmap_exec },
	{ "mprotect PROT_EXEC", call_mprotect_exec },
	{ "kill the parent", call_kill_parent },
	{ "tgkill the parent", call_tgkill_parent },
	{ "setuid", call_setuid },
	{ "ptrace", call_ptrace },
	{ "prctl", call_prctl },
	{ "ioctl FIONREAD", call_ioctl_fionread },
	{ "getsockopt SO_TYPE", call_getsockopt_other },
	{ "setsockopt SO_RCVBUF", call_setsockopt_other },
	{ "recv", call_recv },
	{ "connect", call_connect },
	{ "another ABI", call_other_abi },
};

/* Each call, under the narrowest filter and under the widest. */
START_TEST(test_forbidden)
{
	int i = _i / 2;
	unsigned bits = _i % 2 == 0 ? 0 : T_ALL;

	expect_sigsys(forbidden[i].name, bits,
	    run_sandboxed(bits, forbidden[i].fn));
}
END_TEST

/* ---- calls that one need allows ---- */

static int
call_sendto(void)
{
	return sendto(sock[0], "x", 1, 0, NULL, 0) == 1 ? 0 : 1;
}

static int
call_ioctl_ifindex(void)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	/* A Unix socket has no such ioctl: it fails, and that is all. */
	(void)ioctl(sock[0], SIOCGIFINDEX, &ifr);
	return 0;
}

static int
call_packet_stats(void)
{
	struct tpacket_stats ts;
	socklen_t len = sizeof(ts);

	return getsockopt(sock[0], SOL_PACKET, PACKET_STATISTICS, &ts,
	    &len) == -1 ? 0 : 1;
}

static int
call_packet_ring(void)
{
	struct tpacket_req req;

	memset(&req, 0, sizeof(req));
	return setsockopt(sock[0], SOL_PACKET, PACKET_RX_RING, &req,
	    sizeof(req)) == -1 ? 0 : 1;
}

/* libpcap, when the device goes down or away. */
static int
call_so_error(void)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(sock[0], SOL_SOCKET, SO_ERROR, &v, &len) == 0 &&
	    v == 0 ? 0 : 1;
}

static int
call_getsockname(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(sock[0], (struct sockaddr *)&ss, &len) == 0 ? 0 : 1;
}

static int
call_ioctl_ifflags(void)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	/* Answered or refused by the kernel; either way the run goes on. */
	(void)ioctl(sock[0], SIOCGIFFLAGS, &ifr);
	return 0;
}

/* libpcap's look at the device counters: read-only, by path. */
static int
call_open_readonly(void)
{
	int fd = open("/proc/self/stat", O_RDONLY);

	if (fd == -1)
		return 1;
	close(fd);
	return 0;
}

/* A log file as log.c makes it: appended to, created, no link followed. */
static int
call_log_create(void)
{
	int fd = openat(dirfd_log, "1700000000-10.0.0.1-1-10.0.0.2-2-tcp",
	    O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK | O_CREAT | O_EXCL, 0644);

	if (fd == -1 || write(fd, "payload", 7) != 7 || close(fd) != 0)
		return 1;
	/* Opened again as an existing file. */
	fd = openat(dirfd_log, "1700000000-10.0.0.1-1-10.0.0.2-2-tcp",
	    O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

/* The same, in a directory that is not the (pinned) log directory. */
static int
call_log_other_dir(void)
{
	int fd = openat(dirfd_other, "x", O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CREAT | O_EXCL, 0644);

	return fd >= 0 ? 0 : 1;
}

static const struct {
	const char *name;
	unsigned need;		/* the T_ bits that allow it */
	int (*fn)(void);
} needed[] = {
	{ "sendto", T_INJECT, call_sendto },
	{ "ioctl SIOCGIFINDEX", T_INJECT, call_ioctl_ifindex },
	{ "getsockopt PACKET_STATISTICS", T_LIVE, call_packet_stats },
	{ "setsockopt PACKET_RX_RING", T_LIVE, call_packet_ring },
	{ "getsockopt SO_ERROR", T_LIVE, call_so_error },
	{ "getsockname", T_LIVE, call_getsockname },
	{ "ioctl SIOCGIFFLAGS", T_LIVE, call_ioctl_ifflags },
	{ "open read-only by path", T_LIVE, call_open_readonly },
	{ "create and reopen a log file", T_LOG, call_log_create },
	{ "log file in another directory", T_LOG, call_log_other_dir },
};

/*
 * Each call without its need (every other need given), with it, and for
 * the log files with the directory pinned: the other directory is refused
 * then, the log directory still allowed.
 */
START_TEST(test_needed)
{
	int i = _i / 3, v = _i % 3;
	unsigned all_but = T_ALL & ~needed[i].need & ~T_PIN;
	unsigned bits = v == 0 ? all_but : v == 1 ? needed[i].need :
	    needed[i].need | T_PIN;
	int status = run_sandboxed(bits, needed[i].fn);
	bool allowed = v != 0;

	if (v == 2 && needed[i].fn == call_log_other_dir)
		allowed = false;
	/* A sanitizer's reports need read-only opens: allowed in its build. */
	if (needed[i].fn == call_open_readonly &&
	    __sanitizer_sandbox_on_notify != NULL)
		allowed = true;
	if (allowed)
		expect_exit0(needed[i].name, bits, status);
	else
		expect_sigsys(needed[i].name, bits, status);
}
END_TEST

/* ---- what every run does ---- */

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static volatile sig_atomic_t got_usr1;

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/*
 * The steady state of a run, one call of each kind; returns the number of
 * the first that misbehaved (0: none). SIGUSR1's handler is set up by the
 * parent, before the filter, as flowgrep does.
 */
static int
call_everyday(void)
{
	char buf[64], *big;
	struct stat st;
	struct pollfd pfd = { pipefd[0], POLLIN, 0 };
	struct timespec ts = { 0, 0 };
	sigset_t set, old;
	struct tm tm;
	time_t t = 1700000000;
	int *v, i;

	if (write(pipefd[1], "abc", 3) != 3 || read(pipefd[0], buf, 3) != 3 ||
	    memcmp(buf, "abc", 3) != 0)
		return 1;
	if (pread(datafd, buf, 4, 3) != 4 || memcmp(buf, "3456", 4) != 0)
		return 2;
	if (lseek(datafd, 0, SEEK_SET) != 0 || read(datafd, buf, 2) != 2)
		return 3;
	if (fstat(datafd, &st) != 0 || st.st_size != 10)
		return 4;
	if (isatty(datafd) || errno != ENOTTY)
		return 5;
	/* Small (brk), large (mmap) and growing (mremap) allocations. */
	if ((v = malloc(1000 * sizeof(*v))) == NULL ||
	    (big = malloc(64 << 20)) == NULL)
		return 6;
	memset(big, 1, 64 << 20);
	if ((big = realloc(big, 128 << 20)) == NULL)
		return 7;
	free(big);
	/* glibc's qsort asks the machine's memory size (sysinfo). */
	for (i = 0; i < 1000; i++)
		v[i] = 1000 - i;
	qsort(v, 1000, sizeof(*v), cmp_int);
	if (v[0] != 1 || v[999] != 1000)
		return 8;
	free(v);
	if (poll(&pfd, 1, 0) != 0 || ppoll(&pfd, 1, &ts, NULL) != 0)
		return 9;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, &old) != 0 ||
	    sigprocmask(SIG_SETMASK, &old, NULL) != 0)
		return 10;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 11;
	/* The time zone was loaded when the filter went on. */
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y %Z", &tm) == 0)
		return 12;
	/* A stream's first use: fstat and isatty on its descriptor. */
	if (fprintf(pipe_fp, "line %d\n", 1) != 7 || fflush(pipe_fp) != 0 ||
	    read(pipefd[0], buf, 7) != 7 || memcmp(buf, "line 1\n", 7) != 0)
		return 13;
	/* A signal to itself, handled. */
	if (raise(SIGUSR1) != 0 || !got_usr1)
		return 14;
	if (close(datafd) != 0)
		return 15;
	return 0;
}

START_TEST(test_everyday)
{
	struct sigaction sa;
	unsigned bits = _i == 0 ? 0 : T_ALL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	expect_exit0("everyday calls", bits, run_sandboxed(bits,
	    call_everyday));
}
END_TEST

static int
call_abort(void)
{
	abort();
}

/*
 * An assertion that fails still ends in SIGABRT, as without the filter.
 * Not where the filter is not used: AddressSanitizer's abort(3) first
 * calls what the filter forbids.
 */
START_TEST(test_abort)
{
	int status;
	char got[64];

	if (!sandbox_supported())
		return;
	status = run_sandboxed(0, call_abort);

	describe(got, sizeof(got), status);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "abort: expected SIGABRT, got %s", got);
}
END_TEST

/* The value of a "Name:\tvalue" line of a /proc status file, or -1. */
static long
status_file_field(const char *path, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long v = -1;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(fp);
	return v;
}

/* The value of a "Name:\tvalue" line of /proc/PID/status, or -1. */
static long
status_field(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return status_file_field(path, name);
}

/* The kernel's view of the child: filter mode 2, no_new_privs set. */
START_TEST(test_proc_status)
{
	struct sandbox_needs n = { false, -1, false, false };
	char errbuf[SANDBOX_ERRBUF_SIZE], c;
	int go[2], hold[2], status;
	long mode, nnp;
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(hold), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(go[0]);
		close(hold[1]);
		if (sandbox_install(&n, errbuf) == -1)
			CHILD_EXIT(INSTALL_FAILED);
		/* Installed: says so, waits until the parent has looked. */
		if (write(go[1], "i", 1) != 1)
			CHILD_EXIT(1);
		CHILD_EXIT(read(hold[0], &c, 1) == 0 ? 0 : 1);
	}
	close(go[1]);
	close(hold[0]);
	ck_assert_int_eq(read(go[0], &c, 1), 1);
	mode = status_field(pid, "Seccomp");
	nnp = status_field(pid, "NoNewPrivs");
	close(hold[1]);
	close(go[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(mode, 2);
	ck_assert_int_eq(nnp, 1);
	expect_exit0("installed, then waiting", 0, status);
	/* Only the child: this process has no filter. */
	ck_assert_int_eq(status_field(getpid(), "Seccomp"), 0);
}
END_TEST

/*
 * The thread that reads a file ahead (readahead.c) starts before the
 * filter, as flowgrep starts it at pcapio_open: the filter must cover it
 * too (every task of the process in mode 2), and what it calls while
 * reading (pread, futex) and at its end must be allowed.
 */
START_TEST(test_reading_thread)
{
	struct sandbox_needs n = { false, -1, false, false };
	char errbuf[SANDBOX_ERRBUF_SIZE], path[64], c;
	int go[2], hold[2], status, tasks = 0, filtered = 0;
	struct dirent *de;
	DIR *d;
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(hold), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct readahead *ra;
		uint8_t *data;
		ssize_t r, total = 0;

		close(go[0]);
		close(hold[1]);
		/* 10 bytes in blocks of 3, two ahead: the rest is read later. */
		if ((ra = readahead_start(datafd, 0, 3, 0, 2)) == NULL)
			CHILD_EXIT(10);
		if (sandbox_install(&n, errbuf) == -1)
			CHILD_EXIT(INSTALL_FAILED);
		while ((r = readahead_next(ra, &data)) > 0) {
			if (memcmp(data, "0123456789" + total, (size_t)r) != 0)
				CHILD_EXIT(11);
			total += r;
			readahead_release(ra);
		}
		if (r != 0 || total != 10)
			CHILD_EXIT(12);
		if (write(go[1], "r", 1) != 1)
			CHILD_EXIT(13);
		if (read(hold[0], &c, 1) != 0)
			CHILD_EXIT(14);
		/*
		 * Its end: AddressSanitizer's thread exit calls sigaltstack(2),
		 * which the filter forbids; flowgrep runs such builds without
		 * the filter (sandbox_supported()), so that end is not tried.
		 */
		if (sandbox_supported())
			readahead_stop(ra);
		CHILD_EXIT(0);
	}
	close(go[1]);
	close(hold[0]);
	ck_assert_int_eq(read(go[0], &c, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		char status_path[sizeof(path) + sizeof(de->d_name) + 8];

		if (de->d_name[0] == '.')
			continue;
		snprintf(status_path, sizeof(status_path), "%s/%s/status", path,
		    de->d_name);
		tasks++;
		filtered += status_file_field(status_path, "Seccomp") == 2;
	}
	closedir(d);
	close(hold[1]);
	close(go[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	expect_exit0("reading ahead under the filter", 0, status);
	ck_assert_int_eq(tasks, 2);
	ck_assert_int_eq(filtered, 2);
}
END_TEST

/*
 * When the kernel refuses the filter (here: an earlier filter makes
 * seccomp(2) fail with EPERM), sandbox_install says why and
 * installs nothing: what it would forbid still works.
 */
static int
call_refused_install(void)
{
	struct sandbox_needs n = { false, -1, false, false };
	char errbuf[SANDBOX_ERRBUF_SIZE] = "";
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd;

	if (ctx == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp),
	    0) < 0 ||
	    seccomp_load(ctx) < 0)
		return 1;
	seccomp_release(ctx);
	if (sandbox_install(&n, errbuf) != -1)
		return 2;
	/* The reason is libseccomp's errno, not always the kernel's. */
	if (strncmp(errbuf, "cannot install the system call filter: ",
	    39) != 0 || strlen(errbuf) <= 39) {
		fprintf(stderr, "errbuf: '%s'\n", errbuf);
		return 3;
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 4;
	close(fd);
	return 0;
}

START_TEST(test_refused)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		CHILD_EXIT(call_refused_install());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	expect_exit0("refused install", 0, status);
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tf = tcase_create("forbidden");
	TCase *ta = tcase_create("allowed");

	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_loop_test(tf, test_forbidden, 0, 2 * NELEMS(forbidden));
	tcase_add_loop_test(tf, test_needed, 0, 3 * NELEMS(needed));
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(ta, setup, teardown);
	tcase_add_loop_test(ta, test_everyday, 0, 2);
	tcase_add_test(ta, test_abort);
	tcase_add_test(ta, test_proc_status);
	tcase_add_test(ta, test_reading_thread);
	tcase_add_test(ta, test_refused);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sandbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
