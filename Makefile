# fetchpool build.
#   make                 library (.a, .so) and the fetchpool program
#   make test            build and run the test suite (installs deps if missing: make deps)
#   make CFLAGS=... LDFLAGS=...  added to the project's own flags; WERROR=0|1 (default 1 in a git checkout)
#   make test SAN=thread            ... under ThreadSanitizer
#   make test SAN=address,undefined ... under AddressSanitizer + UBSan
#   make valgrind        the test suite under valgrind memcheck
#   make demo            the main job on the bundled loopback server
#   make bench           benchmark lab on a loopback nginx, plain HTTP then HTTPS and
#                        HTTP/2, ~50 min (QUICK=1: ~4 min; TLS=0: plain only);
#                        results in bench/results/, see BENCHMARKS.md
#   make bench-scale     Redis Streams: 1, 2 and 4 workers on a 100 ms server (~1 min)
#   make bench-politeness  issue 18's targets: per-host politeness, -t N against
#                        -t auto, on the test server and nginx (QUICK=1: ~3 min);
#                        results in bench/results-politeness/, see BENCHMARKS.md
#   make python          the Python package: library copied into python/fetchpool/,
#                        installed into .venv (VENV=...) offline
#   make install / uninstall   honour PREFIX and DESTDIR
#   make lint            the design's walls (scripts/check-walls.sh), cppcheck, clang-tidy
#   make fuzz FUZZ_SECONDS=60   every libFuzzer harness (tests/fuzz/), each
#                        that long, under ASan + UBSan (clang)

VERSION    := 0.3.0
SOVERSION  := 1
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib
INCDIR     := $(PREFIX)/include
MANDIR     := $(PREFIX)/share/man/man1
PKGDIR     := $(LIBDIR)/pkgconfig

CC         ?= cc
PKG_CONFIG ?= pkg-config
SAN        ?=
comma      := ,

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl jansson 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs libcurl jansson 2>/dev/null)
# the program's Redis commands (src/cli/redis.c) need hiredis; the library does not
CLI_CFLAGS  := $(shell $(PKG_CONFIG) --cflags hiredis 2>/dev/null)
CLI_LIBS    := $(shell $(PKG_CONFIG) --libs hiredis 2>/dev/null)
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka libmicrohttpd zlib hiredis 2>/dev/null)
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka libmicrohttpd zlib hiredis 2>/dev/null)

# The project's own flags go on top of the user's CFLAGS, CPPFLAGS and
# LDFLAGS (Redis's FINAL_CFLAGS pattern), so `make CFLAGS=-g` or a
# distribution's hardening flags add to them instead of replacing them.
# -Werror: on in a git checkout (developers, CI), off in a release tree
# built by a user with a newer compiler; WERROR=0/1 overrides.
WERROR  ?= $(if $(wildcard .git),1,0)
WARN    := -Wall -Wextra -Wformat-security -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter $(if $(filter 1,$(WERROR)),-Werror)
OPT     ?= -O2 -g
CFLAGS  ?=
CPPFLAGS ?=
LDFLAGS ?=
FINAL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -pthread -Iinclude -Isrc $(DEPS_CFLAGS) \
                $(SAN_CFLAGS) -MMD -MP $(CPPFLAGS) $(CFLAGS)
FINAL_LDFLAGS = $(SAN_LDFLAGS) $(LDFLAGS)
LDLIBS  := $(DEPS_LIBS) -pthread -lm

ifneq ($(SAN),)
  BUILD       := build/san-$(subst $(comma),-,$(SAN))
  SAN_CFLAGS  := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
  SAN_LDFLAGS := -fsanitize=$(SAN)
else
  BUILD   := build
endif

