# One Makefile for the whole tree.  Every module's sources (all .c files in
# the top-level module folders except each program's main.c) go into one static
# library that the three programs, the unit tests, the benchmarks and the fuzz
# targets link against.  Objects live out of tree under $(BUILD).
#
#   make                      build/bin/{orchestratord,migrator,orchctl}
#   make check                build and run every cmocka unit test
#   make check SAN=address,undefined   the same in a separate sanitizer tree
#   make e2e                  end-to-end tests against the real lab (root)
#   make bench                benchmarks, printing "bench: NAME VALUE UNIT"
#   make bench-migrate        orchestrated vs raw virsh migration on the lab (root)
#   make fuzz-run             every libFuzzer target, 60 s each (clang)
#   make test                 install what is missing, build, check, e2e
#   make demo                 bring up the lab and run the main job
#   make demo-down            remove what the demo left running
#   make format / format-check
#   make install              binaries, units, man pages, example configs,
#                             bash completion; PREFIX (/usr/local), DESTDIR
#   make deb                  build/deb/{orchestratord,migrator,orchctl}_*.deb

PKGS := libvirt sqlite3 libevent libevent_openssl libevent_pthreads \
	libnl-3.0 libnl-route-3.0 libconfig yaml-0.1 jansson libisofs-1 libcurl \
	openssl libxml-2.0

ifneq ($(SAN),)
BUILD ?= build-san
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
# Packages pkg-config does not find, named in the error the build stops with.
MISSING_PKGS := $(foreach p,$(PKGS),\
	$(if $(shell pkg-config --exists $(p) && echo y),,$(p)))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# WERROR=0 lets a packager build with a newer compiler's new warnings.
WERROR ?= 1
WARN := -Wall -Wextra -Wformat=2 -Wmissing-prototypes $(if $(filter 1,$(WERROR)),-Werror)
CFLAGS ?= -O2 -g
# Hardening as Debian's dpkg-buildflags with hardening=+all gives it: stack
# protector, fortified libc calls, PIE, full RELRO.  _FORTIFY_SOURCE is left
# out of sanitizer builds, where ASan intercepts the same calls.
HARDEN_CFLAGS := -fstack-protector-strong -fPIE \
	$(if $(SANFLAGS),,-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN_CFLAGS) $(CFLAGS) \
	$(SANFLAGS) -I. $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(HARDEN_LDFLAGS) $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

