# clerksync — GNU make, pkg-config, no configure step.
# SPDX-License-Identifier: ISC

VERSION   = 0.2.0
PKGS      = libcjson libmariadb libcrypto
VARIANT  ?= release
BUILD     = build/$(VARIANT)
BIN       = cgi-bin/clerksync.fcgi

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl fcgi 2>/dev/null || \
		pkg-config --cflags $(PKGS) libcurl)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) \
		$(shell pkg-config --libs fcgi 2>/dev/null || echo -lfcgi)

WARN     = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	   -Wshadow -Wpointer-arith -Wcast-qual
OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=c11 $(WARN) -D_POSIX_C_SOURCE=200809L \
	   -DCLERKSYNC_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lm

# make VARIANT=static: MariaDB Connector/C, OpenSSL, libfcgi and zlib
# linked in (Debian ships their .a files), so a host needs only glibc and
# libcjson1, and a CGI process skips most of the dynamic linking.
ifeq ($(VARIANT),static)
PKG_LIBS := -Wl,-Bstatic -lmariadb -lssl -lcrypto -lfcgi -lz -Wl,-Bdynamic \
	    $(shell pkg-config --libs libcjson) -ldl -lpthread
endif

# make coverage: gcov counts, in build/coverage.
ifeq ($(VARIANT),coverage)
CFLAGS  += --coverage
LDFLAGS += --coverage
endif

ifeq ($(VARIANT),asan)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# The store is four files: store (connection, binding, errors, retries),
# apply (what each event writes), migrate (schema), sqlgen + kinds (the
# SQL text from the descriptors; pure).
MODULES = apply backfill clerkapi config dberr event handler http json kinds \
	  log migrate num pull serve sig sqlgen status store
OBJS    = $(MODULES:%=$(BUILD)/%.o) $(BUILD)/schema.o

# Each unit test links only the modules it tests and what those call.
UNITS   = num sig json event config log sqlgen handler pull dberr
test_num_MODULES    = num
test_sig_MODULES    = sig
test_json_MODULES   = json
test_event_MODULES  = event json
test_config_MODULES = config log num sig
test_log_MODULES    = log
test_sqlgen_MODULES = sqlgen kinds
test_handler_MODULES = handler event json num pull sig
test_pull_MODULES   = pull json
test_dberr_MODULES  = dberr
TESTS   = $(UNITS:%=$(BUILD)/test_%)

.PHONY: all bins check test unit integ asan static valgrind fuzz run bench \
	clean npm cluster-test backfill-test statements coverage release
.SECONDARY:
.SECONDEXPANSION:

all: $(BIN)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

SCHEMA  = $(sort $(wildcard schema/[0-9]*.sql))

$(BUILD)/schema.c: scripts/embed-schema.sh $(SCHEMA) | $(BUILD)
	sh scripts/embed-schema.sh $(SCHEMA) > $@.new && mv -f $@.new $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/test_%.o: tests/unit/test_%.c | $(BUILD)
	$(CC) $(CFLAGS) -D_DEFAULT_SOURCE -Isrc -c -o $@ $<

$(BUILD)/clerksync.fcgi: $(BUILD)/main.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN): $(BUILD)/clerksync.fcgi
	@mkdir -p cgi-bin
	cp $< $@.new && mv -f $@.new $@

$(BUILD)/test_%: $(BUILD)/test_%.o \
	    $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(test_$$*_MODULES)))
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)

$(BUILD):
	@mkdir -p $@

npm:
	@test -d tests/node_modules || \
	    npm ci --prefix tests --no-audit --no-fund --loglevel=error

bins: $(BUILD)/clerksync.fcgi $(TESTS)

# Every test (CI runs this): see tests/check.sh. About 5 minutes.
check: $(BIN) bins npm
	@bash tests/check.sh

# The quick loop: release build, unit and integration suites only.
test: $(BIN) bins npm
	@bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi unit integ

unit: bins
	@bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi unit

integ: bins npm
	@bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi integ

backfill-test: bins npm
	@bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi backfill

cluster-test: bins npm
	@bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi cluster

asan:
	$(MAKE) VARIANT=asan OPT='-O1 -g' test

# Lines covered per module over the unit, integration, hostile, simulator,
# backfill and php (status) suites (gcov; a few minutes). The figure is in
# README.md.
coverage: npm
	rm -f build/coverage/*.gcda
	$(MAKE) VARIANT=coverage OPT='-O0 -g' bins
	@# Web servers run CGI as another user: it must write the counts too.
	chmod a+rwx build/coverage
	-umask 000 && bash tests/run.sh build/coverage \
	    build/coverage/clerksync.fcgi unit integ hostile sim backfill php
	@sh scripts/coverage.sh build/coverage $(MODULES)

# build/static/clerksync.fcgi: see VARIANT=static above.
static:
	$(MAKE) VARIANT=static build/static/clerksync.fcgi

# dist/clerksync-VERSION-linux-x86_64.tar.gz (+ .sha256): the folder a
# shared host gets (README, "Release"). The program is the static build;
# build/static/launch (src/launch.c: static, no libc) is its clerksync.fcgi.
DIST     = dist/clerksync-$(VERSION)-linux-x86_64.tar.gz
LAUNCH_FLAGS = -Os -std=c11 $(WARN) -ffreestanding -fno-builtin \
	   -fno-stack-protector -fno-asynchronous-unwind-tables -fno-pie \
	   -static -nostdlib -Wl,--build-id=none

release: $(DIST)

build/static/launch: src/launch.c
	@mkdir -p build/static
	$(CC) $(LAUNCH_FLAGS) -o $@ $<

$(DIST): build/static/launch scripts/release.sh scripts/clerksync.conf.example \
	    htaccess.example README.md $(wildcard schema/*.sql) $(wildcard src/*.[ch])
	$(MAKE) VARIANT=static build/static/clerksync.fcgi
	@mkdir -p dist
	sh scripts/release.sh $(VERSION) build/static/launch \
	    build/static/clerksync.fcgi dist

valgrind: bins npm
	@WRAP="valgrind -q --leak-check=full --error-exitcode=99" \
	    CLERKSYNC_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$(CURDIR)/build/valgrind.%p" \
	    bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi unit hostile

# sql/statements.sql: every statement as the store prepares it; the unit
# suite fails while the file differs from what src/sqlgen.c writes.
statements: $(BUILD)/test_sqlgen
	$(BUILD)/test_sqlgen --write sql/statements.sql

# For scripts (tests/fuzz/run.sh): `make -s print-MODULES`.
print-%:
	@echo $($*)

fuzz:
	@bash tests/run.sh $(BUILD) $(BIN) fuzz

run: $(BIN) npm
	node scripts/devserver.mjs

# Not part of check: figures for BENCHMARKS.md (N events, default 20000).
bench: $(BIN) npm static release
	@bash bench/run.sh $(BIN)

clean:
	rm -rf build dist $(BIN)

-include $(wildcard $(BUILD)/*.d)
