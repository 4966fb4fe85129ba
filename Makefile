# mailseal - the two commands a newcomer needs:
#   make run    install what is missing, build, run the demonstration
#               (then mailseald on 127.0.0.1:8025 until Ctrl-C)
#   make test   install what is missing, build, run every test
# (Debian 12, as root: missing packages are installed with apt-get.)

JOBS    ?= 2
BUILD   ?= build
ASAN    ?= build-asan
FUZZ    ?= build-fuzz
CMAKE   ?= cmake
CTEST   ?= ctest
FUZZ_SECONDS ?= 8

.PHONY: all deps build asan fuzz-build run test test-main test-asan test-fuzz \
	bench clean

all: build

deps:
	@sh tools/install-deps.sh

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$(JOBS)

$(ASAN)/CMakeCache.txt:
	$(CMAKE) -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON \
		-DCMAKE_C_COMPILER=clang

asan: deps $(ASAN)/CMakeCache.txt
	$(CMAKE) --build $(ASAN) -j$(JOBS)

$(FUZZ)/CMakeCache.txt:
	$(CMAKE) -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DMS_FUZZ=ON \
		-DMS_TESTS=OFF -DCMAKE_C_COMPILER=clang

fuzz-build: deps $(FUZZ)/CMakeCache.txt
	$(CMAKE) --build $(FUZZ) -j$(JOBS)

run: build
	@sh tools/demo.sh $(BUILD)
	@bash tools/run.sh $(BUILD)

test: build asan fuzz-build
	@$(MAKE) --no-print-directory test-main test-asan test-fuzz

test-main:
	cd $(BUILD) && $(CTEST) --output-on-failure -j$(JOBS)

test-asan:
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CTEST) --output-on-failure -j$(JOBS)

test-fuzz:
	@sh fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS)

bench: build
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
