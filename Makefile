# flowgrep: one flat Makefile. pkg-config finds every library.
PKG_CONFIG ?= pkg-config
CC ?= cc
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
VERSION = 1.0.0

PKGS = libpcap libpcre2-8 libhs libseccomp
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Wstrict-prototypes -Wshadow -Wpointer-arith \
	-Wmissing-prototypes
ifdef WERROR
WARN += -Werror
endif
ifdef SANITIZER
CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZER)
endif
CPPFLAGS += -D_GNU_SOURCE -DFLOWGREP_VERSION='"$(VERSION)"' -MMD -MP
# The input is read ahead by a second thread (readahead.c, pipefill.c).
CPPFLAGS += -pthread
LDFLAGS += -pthread
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
# libnet has no pkg-config file. Its --defines still hold -D_BSD_SOURCE,
# which glibc warns about unless _DEFAULT_SOURCE is defined as well.
LIBNET_CFLAGS := $(shell libnet-config --cflags --defines) -D_DEFAULT_SOURCE
LIBNET_LIBS := $(shell libnet-config --libs)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check)
NIDS_LIBS = -lnids $(shell $(PKG_CONFIG) --libs gthread-2.0) -lnet -lpcap

# The build directory depends on the sanitizer so that instrumented and plain
# objects never mix.
BUILD = build$(if $(SANITIZER),-$(SANITIZER))
MODULES = readahead pipefill pcapio decode reasm flow hscache littrie match matcher report engine log options kill sandbox
MODOBJS = $(MODULES:%=$(BUILD)/%.o)
BIN = $(BUILD)/flowgrep

CHECK_SRCS = $(wildcard tests/check_*.c)
CHECK_BINS = $(CHECK_SRCS:tests/%.c=$(BUILD)/%)
TOOL_BINS = $(BUILD)/mkcap $(BUILD)/nidsdump $(BUILD)/streamdump

# Sanitized builds stay in their build directory; the plain one is also
# copied to ./flowgrep.
ifdef SANITIZER
all: $(BIN)
else
all: flowgrep
endif

# Renamed into place, so a running ./flowgrep is never written to.
flowgrep: build/flowgrep
	cp build/flowgrep $@.tmp && mv -f $@.tmp $@

$(BIN): $(BUILD)/flowgrep.o $(MODOBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LIBNET_LIBS) -lm

# Only kill.c includes <libnet.h>, and only it gets libnet's defines.
$(BUILD)/kill.o $(BUILD)/check_kill: EXTRA_CFLAGS = $(LIBNET_CFLAGS)

$(BUILD)/%.o: %.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS) -I. \
		-c -o $@ $<

$(BUILD)/check_%: tests/check_%.c $(MODOBJS) tests/testutil.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS) \
		$(CHECK_CFLAGS) -I. -o $@ $< $(MODOBJS) $(PKG_LIBS) $(LIBNET_LIBS) \
		$(CHECK_LIBS) -lm

$(BUILD)/mkcap: tests/mkcap.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

# libnids is the reference TCP reassembler (IPv4 only); it is not C11-clean,
# so its test tool is built without -Wstrict-prototypes' friends.
$(BUILD)/nidsdump: tests/nidsdump.c tests/sha256.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(NIDS_LIBS)

