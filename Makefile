# Shortcuts over CMake presets. The README's two commands are `make demo` and `make test`;
# both install what they miss (as root, with apt-get) and work on a fresh Debian 12 machine.

# Warnings are errors in CI (CI=true), warnings elsewhere.
export CIO_WERROR := $(if $(CI),ON,OFF)
DEPS := scripts/install-deps.sh
CTEST_FLAGS ?=

.PHONY: all deps demo test asan tsan format format-check lint cross bench bench-counts install clean
.PHONY: release-clang valgrind fuzz coverage

all: deps
	cmake --preset release
	cmake --build --preset release

deps:
	@$(DEPS) build

# Builds everything and shows the library at work; finishes by itself.
demo: deps
	cmake --preset release
	cmake --build --preset release
	scripts/demo.sh build/release

# Builds and runs the whole suite (every test program, both event-core backends).
test: deps
	@$(DEPS) test
	cmake --preset dev
	cmake --build --preset dev
	ctest --preset dev $(CTEST_FLAGS)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@$(DEPS) test
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan $(CTEST_FLAGS)

# The threaded tests (label "threads") under ThreadSanitizer.
tsan: deps
	@$(DEPS) test
	cmake --preset tsan
	cmake --build --preset tsan
	ctest --preset tsan $(CTEST_FLAGS)

# The optimised build (library, tools, tests, examples, benchmarks) with clang; `make all` is
# the same with gcc. CI builds both with warnings as errors.
release-clang: deps
	@$(DEPS) test
	cmake --preset release-clang
	cmake --build --preset release-clang

# Memcheck over the runtime's shutdown with live tasks, the event core and the tools under a
# short load (scripts/valgrind.sh), on the debug build.
valgrind: deps
	@$(DEPS) test
	cmake --preset dev
	cmake --build --preset dev
	scripts/valgrind.sh build/dev

# The libFuzzer targets of fuzz/ (clang), FUZZ_SECONDS each; CI runs them for a few seconds.
FUZZ_SECONDS ?= 60
fuzz: deps
	@$(DEPS) test
	cmake --preset fuzz
	cmake --build --preset fuzz
	scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

# Line and branch coverage of src/ by the whole suite (gcov + gcovr); report in build/coverage.
coverage: deps
	@$(DEPS) test coverage
	cmake --preset coverage
	cmake --build --preset coverage
	scripts/coverage.sh build/coverage

format:
	scripts/check-format.sh --fix

format-check:
	@$(DEPS) test
	scripts/check-format.sh

lint:
	@$(DEPS) test
	scripts/lint.sh

# aarch64: cross-build and run the runtime tests under qemu-user.
cross: deps
	.ci/aarch64.sh

# The timed side-by-side runs, then the exact counts per operation (bench/counts.sh) on the
# tree run.sh built; the counts run even when the timed part fails, and either failing fails.
bench: deps
	@$(DEPS) bench
	@rc=0; bench/run.sh || rc=$$?; SKIP_BUILD=1 bench/counts.sh || rc=$$?; \
	python3 bench/steal.py $${BUILD_DIR:-build/bench} --reps $${REPS:-5} || rc=$$?; exit $$rc

# Only the exact counts: instructions, atomics and system calls per operation.
bench-counts: deps
	@$(DEPS) bench
	bench/counts.sh

install: all
	cmake --install build/release

clean:
	rm -rf build
