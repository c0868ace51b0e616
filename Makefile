# clerksync — GNU make, pkg-config, no configure step.
# SPDX-License-Identifier: ISC

VERSION   = 0.1.0
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

ifeq ($(VARIANT),asan)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

MODULES = backfill clerkapi config dberr event handler http json log num sig store
OBJS    = $(MODULES:%=$(BUILD)/%.o) $(BUILD)/schema.o
UNITS   = num sig json event config dberr
TESTS   = $(UNITS:%=$(BUILD)/test_%)

.PHONY: all bins check test unit integ asan static valgrind fuzz run bench \
	clean npm cluster-test backfill-test
.SECONDARY:

all: $(BIN)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/schema.c: scripts/embed-schema.sh $(wildcard schema/*.sql) | $(BUILD)
	sh scripts/embed-schema.sh $(sort $(wildcard schema/*.sql)) > $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/test_%.o: tests/unit/test_%.c | $(BUILD)
	$(CC) $(CFLAGS) -D_DEFAULT_SOURCE -Isrc -c -o $@ $<

$(BUILD)/clerksync.fcgi: $(BUILD)/main.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN): $(BUILD)/clerksync.fcgi
	@mkdir -p cgi-bin
	cp $< $@.new && mv -f $@.new $@

$(BUILD)/test_%: $(BUILD)/test_%.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

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

# build/static/clerksync.fcgi: see VARIANT=static above.
static:
	$(MAKE) VARIANT=static build/static/clerksync.fcgi

valgrind: bins npm
	@WRAP="valgrind -q --leak-check=full --error-exitcode=99" \
	    CLERKSYNC_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$(CURDIR)/build/valgrind.%p" \
	    bash tests/run.sh $(BUILD) $(BUILD)/clerksync.fcgi unit hostile

fuzz:
	@bash tests/run.sh $(BUILD) $(BIN) fuzz

run: $(BIN) npm
	node scripts/devserver.mjs

# Not part of check: figures for BENCHMARKS.md (N events, default 20000).
bench: $(BIN) npm static
	@bash bench/run.sh $(BIN)

clean:
	rm -rf build $(BIN)

-include $(wildcard $(BUILD)/*.d)
