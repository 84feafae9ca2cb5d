/* sandbox.h: a seccomp allow-list for flowgrep once everything is open. */
#ifndef FLOWGREP_SANDBOX_H
#define FLOWGREP_SANDBOX_H

#include <stdbool.h>

#define SANDBOX_ERRBUF_SIZE 256

/*
 * What the run still does once the filter is on, beyond what every run
 * does (read and write open descriptors, seek, allocate memory, wait for
 * input, handle its signals, exit).
 */
struct sandbox_needs {
	bool log_files;	/* -l: creates and appends to files in a dir */
	int log_dirfd;	/* that directory's descriptor; -1: any one */
	bool live;	/* a device: libpcap's statistics, errors, close */
	bool inject;	/* -k on a device: RSTs sent on raw sockets */
};

/*
 * Installs a seccomp filter on the calling process for the rest of its
 * life: a system call that is not on the list for these needs kills the
 * process with SIGSYS. Also sets no_new_privs and loads what the C library
 * would otherwise read from disk later (the time zone). The process must be
 * single-threaded. Returns 0, or -1 with errbuf set when the kernel or the
 * library refuses (nothing is installed then).
 */
int sandbox_install(const struct sandbox_needs *n, char *errbuf);

/*
 * False in a build whose sanitizer runtime needs system calls the filter
 * forbids (AddressSanitizer's leak check at exit traces the process); the
 * caller then runs without the filter.
 */
bool sandbox_supported(void);

#endif