PROGRAMS := orchestratord migrator orchctl
# Module folders are the top-level folders holding C sources, minus tests.
MODULE_DIRS := $(filter-out tests scripts build build-san build-fuzz, \
	$(patsubst %/,%,$(sort $(dir $(wildcard */*.c)))))
LIB_SRCS := $(filter-out $(addsuffix /main.c,$(PROGRAMS)), \
	$(foreach d,$(MODULE_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/liborch.a

BINS := $(addprefix $(BUILD)/bin/,$(PROGRAMS))

# Unit tests: tests/unit/test_NAME.c -> $(BUILD)/tests/test_NAME.  Shared test
# helpers and --wrap fakes in tests/unit/support/ go into an archive placed
# after the library.  A file tests/unit/test_NAME.ldflags, if present, adds
# link flags (such as -Wl,--wrap=SYMBOL) to that one test.
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/%.o)
SUPPORT := $(BUILD)/libtestsupport.a

BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCHES := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all check e2e chaos bench bench-migrate fuzz fuzz-run test demo demo-down format \
	format-check clean \
	pkgs-present install install-orchestratord install-migrator \
	install-orchctl deb check-man
.DEFAULT_GOAL := all
# Keep objects that pattern rules build on the way to a program or test.
.SECONDARY:

all: $(BINS)

pkgs-present:
ifneq ($(strip $(MISSING_PKGS)),)
	@echo "missing pkg-config packages: $(strip $(MISSING_PKGS)) (run scripts/install-deps.sh as root)" >&2
	@exit 1
endif

$(BUILD)/%.o: %.c | pkgs-present
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SUPPORT): $(SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/%/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

# The library again after the support archive: a helper there (the fake
# orchestratord) may use a module the test itself does not.
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB) $(SUPPORT)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $(shell cat tests/unit/$*.ldflags 2>/dev/null) \
		-o $@ $< $(LIB) $(SUPPORT) $(LIB) $(LIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

# Every test binary runs even when an earlier one fails; the target fails if
# any did.  Tests find their data relative to the top of the tree.
check: $(BINS) $(TESTS) check-man
	@failed=0; for t in $(TESTS); do \
		echo "== $$t"; \
		ORCH_TOP=$(CURDIR) ORCH_BUILD=$(CURDIR)/$(BUILD) $$t || failed=1; \
	done; \
	if [ $$failed -ne 0 ]; then echo "check: some unit tests failed"; exit 1; fi

e2e: $(BINS)
	@ORCH_TOP=$(CURDIR) ORCH_BUILD=$(CURDIR)/$(BUILD) tests/e2e/run.sh

# Faults at random moments of migrations in the lab (issue 10); not part of
# make test.  CHAOS_ROUNDS=N rounds (default 10).
CHAOS_ROUNDS ?= 10
chaos: $(BINS)
	@ORCH_TOP=$(CURDIR) ORCH_BUILD=$(CURDIR)/$(BUILD) CHAOS_ROUNDS=$(CHAOS_ROUNDS) tests/e2e/chaos.sh

bench: $(BINS) $(BENCHES)
	@for b in $(BENCHES); do ORCH_TOP=$(CURDIR) $$b || exit 1; done
	@for s in $(filter-out tests/bench/bench_migrate.sh,$(wildcard tests/bench/*.sh)); do \
		ORCH_TOP=$(CURDIR) ORCH_BUILD=$(CURDIR)/$(BUILD) sh $$s || exit 1; done

# The migration benchmark (issue 9): minutes on the lab, so apart from bench.
bench-migrate: $(BINS)
	@ORCH_TOP=$(CURDIR) ORCH_BUILD=$(CURDIR)/$(BUILD) bash tests/bench/bench_migrate.sh

# libFuzzer targets: tests/fuzz/fuzz_NAME.c, built with clang against the
# library sources in their own tree, run from tests/fuzz/corpus/NAME.
FUZZ_BUILD := build-fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_TIME ?= 60

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang HARDEN_CFLAGS= HARDEN_LDFLAGS= \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		$(FUZZ_BUILD)/liborch.a
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		echo "clang $$f -> $(FUZZ_BUILD)/$$n"; \
		clang -std=c11 -D_GNU_SOURCE -O1 -g -I. $(PKG_CFLAGS) \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-o $(FUZZ_BUILD)/$$n $$f $(FUZZ_BUILD)/liborch.a $(LIBS) || exit 1; \
	done

fuzz-run: fuzz
	@for f in $(FUZZERS); do \
		n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; \
		w=$$(mktemp -d); cp -r $$c/. $$w/ 2>/dev/null; \
		echo "== $$n for $(FUZZ_TIME) s from $$c"; \
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/$$n- $$w; rc=$$?; \
		rm -rf $$w; [ $$rc -eq 0 ] || exit 1; \
	done

test:
	scripts/install-deps.sh
	$(MAKE) all
	$(MAKE) check
	$(MAKE) e2e

demo:
	scripts/install-deps.sh
	$(MAKE) all
	scripts/demo.sh

# Remove what make demo left running: orchestratord, the migrators, the lab.
demo-down:
	scripts/demo.sh down

FORMAT_SRCS = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h')
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-san build-fuzz

# ---- Installation (issue 13) -------------------------------------------
# The daemons go to sbin (section 8), orchctl to bin; configuration to
# $(SYSCONFDIR)/orchestrator whatever the PREFIX, since the daemons read
# /etc/orchestrator/*.conf by default (conf/conf.h).  An existing
# configuration is never overwritten: the example is installed beside it
# as *.conf.example.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd reads units from /usr/local/lib/systemd/system too; Debian's
# packages use /lib/systemd/system (make deb sets it).
UNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install

MAN_PAGES := packaging/man/orchestratord.8 packaging/man/migrator.8 \
	packaging/man/orchctl.1 packaging/man/orchestratord.conf.5 \
	packaging/man/migrator.conf.5

# Every key of conf/'s schema tables must be in its man page.
check-man:
	@sh packaging/check-man.sh

define install_conf
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/orchestrator
	if [ -e $(DESTDIR)$(SYSCONFDIR)/orchestrator/$(1) ]; then \
		$(INSTALL) -m 0644 conf/$(1) \
			$(DESTDIR)$(SYSCONFDIR)/orchestrator/$(1).example; \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/orchestrator/$(1); the example is $(1).example"; \
	else \
		$(INSTALL) -m $(2) conf/$(1) $(DESTDIR)$(SYSCONFDIR)/orchestrator/$(1); \
	fi
endef

define install_unit
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/systemd/$(1) \
		>$(DESTDIR)$(UNITDIR)/$(1).tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/$(1).tmp
	mv $(DESTDIR)$(UNITDIR)/$(1).tmp $(DESTDIR)$(UNITDIR)/$(1)
endef

install: install-orchestratord install-migrator install-orchctl

install-orchestratord: $(BUILD)/bin/orchestratord
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 0755 $(BUILD)/bin/orchestratord $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 packaging/man/orchestratord.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 packaging/man/orchestratord.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(call install_unit,orchestratord.service)
	$(call install_conf,orchestratord.conf,0640)

install-migrator: $(BUILD)/bin/migrator
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 0755 $(BUILD)/bin/migrator $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 packaging/man/migrator.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 packaging/man/migrator.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(call install_unit,migrator.service)
	$(call install_conf,migrator.conf,0600)

# The completion script is what the installed orchctl prints, made from
# its own verb and flag tables.
install-orchctl: $(BUILD)/bin/orchctl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0755 $(BUILD)/bin/orchctl $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 packaging/man/orchctl.1 $(DESTDIR)$(MANDIR)/man1/
	$(BUILD)/bin/orchctl completion bash >$(DESTDIR)$(BASHCOMPDIR)/orchctl
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/orchctl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(PREFIX)/share/orchestrator
	$(INSTALL) -m 0755 scripts/cron-drain.sh $(DESTDIR)$(PREFIX)/share/orchestrator/
	$(INSTALL) -m 0644 scripts/cron-drain.example $(DESTDIR)$(PREFIX)/share/orchestrator/

# ---- Debian packages ---------------------------------------------------
# Three binary packages made with dpkg-deb from `make install` into a
# staging root each (no debhelper: the tree is not a Debian source
# package); dependencies from dpkg-shlibdeps; maintainer scripts in
# packaging/debian/PKG.{postinst,prerm,postrm}.
DEB_VERSION ?= $(shell sed -n 's/^\#define ORCHCTL_VERSION *"v\(.*\)"/\1/p' orchctl/orchctl.h)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_DIR := $(BUILD)/deb

deb: $(BINS)
	@for p in orchestratord migrator orchctl; do \
		DEB_VERSION=$(DEB_VERSION) DEB_ARCH=$(DEB_ARCH) BUILD=$(BUILD) \
		MAKE="$(MAKE)" sh packaging/debian/build.sh $$p $(DEB_DIR) || exit 1; \
	done

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