$(BUILD)/streamdump: tests/streamdump.c tests/sha256.h $(MODOBJS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I. -o $@ \
		$< $(MODOBJS) $(PKG_LIBS) $(LIBNET_LIBS) -lm

$(BUILD):
	mkdir -p $@

# Runs flowgrep on a small capture of its own making.
demo: flowgrep $(BUILD)/mkcap
	@mkdir -p tests/out
	$(BUILD)/mkcap split-match tests/out/demo.pcap
	./flowgrep -r tests/out/demo.pcap -a 'secret-token'
	./flowgrep -q -r tests/out/demo.pcap -a 'secret-token' -w tests/out/demo-out.pcap
	tcpdump -nn -r tests/out/demo-out.pcap

# The tests keep compiled pattern sets of their own, not in ~/.cache.
check: export FLOWGREP_CACHE_DIR = $(CURDIR)/$(BUILD)/pattern-cache
check: $(BIN) $(CHECK_BINS) $(TOOL_BINS)
	@set -e; for t in $(CHECK_BINS); do echo "== $$t"; \
		CK_TEST_DIR=tests ./$$t; done
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_live.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_watch.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_shard.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_props.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_sandbox.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_cache.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_ioc.sh
	@BUILD=$(BUILD) sh tests/diff_nids.sh
	@BUILD=$(BUILD) FLOWGREP=$(BIN) sh tests/e2e_adversary.sh
	@BUILD=$(BUILD) sh fuzz/replay.sh

# The code shared by two threads, under ThreadSanitizer (.ci/run).
check-thread:
	SANITIZER=thread $(MAKE) build-thread/check_readahead \
		build-thread/check_pipefill build-thread/check_pcapio \
		build-thread/check_matcher
	CK_TEST_DIR=tests ./build-thread/check_readahead
	./build-thread/check_pipefill
	CK_RUN_CASE=synthetic ./build-thread/check_pcapio
	./build-thread/check_matcher

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/flowgrep
	install -m 644 man/flowgrep.1 $(DESTDIR)$(MANDIR)/man1/flowgrep.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/flowgrep $(DESTDIR)$(MANDIR)/man1/flowgrep.1

# Times flowgrep against cat, tcpdump, ngrep, tshark and tcpflow on generated
# captures and writes bench/RESULTS.md (knobs: see bench/run.sh). Not part of
# check: it takes minutes, needs gigabytes and installs tools.
bench:
	bash bench/run.sh

clean:
	rm -rf build build-* $(BIN) tests/out

.PHONY: all check check-thread demo install uninstall clean bench

-include $(wildcard $(BUILD)/*.d)

# ---- fuzzing: clang's libFuzzer with ASan and UBSan (fuzz/README) ----
# The modules are compiled again with clang into their own directory; each
# harness fuzz/fuzz_NAME links them. Seeds are generated, not committed.
FUZZ_CC ?= clang
FUZZ_BUILD = build-fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_MODULES = readahead pipefill pcapio decode reasm flow hscache littrie match matcher engine
FUZZ_OBJS = $(FUZZ_MODULES:%=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/harness.o \
	$(FUZZ_BUILD)/fuzzpat.o
FUZZ_NAMES = packet capture patterns
FUZZ_BINS = $(FUZZ_NAMES:%=fuzz/fuzz_%)
# Kept although only pattern rules name them.
.SECONDARY: $(FUZZ_OBJS)
# Seconds each harness runs in fuzz-smoke.
FUZZ_TIME ?= 60

fuzz: $(FUZZ_BINS) $(FUZZ_BUILD)/seeds.stamp

$(FUZZ_BUILD)/%.o: %.c | $(FUZZ_BUILD)
	$(FUZZ_CC) $(CPPFLAGS) $(WARN) -O1 -g $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link $(PKG_CFLAGS) -I. -c -o $@ $<

$(FUZZ_BUILD)/%.o: fuzz/%.c | $(FUZZ_BUILD)
	$(FUZZ_CC) $(CPPFLAGS) $(WARN) -O1 -g $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link $(PKG_CFLAGS) -I. -c -o $@ $<

fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) -MF $(FUZZ_BUILD)/fuzz_$*.d $(WARN) -O1 -g \
		$(FUZZ_SAN) -fsanitize=fuzzer $(PKG_CFLAGS) -I. -o $@ $< \
		$(FUZZ_OBJS) $(PKG_LIBS) -lm

# Seeds from the corpus (first packets of each capture) and mkcap's scenarios.
$(FUZZ_BUILD)/seeds.stamp: fuzz/mkseeds.sh fuzz/mkseeds.py $(BUILD)/mkcap \
		| $(FUZZ_BUILD)
	BUILD=$(BUILD) sh fuzz/mkseeds.sh $(FUZZ_BUILD)/seeds
	touch $@

$(FUZZ_BUILD):
	mkdir -p $@

# Each harness FUZZ_TIME seconds on its seeds and fuzz/regress/, after
# replaying every saved crash; fails on any crash.
fuzz-smoke: fuzz
	FUZZ_TIME=$(FUZZ_TIME) sh fuzz/smoke.sh

# The harnesses without libFuzzer, for replaying fuzz/regress/ in make check.
REPLAY_BINS = $(FUZZ_NAMES:%=$(BUILD)/replay_%)

$(BUILD)/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/harness.c fuzz/fuzzpat.c \
		fuzz/harness.h fuzz/fuzzpat.h $(MODOBJS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I. -o $@ $< \
		fuzz/replay.c fuzz/harness.c fuzz/fuzzpat.c $(MODOBJS) \
		$(PKG_LIBS) $(LIBNET_LIBS) -lm

fuzz-replay: $(REPLAY_BINS)
	BUILD=$(BUILD) sh fuzz/replay.sh

# make check also replays fuzz/regress/ and runs the adversarial traffic.
check: $(BUILD)/adversary $(REPLAY_BINS)

$(BUILD)/adversary: tests/adversary.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

clean: clean-fuzz
clean-fuzz:
	rm -f $(FUZZ_BINS)

.PHONY: fuzz fuzz-smoke fuzz-replay clean-fuzz

-include $(wildcard $(FUZZ_BUILD)/*.d)
