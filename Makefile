# pageshim - build, test and demo.
#
#   make          build/libpageshim.so and build/pageshim
#   make test     install what is missing, build, run every test
#   make demo     install what is missing, build, kernel mmap vs pageshim side by side
#   make V=1      show the commands;  make SANITIZE=address  build with a sanitizer
#   make bench    the benchmark suite (issue 3)

CC      ?= cc
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
		   -D_GNU_SOURCE -pthread -Ishim
ifdef SANITIZE
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif
ifndef V
Q := @
endif

B := build
# Debian packages the build and the tests need
DEPS := libxxhash-dev uthash-dev libunwind-dev sqlite3 lmdb-utils libncurses-dev liburing-dev \
	liblmdb-dev fio kyotocabinet-utils libjson-c-dev

SHIM_SRC := $(wildcard shim/*.c)
SHIM_OBJ := $(SHIM_SRC:shim/%.c=$(B)/shim/%.o)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(TOOL_SRC:tools/%.c=$(B)/tools/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
SEM_SRC  := $(wildcard tests/sem/*.c)
LIB_SRC  := $(wildcard tests/lib/*.c)
PROG_SRC := $(wildcard tests/prog/*.c)
TEST_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%) $(SEM_SRC:tests/sem/%.c=$(B)/tests/sem/%) \
	    $(LIB_SRC:tests/lib/%.c=$(B)/tests/lib/%.so) $(PROG_SRC:tests/prog/%.c=$(B)/tests/prog/%)

.PHONY: all deps test demo bench bench-cost wp-cost clean
all: $(B)/libpageshim.so $(B)/pageshim

deps:
	@missing=""; for d in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$d 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$d"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi

$(B)/shim/%.o: shim/%.c $(wildcard shim/*.h) | $(B)/shim
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/libpageshim.so: $(SHIM_OBJ) shim/libpageshim.map
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-z,defs -Wl,--version-script=shim/libpageshim.map \
		-o $@ $(SHIM_OBJ) -lxxhash -lunwind -ldl

$(B)/tools/%.o: tools/%.c $(wildcard tools/*.h) $(wildcard shim/*.h) | $(B)/tools
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -Itools -c $< -o $@

$(B)/pageshim: $(TOOL_OBJ) $(B)/shim/options.o $(B)/shim/hist.o
	@echo "  LD  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ -lm -luring -lncurses -ljson-c

# Unit tests link the library's objects directly (no LD_PRELOAD, no interposition).
$(B)/tests/unit/%: tests/unit/%.c tests/helpers.h $(filter-out $(B)/shim/interpose.o,$(SHIM_OBJ)) | $(B)/tests/unit
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(filter-out $(B)/shim/interpose.o,$(SHIM_OBJ)) -lxxhash -lunwind -ldl

# Semantic tests are ordinary programs: the runner runs each under the kernel and under pageshim.
$(B)/tests/sem/%: tests/sem/%.c tests/helpers.h shim/pageshim.h | $(B)/tests/sem
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< -ldl

$(B)/tests/lib/%.so: tests/lib/%.c | $(B)/tests/lib
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

# Programs the program tests (tests/prog/*.sh) drive; each links what it tests.
PROG_LIBS_lmdb_writer := -llmdb
$(B)/tests/prog/%: tests/prog/%.c | $(B)/tests/prog
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(PROG_LIBS_$*)

$(B)/shim $(B)/tools $(B)/tests/unit $(B)/tests/sem $(B)/tests/lib $(B)/tests/prog:
	$(Q)mkdir -p $@

test: deps all $(TEST_BIN) $(B)/wpcost
	$(Q)tests/run.sh

demo: deps all
	$(Q)tools/demo.sh

# BENCH_FILE_MB, BENCH_MEMORY_MB, BENCH_SECONDS, BENCH_RUNS size it (tools/bench/run.sh)
bench: deps all
	$(Q)tools/bench/run.sh

bench-cost: deps all $(B)/statcost
	$(Q)tools/bench/cost.sh

$(B)/statcost: tools/bench/statcost.c shim/hist.h $(B)/shim/hist.o
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -Ishim $< $(B)/shim/hist.o -o $@ -lpthread

wp-cost: deps all $(B)/wpcost
	$(Q)tools/bench/wpcost.sh

$(B)/wpcost: tools/bench/wpcost.c shim/compat.h
	@echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) -Ishim $< -o $@ -lpthread

clean:
	rm -rf $(B)
