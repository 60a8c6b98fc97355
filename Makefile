# Time Warp: build, run and test.
#   make            optimised release binary build/timewarp (installs nothing)
#   make run        install missing Debian packages, build, migrate, serve on SQLite
#   make test       install missing packages, sanitizer build, every test suite
#   make asan       sanitizer build only (build/asan/timewarp)
#   make bench      throughput/latency against nginx's ceiling; make bench-scale: 1M clips
#   make fuzz       the libFuzzer targets for 10 minutes each

CC      ?= cc
PKGS    := jansson sqlite3 libpq libcrypto
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -Ibuild/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

SRC     := $(wildcard src/*.c src/*/*.c)
APP_SRC := $(filter-out src/main.c,$(SRC))
MIGRATIONS := $(sort $(wildcard migrations/*/*.sql))
WEB     := $(sort $(shell find web -type f 2>/dev/null))
GEN     := build/gen/migrations_data.c build/gen/static_data.c

RELEASE_FLAGS := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_FLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

.PHONY: all asan run test unit deps deps-test clean bench bench-scale fuzz
all: build/timewarp

build/gen/migrations_data.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(@D)
	sh scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

# The web page, embedded; regenerated when a file under web/ changes (or is added/removed).
build/gen/static_data.c: $(WEB) scripts/embed-static.sh build/gen/web-files.txt
	@mkdir -p $(@D)
	sh scripts/embed-static.sh web $(WEB) > $@.tmp && mv $@.tmp $@
build/gen/web-files.txt: FORCE
	@mkdir -p $(@D)
	@echo "$(WEB)" | cmp -s - $@ || echo "$(WEB)" > $@
FORCE:

# Objects per build flavour, so the unit tests link the sanitizer objects instead of
# recompiling the whole server for each test binary.
HEADERS      := $(wildcard src/*.h src/*/*.h)
REL_OBJ      := $(patsubst %.c,build/obj/%.o,$(SRC) $(GEN))
ASAN_OBJ     := $(patsubst %.c,build/asan/obj/%.o,$(SRC) $(GEN))
ASAN_APP_OBJ := $(filter-out build/asan/obj/src/main.o,$(ASAN_OBJ))

build/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(RELEASE_FLAGS) -c -o $@ $<
build/asan/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) -c -o $@ $<

build/timewarp: $(REL_OBJ)
	$(CC) $(RELEASE_FLAGS) -o $@ $^ $(LDLIBS)

asan: build/asan/timewarp
build/asan/timewarp: $(ASAN_OBJ)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link the application objects (minus main) under the sanitizers.
UNIT_TESTS := $(patsubst tests/unit/%.c,build/asan/unit/%,$(wildcard tests/unit/test_*.c))
build/asan/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(ASAN_APP_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) -o $@ $< $(ASAN_APP_OBJ) $(LDLIBS) -lcmocka

unit: $(UNIT_TESTS)
	sh tests/unit/run.sh $(UNIT_TESTS)

deps:
	sh scripts/install-deps.sh build
deps-test:
	sh scripts/install-deps.sh test

run: deps
	$(MAKE) build/timewarp
	./build/timewarp migrate
	./build/timewarp serve

test: deps-test
	$(MAKE) build/timewarp build/asan/timewarp $(UNIT_TESTS)
	bash tests/run-all.sh

# Benchmarks and long fuzzing: not part of `make test` (see docs/PERFORMANCE.md).
bench: build/timewarp
	bash bench/run.sh
bench-scale: build/timewarp
	bash bench/scale.sh
fuzz:
	bash tests/fuzz/run.sh --long

clean:
	rm -rf build
