# hotpath: one Makefile, out-of-tree builds in build/<flavor>/.
#   make              build build/release/hotpath
#   make run          install deps, build, create the demo database, serve it on :3000
#   make test         install deps, build, run every suite (lint, unit, spec, compat, fuzz smoke)
#   make test SANITIZE=1   the same under ASan + UBSan
#   make bench        the docs/workload.md scenarios with wrk
#   make fuzz         build the libFuzzer targets (clang)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
FLAVOR ?= san
else
FLAVOR ?= release
endif
BUILD := build/$(FLAVOR)

CC ?= cc
PKGS := libh2o-evloop openssl sqlite3 jansson libxxhash inih zlib libbrotlienc libbrotlidec libzstd libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -O2 -g $(WARN) -Isrc $(PKG_CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS)

LIB_SRC := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libhotpath.a
BIN := $(BUILD)/hotpath
# The admin dashboard page, built in (the rule is below).
LIB_OBJ += $(BUILD)/gen/dashboard_html.o

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test bench fuzz deps unit spec compat fuzz-smoke lint fmt-check clean demo docs

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# src/http/dashboard.html as a C array (xxd -i names it dashboard_html); src/http/dashboard.h
# declares it and is force-included, so the two are checked against each other.
$(BUILD)/gen/dashboard_html.c: src/http/dashboard.html
	@mkdir -p $(dir $@)
	cd src/http && xxd -i dashboard.html > $(CURDIR)/$@
$(BUILD)/gen/dashboard_html.o: $(BUILD)/gen/dashboard_html.c src/http/dashboard.h
	$(CC) $(CFLAGS_ALL) -include http/dashboard.h -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@scripts/install-deps.sh

demo: $(BIN)
	@test -f demo.db || $(BIN) demo --out demo.db

run: deps
	@$(MAKE) --no-print-directory all demo
	@scripts/run-demo.sh $(BIN) demo.db

unit: $(UNIT_BIN)
	@scripts/test-unit.sh $(UNIT_BIN)

spec: $(BIN)
	@scripts/test-spec.sh $(BIN)

compat: $(BIN)
	@scripts/test-compat.sh $(BIN)

fuzz:
	@scripts/fuzz.sh build

fuzz-smoke:
	@scripts/fuzz.sh smoke

lint:
	@scripts/lint.sh

fmt-check:
	@scripts/lint.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@scripts/test-all.sh $(FLAVOR)

bench: deps
	@$(MAKE) --no-print-directory FLAVOR=release SANITIZE=0 all build/release/bench/hello \
		build/release/bench/loadgen
	@bench/run.sh build/release/hotpath

# The fixed-bytes h2o server bench/run.sh measures S1z against (bench/README.md).
$(BUILD)/bench/hello: bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libh2o-evloop openssl) -lpthread

# The open-loop load generator (bench/README.md); its histogram and response parser are
# unit-tested by tests/unit/test_loadgen_<part>.c, linked with bench/loadgen_<part>.c.
LOADGEN_PARTS := $(BUILD)/bench/loadgen_hist.o $(BUILD)/bench/loadgen_http.o
$(BUILD)/bench/loadgen: $(BUILD)/bench/loadgen.o $(LOADGEN_PARTS)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

$(BUILD)/tests/test_loadgen_%: tests/unit/test_loadgen_%.c $(BUILD)/bench/loadgen_%.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ibench $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(shell pkg-config --libs cmocka) -lm

docs: $(BIN)
	$(BIN) docs config > docs/config.md
	$(BIN) docs errors > docs/errors.md

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
