# scriptbuild - make for the AI analysis of screenplays.
# `make` builds into $(BUILD); `make check` builds a sanitized -Werror copy and runs every test.

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
PKGS      = libcurl libcjson lmdb libxxhash libarchive sqlite3 libpq libcrypto
TESTPKGS  = cmocka libmicrohttpd zlib

WARN      = -Wall -Wextra -Wshadow -Wmissing-prototypes
STD       = -std=c11 -D_POSIX_C_SOURCE=200809L
ifeq ($(SAN),1)
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
WARN     += -Werror
endif
ifeq ($(WERROR),1)
WARN     += -Werror
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TESTPKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)

ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -DSCRIPTBUILD_VERSION='"$(VERSION)"'

# The layers' arrows (cmd -> engine, export, cache; engine -> cache; export -> cache): each directory sees only the
# headers its arrows allow, so a wrong #include is a build error. cmd, tests and tools see everything.
INC_engine = -Iengine -Icache
INC_export = -Iexport -Icache
INC_cache  = -Icache
INC_ALL    = -Iengine -Icache -Iexport -Icmd
ALL_LDFLAGS = -Wl,--as-needed $(LDFLAGS) $(SANFLAGS)

LIB_SRC   = $(wildcard engine/*.c) $(wildcard cache/*.c) $(wildcard export/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       = $(BUILD)/libscriptbuild.a
# cmd's own layer (publishing); scriptbuild.c and scriptload.c are the programs.
CMD_SRC   = $(filter-out cmd/scriptbuild.c cmd/scriptload.c,$(wildcard cmd/*.c))
CMD_OBJ   = $(CMD_SRC:%.c=$(BUILD)/%.o)
BINS      = $(BUILD)/scriptbuild $(BUILD)/scriptload
UNIT_SRC  = $(wildcard tests/test_*.c)
UNIT_BINS = $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC  = $(wildcard tests/tool_*.c)
TOOL_BINS = $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
FAKEAPI   = $(BUILD)/tests/fakeapi
FUZZ_SRC  = $(wildcard tests/fuzz_*.c)
FUZZ_SECONDS ?= 60

DEB_PACKAGES = build-essential pkg-config libcurl4-openssl-dev libcjson-dev liblmdb-dev libxxhash-dev \
               libarchive-dev libsqlite3-dev libpq-dev libcmocka-dev libmicrohttpd-dev libzstd-dev zlib1g-dev \
               postgresql sqlite3 zstd curl tar clang libclang-rt-14-dev openssl chromium libssl-dev nginx

.PHONY: all tests check deps demo report-shot install clean fuzz bench soak

all: $(BINS)

$(BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_engine) -MMD -MP -c -o $@ $<

$(BUILD)/export/%.o: export/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_export) -MMD -MP -c -o $@ $<

$(BUILD)/cache/%.o: cache/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_cache) -MMD -MP -c -o $@ $<

$(BUILD)/cmd/%.o: cmd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(BUILD)/scriptbuild: $(BUILD)/cmd/scriptbuild.o $(CMD_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/scriptload: $(BUILD)/cmd/scriptload.o $(CMD_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/test_%: tests/test_%.c $(CMD_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) $(TEST_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CMD_OBJ) $(LIB) $(TEST_LIBS) $(PKG_LIBS) -lm

$(BUILD)/tests/tool_%: tests/tool_%.c $(CMD_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) $(ALL_LDFLAGS) -o $@ $< $(CMD_OBJ) $(LIB) $(PKG_LIBS) -lm

# The fake services link no scriptbuild code but the one growth rule (cache/grow.c).
$(FAKEAPI): tests/fakeapi.c $(wildcard tests/fakeapi_*.c) $(wildcard tests/fakeapi_*.h) $(BUILD)/cache/grow.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_ALL) $(TEST_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c %.o,$^) $(TEST_LIBS) $(PKG_LIBS) -lm

tests: $(BINS) $(UNIT_BINS) $(TOOL_BINS) $(if $(wildcard tests/fakeapi.c),$(FAKEAPI)) $(BUILD)/tests/failalloc.so

# The allocation-failure shim is preloaded into a build without sanitizers (they replace malloc themselves):
# tests/t_failalloc.sh builds build/plain for it.
$(BUILD)/tests/failalloc.so: tests/failalloc.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

# Both cores build: make check must end within 10 minutes on a 2-core machine, and the build is a third of it.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Installs the Debian packages the build and the tests need, when any is missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# The sanitized, -Werror build every test runs against.
check: deps
	$(MAKE) -j$(JOBS) BUILD=build/check SAN=1 tests
	tests/run.sh build/check

# The long versions of the reliability loops whose short slices run in `make check`: concurrent writers of one
# archive path (3 x 1000 writes), and a failed allocation at every point of a cold run (some 10,000 runs).
soak: deps
	$(MAKE) BUILD=build/check SAN=1 tests
	SB_SOAK_WRITES=1000 build/check/tests/test_archive
	SB=build/check/scriptbuild TOOLS=build/check/tests TOP=$(CURDIR) FAILALLOC_SAMPLES=0 sh tests/t_failalloc.sh

# The README's first command: build the bundled fixture offline and load it into SQLite.
demo: deps
	$(MAKE) all
	mkdir -p $(BUILD)/demo
	cd $(BUILD)/demo && ../scriptbuild $(CURDIR)/fixtures/demo/harbor.fountain && \
	  ../scriptload --db harbor.db harbor.analysis.tar.zst
	sqlite3 $(BUILD)/demo/harbor.db \
	  'SELECT scene_index, substr(summary_text, 1, 100) FROM scene_summaries ORDER BY scene_index LIMIT 5'

# The demo's report page and a PNG of its top for people to look at (headless Chromium, from disk).
REPORT_SHOT_SIZE ?= 1280,2400
report-shot: deps
	$(MAKE) all
	mkdir -p $(BUILD)/demo
	cd $(BUILD)/demo && ../scriptbuild -q --html $(CURDIR)/fixtures/demo/harbor.fountain
	chromium --headless $$([ "$$(id -u)" = 0 ] && echo --no-sandbox) --disable-gpu --hide-scrollbars --no-first-run \
	  --user-data-dir=$(CURDIR)/$(BUILD)/demo/.chromium --window-size=$(REPORT_SHOT_SIZE) \
	  --screenshot=$(CURDIR)/$(BUILD)/demo/harbor.analysis.png file://$(CURDIR)/$(BUILD)/demo/harbor.analysis.html \
	  2>$(BUILD)/demo/chromium.log
	@echo "wrote $(BUILD)/demo/harbor.analysis.html and $(BUILD)/demo/harbor.analysis.png"

fuzz: deps
	tests/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	$(MAKE) BUILD=build/bench CFLAGS='-O2 -DNDEBUG' tests
	tests/bench.sh build/bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 cmd/scriptbuild.1 cmd/scriptload.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(BUILD)/cmd/scriptbuild.d $(BUILD)/cmd/scriptload.d