LIB_SRC  := $(wildcard src/*.c)
CLI_SRC  := $(wildcard src/cli/*.c src/cli/stream/*.c)
SRV_SRC  := $(filter-out tests/server/main.c,$(wildcard tests/server/*.c))
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
SRV_OBJ  := $(SRV_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_BIN := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

STATIC   := $(BUILD)/libfetchpool.a
SHARED   := $(BUILD)/libfetchpool.so.$(VERSION)
PROGRAM  := $(BUILD)/fetchpool
SERVER   := $(BUILD)/fp-testserver
PEAK_RSS := $(BUILD)/tests/fp-peak-rss

.PHONY: all test check valgrind demo install uninstall lint clean deps examples bench bench-scale \
        bench-politeness \
        fuzz fuzz-build python

all: $(STATIC) $(SHARED) $(PROGRAM)

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/tests/server/%.o: tests/server/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libfetchpool.so.$(SOVERSION) $(FINAL_LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf libfetchpool.so.$(VERSION) $(BUILD)/libfetchpool.so.$(SOVERSION)
	ln -sf libfetchpool.so.$(SOVERSION) $(BUILD)/libfetchpool.so

$(PROGRAM): $(CLI_OBJ) $(STATIC)
	$(CC) $(FINAL_LDFLAGS) -o $@ $(CLI_OBJ) $(STATIC) $(CLI_LIBS) $(LDLIBS)

$(SERVER): tests/server/main.c $(SRV_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) $(FINAL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(SRV_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) -Itests -Itests/server $(FINAL_LDFLAGS) -o $@ $< $(SRV_OBJ) \
	    $(STATIC) $(TEST_LIBS) $(LDLIBS)

# The CLI's rooms tested directly: linked with every CLI object but main.
CLI_ROOM_OBJ := $(filter-out $(BUILD)/src/cli/main.o,$(CLI_OBJ))

$(BUILD)/tests/test_cli_rooms: tests/test_cli_rooms.c $(CLI_ROOM_OBJ) $(SRV_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) $(CLI_CFLAGS) -Itests -Itests/server -Isrc/cli \
	    $(FINAL_LDFLAGS) -o $@ $< $(CLI_ROOM_OBJ) $(SRV_OBJ) $(STATIC) $(CLI_LIBS) $(TEST_LIBS) $(LDLIBS)

# never sanitized: it must stay small (see tests/peak_rss.c)
$(PEAK_RSS): tests/peak_rss.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) -o $@ $<

# tests/test_fuzz replays the fuzz corpora and regression inputs: each
# harness built with the ordinary compiler under its own entry name, and
# the CLI's parsers once src/cli/parse.c exists.
FUZZ_LIB_NAMES := job_line header retry_after host_key
FUZZ_CLI_SRC   := $(wildcard src/cli/parse.c)
FUZZ_CLI_NAMES := $(if $(FUZZ_CLI_SRC),cli_parse resume_line)
# batch-in: URL globs, CSV and TSV rows, templates
FUZZ_CLI_NAMES += $(if $(FUZZ_CLI_SRC),batch_in)
FUZZ_CLI_SRC   += $(if $(FUZZ_CLI_SRC),src/cli/glob.c src/cli/template.c src/cli/strbuf.c)
FUZZ_NAMES     := $(FUZZ_LIB_NAMES) $(FUZZ_CLI_NAMES)
REPLAY_OBJ     := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%.o) \
                  $(FUZZ_CLI_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/tests/fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -Isrc/cli -DFUZZ_REPLAY -DFUZZ_ENTRY=fuzz_$* -c $< -o $@

$(BUILD)/tests/test_fuzz: tests/test_fuzz.c $(REPLAY_OBJ) $(SRV_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) -Itests -Itests/server \
	    -DFUZZ_DIR='"$(CURDIR)/tests/fuzz"' $(if $(FUZZ_CLI_NAMES),-DFUZZ_HAVE_CLI) \
	    $(FINAL_LDFLAGS) -o $@ $< $(REPLAY_OBJ) $(SRV_OBJ) $(STATIC) $(TEST_LIBS) $(LDLIBS)

# tests/test_stream_outbox drives the stream worker's outbox directly,
# linked with its room and the CLI's clock (no Redis).
STREAM_OUTBOX_OBJ := $(BUILD)/src/cli/stream/outbox.o $(BUILD)/src/cli/clock.o

$(BUILD)/tests/test_stream_outbox: tests/test_stream_outbox.c $(STREAM_OUTBOX_OBJ) $(SRV_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(TEST_CFLAGS) -Itests -Itests/server $(FINAL_LDFLAGS) -o $@ $< \
	    $(STREAM_OUTBOX_OBJ) $(SRV_OBJ) $(STATIC) $(TEST_LIBS) $(LDLIBS)

# The test command: installs what is missing, builds, runs every suite and
# prints one "N passed, N failed" line.
test check: deps
	@$(MAKE) --no-print-directory build-tests
	@BUILD=$(BUILD) SAN="$(SAN)" WRAP="$(WRAP)" scripts/run-tests.sh $(TEST_BIN)

.PHONY: build-tests
build-tests: $(TEST_BIN) $(PROGRAM) $(SERVER) $(PEAK_RSS) $(EXAMPLE_BIN) $(SHARED)

# The suite, then the program itself (scripts/valgrind-cli.sh, whose summary
# line is prefixed "valgrind-cli:" so the suite's stays the last plain one).
# The program's runs go on when the suite fails; either failing fails it.
valgrind:
	@rc=0; \
	$(MAKE) --no-print-directory test OPT="-O1 -g" \
	    WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible --suppressions=scripts/valgrind.supp" \
	    || rc=1; \
	BUILD=$(BUILD) scripts/valgrind-cli.sh || rc=1; \
	exit $$rc

deps:
	@scripts/install-deps.sh

# libFuzzer: the library (and the CLI's parsers) built again with clang,
# coverage, ASan and UBSan into build/fuzz, one binary per harness;
# scripts/fuzz.sh runs each for FUZZ_SECONDS on a scratch corpus seeded
# from tests/fuzz/corpus/NAME and fails on any crash, leak or timeout.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -MMD -MP $(WARN) -pthread -Iinclude -Isrc -Isrc/cli $(DEPS_CFLAGS)
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_CLI_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libfetchpool-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libfetchpool-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_BUILD)/libfetchpool-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz:
	@scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh $(FUZZ_BIN)

demo: deps
	@$(MAKE) --no-print-directory $(PROGRAM) $(SERVER)
	@BUILD=$(BUILD) scripts/demo.sh

# The benchmark lab (scripts/bench/run.sh): QUICK=1 for a sanity run, RUNS=N;
# ENGINES, CLIENTS, WORKLOADS, CONC, ... are read from the environment.
bench: deps
	@$(MAKE) --no-print-directory $(PROGRAM) $(SHARED)
	@QUICK="$(QUICK)" RUNS="$(RUNS)" BUILD=$(BUILD) scripts/bench/run.sh

# Redis Streams scale-out: 1, 2 and 4 workers on a latency-bound server
bench-scale: deps
	@$(MAKE) --no-print-directory $(PROGRAM)
	@BUILD=$(BUILD) scripts/bench/scale.sh

# Politeness (issue 18): the per-host targets on the test server and nginx;
# QUICK=1 for a sanity run; THREADS, TARGETS, ENGINES, OUT, ... from the
# environment (scripts/bench/politeness.sh)
bench-politeness: deps
	@$(MAKE) --no-print-directory $(PROGRAM) $(SERVER)
	@QUICK="$(QUICK)" BUILD=$(BUILD) scripts/bench/politeness.sh

# The Python package (python/, see its README.md): Debian's python, never
# another on PATH, so its python3-cffi is the one found; a venv that sees the
# system's packages (Debian's python refuses a plain pip install), and pip
# without an index or build isolation: offline, with Debian's setuptools.
# The test server too: the README's examples run against it.
PYTHON ?= /usr/bin/python3
VENV   ?= .venv
python:
	@scripts/install-deps.sh python
	@$(MAKE) --no-print-directory $(SHARED) $(SERVER)
	cp $(SHARED) python/fetchpool/libfetchpool.so.1
	test -x $(VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --quiet --no-index --no-build-isolation ./python
	rm -rf python/build python/fetchpool.egg-info
	@echo "installed: $(VENV)/bin/python -c 'import fetchpool'"

# One program per idiom of the API; tests/test_examples.c runs each
# against the test server (so make test builds them).

$(BUILD)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

examples: $(EXAMPLE_BIN)

fetchpool.pc: fetchpool.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

install: $(STATIC) $(SHARED) $(PROGRAM)
	@rm -f fetchpool.pc; $(MAKE) --no-print-directory fetchpool.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGDIR) $(DESTDIR)$(MANDIR)
	install -m 0644 include/fetchpool.h $(DESTDIR)$(INCDIR)/fetchpool.h
	install -m 0644 $(STATIC) $(DESTDIR)$(LIBDIR)/libfetchpool.a
	install -m 0755 $(SHARED) $(DESTDIR)$(LIBDIR)/libfetchpool.so.$(VERSION)
	ln -sf libfetchpool.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfetchpool.so.$(SOVERSION)
	ln -sf libfetchpool.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libfetchpool.so
	install -m 0644 fetchpool.pc $(DESTDIR)$(PKGDIR)/fetchpool.pc
	install -m 0755 $(PROGRAM) $(DESTDIR)$(BINDIR)/fetchpool
	if [ -f man/fetchpool.1 ]; then install -m 0644 man/fetchpool.1 $(DESTDIR)$(MANDIR)/fetchpool.1; fi
	@rm -f fetchpool.pc

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/fetchpool.h $(DESTDIR)$(LIBDIR)/libfetchpool.a \
	      $(DESTDIR)$(LIBDIR)/libfetchpool.so $(DESTDIR)$(LIBDIR)/libfetchpool.so.$(SOVERSION) \
	      $(DESTDIR)$(LIBDIR)/libfetchpool.so.$(VERSION) $(DESTDIR)$(PKGDIR)/fetchpool.pc \
	      $(DESTDIR)$(BINDIR)/fetchpool $(DESTDIR)$(MANDIR)/fetchpool.1

lint:
	scripts/check-walls.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Iinclude -Isrc -Itests -Itests/server src tests
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) -- $(filter-out -MMD -MP,$(FINAL_CFLAGS))

# Header dependencies written by -MMD -MP beside each object and program.
-include $(shell find build -name '*.d' 2>/dev/null)

clean:
	rm -rf build fetchpool.pc python/build python/fetchpool.egg-info python/fetchpool/libfetchpool.so.1
