# batch-offload: build, test, benchmark, demo.
#
#   make                 both programs against OpenSSL (webhook/offload-webhook, offloader/batch-offloader)
#   make TLS=wolfssl     the same programs against wolfSSL
#   make deps            install every dependency (Debian packages, npm, helm/kubectl); quick when present
#   make test            deps, then every test: unit (cmocka) and integration (pytest), under
#                        AddressSanitizer + UndefinedBehaviorSanitizer, both TLS backends, plus fuzzing
#   make demo            deps, then the end-to-end word-count demo
#   make bench           every benchmark (bench-webhook, bench-offloader, bench-json)
#
# One part of the suite, installing nothing (after one `make deps`):
#   make unit T=sas                 one unit test program (tests/unit/test_sas.c); no T: all of them.
#                                   Under the sanitizers unless SAN is given (SAN= for none); TLS too
#   make integration K=restart      pytest -k over the integration and the emulator's tests, after
#                                   building what they run (both TLS backends under the sanitizers)
#   make fuzz-run F=json FUZZ_SECONDS=60   one libFuzzer target (tests/fuzz/fuzz_json.c)

VERSION := 0.1.0
TLS ?= openssl
SAN ?=
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 30

TLS_BACKENDS := openssl wolfssl

ifeq ($(filter $(TLS),$(TLS_BACKENDS)),)
$(error TLS must be openssl or wolfssl, not '$(TLS)')
endif

BUILD := build/$(TLS)$(if $(SAN),-$(SAN))

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE $(WARNINGS) -DBATCH_OFFLOAD_VERSION='"$(VERSION)"' -MMD -MP
# The layers, bottom up: common/ (both programs), azure/ (the Azure clients and signing, for the
# offloader only), then each program. A file sees only the headers of its own layer and those
# below, so an include that reaches up or across does not compile.
LAYER_INCLUDES_common := -Icommon
LAYER_INCLUDES_azure := -Icommon -Iazure
LAYER_INCLUDES_webhook := -Icommon -Iwebhook
LAYER_INCLUDES_offloader := -Icommon -Iazure -Ioffloader
LAYER_INCLUDES_tests := -Icommon -Iazure -Iwebhook -Ioffloader -Itests/unit
layer_includes = $(LAYER_INCLUDES_$(firstword $(subst /, ,$(1))))
ifeq ($(SAN),asan)
CFLAGS_MODE := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_MODE := -fsanitize=address,undefined
else ifeq ($(SAN),)
CFLAGS_MODE := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDFLAGS_MODE := -pie -Wl,-z,relro,-z,now
else
$(error SAN must be empty or asan, not '$(SAN)')
endif

# The JSON reader (jsmn runs inside it) and its lookups are the webhook's hottest code: at -O3
# the whole admission path (parse, mutate, answer) takes 8% less time per
# review than at -O2, measured on the kubectl-job fixture.
ifeq ($(SAN),)
$(BUILD)/obj/common/json_reader.o $(BUILD)/obj/common/json_lookup.o: CFLAGS_MODE += -O3
endif

ifeq ($(TLS),wolfssl)
TLS_CFLAGS := -DUSE_WOLFSSL
TLS_LIBS := -lwolfssl
else
TLS_CFLAGS := -DUSE_OPENSSL
TLS_LIBS := -lssl -lcrypto
endif

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS = $(CFLAGS_COMMON) $(CFLAGS_MODE) $(TLS_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_MODE) $(LDFLAGS)

COMMON_SRC := $(filter-out common/tls_openssl.c common/tls_wolfssl.c,$(wildcard common/*.c)) \
              common/tls_$(TLS).c
AZURE_SRC := $(wildcard azure/*.c)
WEBHOOK_SRC := $(filter-out webhook/main.c,$(wildcard webhook/*.c))
OFFLOADER_SRC := $(filter-out offloader/main.c,$(wildcard offloader/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
AZURE_OBJ := $(call obj,$(AZURE_SRC))
WEBHOOK_OBJ := $(call obj,$(WEBHOOK_SRC))
OFFLOADER_OBJ := $(call obj,$(OFFLOADER_SRC))

# Static archives: each program links only the objects it uses (the webhook
# has no use for libcurl, so none of the HTTP client comes along).
COMMON_LIB := $(BUILD)/libcommon.a
AZURE_LIB := $(BUILD)/libazure.a
WEBHOOK_LIB := $(BUILD)/libwebhook.a
OFFLOADER_LIB := $(BUILD)/liboffloader.a

WEBHOOK_BIN := $(BUILD)/offload-webhook
OFFLOADER_BIN := $(BUILD)/batch-offloader
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_TESTS := $(addprefix $(BUILD)/tests/test_,$(UNIT_NAMES))
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

.PHONY: all programs test-tools shipped-webhook deps test test-unit test-integration test-fuzz unit integration fuzz-run \
        fuzz bench bench-webhook bench-offloader bench-json demo fixtures images clean
.SECONDARY:

all: programs
	cp $(WEBHOOK_BIN) webhook/offload-webhook
	cp $(OFFLOADER_BIN) offloader/batch-offloader

programs: $(WEBHOOK_BIN) $(OFFLOADER_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $(BUILD) $<"
	@$(CC) $(call layer_includes,$<) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/lib%.a:
	@rm -f $@
	@ar rcs $@ $^

$(COMMON_LIB): $(COMMON_OBJ)
$(AZURE_LIB): $(AZURE_OBJ)
$(WEBHOOK_LIB): $(WEBHOOK_OBJ)
$(OFFLOADER_LIB): $(OFFLOADER_OBJ)

$(WEBHOOK_BIN): $(call obj,webhook/main.c) $(WEBHOOK_LIB) $(COMMON_LIB)
	@echo "  LD $@"
	@$(CC) $(ALL_LDFLAGS) $^ -o $@ $(TLS_LIBS) -lpthread -lm

$(OFFLOADER_BIN): $(call obj,offloader/main.c) $(OFFLOADER_LIB) $(AZURE_LIB) $(COMMON_LIB)
	@echo "  LD $@"
	@$(CC) $(ALL_LDFLAGS) $^ -o $@ -lcurl $(TLS_LIBS) -lpthread -lm

# Each tests/unit/test_<name>.c is one cmocka program linked with everything but main().
$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(WEBHOOK_LIB) $(OFFLOADER_LIB) $(AZURE_LIB) \
                  $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(ALL_LDFLAGS) $^ -o $@ -lcmocka -lcurl $(TLS_LIBS) -lpthread -lm

# Small programs the integration tests drive (tests/tools/*.c), not shipped.
$(BUILD)/tests/tools/%: $(call obj,tests/tools/%.c) $(OFFLOADER_LIB) $(AZURE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(ALL_LDFLAGS) $^ -o $@ -lcurl $(TLS_LIBS) -lpthread -lm

test-tools: $(TEST_TOOLS)

deps:
	@tools/deps.sh

# The Python scripts make runs (demo, benchmarks, fixture generator) import from the same roots as
# the tests: pytest.ini's pythonpath, the one list of them.
PYTHON_ROOTS := $(addprefix $(CURDIR)/,$(shell sed -n 's/^pythonpath *= *//p' pytest.ini))
empty :=
PYTHON_SCRIPT = PYTHONPATH=$(subst $(empty) $(empty),:,$(PYTHON_ROOTS)) $(PYTHON)

# The unit tests of one build (TLS=..., SAN=...); T=name runs only tests/unit/test_<name>.c.
ifneq ($(filter-out $(UNIT_NAMES),$(T)),)
$(error T=$(T): there is no tests/unit/test_$(T).c; T is one of: $(UNIT_NAMES))
endif
SELECTED_UNIT_TESTS := $(if $(T),$(addprefix $(BUILD)/tests/test_,$(T)),$(UNIT_TESTS))

test-unit: $(SELECTED_UNIT_TESTS)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

# test-unit under the sanitizers unless SAN is on the command line (SAN= there: none).
unit:
	@$(MAKE) --no-print-directory TLS=$(TLS) SAN=$(if $(filter command line,$(origin SAN)),$(SAN),asan) test-unit

# The builds the integration tests run: both backends under ASan+UBSan, with the test tools.
SANITIZER_BUILDS := $(foreach tls,$(TLS_BACKENDS),build/$(tls)-asan)

# The whole suite: both backends under ASan+UBSan, then the fuzzers. The attack suite also
# attacks the webhook as it ships (its memory is measured there).
test: deps
	@set -e; for tls in $(TLS_BACKENDS); do \
	  $(MAKE) --no-print-directory TLS=$$tls SAN=asan programs test-tools test-unit; done
	@$(MAKE) --no-print-directory shipped-webhook
	$(MAKE) --no-print-directory test-integration
	$(MAKE) --no-print-directory test-fuzz

# pytest over pytest.ini's testpaths (K=expr: only the tests `pytest -k` selects) on the
# sanitizer builds, which must be built: `make integration` builds them first. The integration
# and emulator tests mostly wait (on processes, the control plane, timers), so PYTEST_WORKERS
# processes (pytest-xdist) share them, a test file each at a time (its module fixtures stay in one
# process); the attack suite measures response times and memory, so it runs alone, after them.
# A part that -k leaves empty (pytest's exit 5) is no failure; both empty is.
PYTEST_WORKERS ?= 4
PYTEST_RUN = BATCH_OFFLOAD_BUILDS="$(SANITIZER_BUILDS)" $(PYTHON) -m pytest -q $(if $(K),-k '$(K)')
test-integration:
	@rc1=0; rc2=0; \
	$(PYTEST_RUN) -n $(PYTEST_WORKERS) --dist loadfile tests/integration tests/batch_emulator/tests || rc1=$$?; \
	$(PYTEST_RUN) tests/attack || rc2=$$?; \
	if [ $$rc1 -eq 5 ] && [ $$rc2 -eq 5 ]; then echo "K='$(K)' selects no test"; exit 5; fi; \
	for rc in $$rc1 $$rc2; do [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc; done

integration:
	@set -e; for tls in $(TLS_BACKENDS); do \
	  $(MAKE) --no-print-directory TLS=$$tls SAN=asan programs test-tools; done
	@$(MAKE) --no-print-directory shipped-webhook
	@$(MAKE) --no-print-directory test-integration

# libFuzzer targets (clang), each run for FUZZ_SECONDS from its seed corpus; F=name: only
# tests/fuzz/fuzz_<name>.c.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(addprefix build/fuzz/fuzz_,$(FUZZ_NAMES))
ifneq ($(filter-out $(FUZZ_NAMES),$(F)),)
$(error F=$(F): there is no tests/fuzz/fuzz_$(F).c; F is one of: $(FUZZ_NAMES))
endif
SELECTED_FUZZ_TARGETS := $(if $(F),$(addprefix build/fuzz/fuzz_,$(F)),$(FUZZ_TARGETS))
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE $(LAYER_INCLUDES_tests) -DUSE_OPENSSL -g -O1 \
               -DBATCH_OFFLOAD_VERSION='"$(VERSION)"' -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all $(WARNINGS)
FUZZ_LIB_SRC := $(filter-out common/tls_wolfssl.c,$(wildcard common/*.c)) $(AZURE_SRC) \
                $(WEBHOOK_SRC) $(OFFLOADER_SRC)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC) $(wildcard common/*.h azure/*.h webhook/*.h offloader/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $< $(FUZZ_LIB_SRC) -o $@ -lcurl -lssl -lcrypto -lpthread -lm

fuzz: $(FUZZ_TARGETS)

test-fuzz: $(SELECTED_FUZZ_TARGETS)
	@set -e; for f in $^; do \
	  name=$$(basename $$f); corpus=build/fuzz/corpus/$$name; mkdir -p $$corpus; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -dict=tests/fuzz/$${name#fuzz_}.dict -artifact_prefix=build/fuzz/ \
	      $$corpus tests/fuzz/corpus/$${name#fuzz_} > build/fuzz/$$name.log 2>&1 \
	      || { tail -n 60 build/fuzz/$$name.log; exit 1; }; \
	  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" build/fuzz/$$name.log || true; \
	done

fuzz-run:
	@test -n "$(F)" || { echo "fuzz-run: name the target, F=one of: $(FUZZ_NAMES)"; exit 2; }
	@$(MAKE) --no-print-directory test-fuzz

bench: bench-webhook bench-offloader bench-json

# The webhook as its image ships it: static-pie against OpenSSL (tools/build-images.sh).
# ld warns that a static getaddrinfo would need NSS modules; --listen is numeric, so it never does.
SHIPPED_WEBHOOK := build/openssl-static/offload-webhook
shipped-webhook:
	@mkdir -p build
	@$(MAKE) --no-print-directory TLS=openssl SAN= BUILD=build/openssl-static LDFLAGS=-static-pie \
	  $(SHIPPED_WEBHOOK) > build/openssl-static.log 2>&1 || { cat build/openssl-static.log; exit 1; }

bench-webhook: deps shipped-webhook
	$(PYTHON_SCRIPT) tests/bench/bench_webhook.py --webhook $(SHIPPED_WEBHOOK)

bench-offloader: deps
	$(MAKE) --no-print-directory TLS=openssl programs
	$(PYTHON_SCRIPT) tests/bench/bench_offloader.py --offloader build/openssl/batch-offloader

# The JSON reader on the worst inputs at the webhook's body limit, against the real review
# (tests/bench/bench_json_reader.c), then the whole admission path in instructions per review,
# which callgrind counts the same on a loaded machine (tests/bench/admission_loop.c).
BENCH_REVIEW := tests/fixtures/admission/kubectl-job.json
bench-json:
	@$(MAKE) --no-print-directory TLS=openssl SAN= build/openssl/tests/bench/bench_json_reader \
	  build/openssl/tests/bench/admission_loop
	build/openssl/tests/bench/bench_json_reader $(BENCH_REVIEW)
	@if command -v valgrind > /dev/null; then \
	  n=$$(valgrind --tool=callgrind --toggle-collect=webhook_route --callgrind-out-file=/dev/null \
	    build/openssl/tests/bench/admission_loop $(BENCH_REVIEW) 200 2>&1 | sed -n 's/.*Collected : //p'); \
	  echo "admission path (webhook_route on $(BENCH_REVIEW)): $$((n / 200)) instructions per review"; \
	else echo "admission path: valgrind is not installed, instructions not counted"; fi

# Benchmark drivers (tests/bench/*.c), linked like the unit tests.
$(BUILD)/tests/bench/%: $(call obj,tests/bench/%.c) $(WEBHOOK_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(ALL_LDFLAGS) $^ -o $@ $(TLS_LIBS) -lpthread -lm

demo: deps
	$(MAKE) --no-print-directory TLS=openssl programs
	$(PYTHON_SCRIPT) tests/demo/run_demo.py --build build/openssl

# Regenerate tests/fixtures/admission/ (kubectl from `make deps`); a test checks they are current.
fixtures:
	$(PYTHON_SCRIPT) tests/fixtures/make_admission_reviews.py

# Container images FROM scratch, built with buildah (no Docker daemon; needs root) into OCI
# archives build/images/offload-webhook.tar and build/images/batch-offloader.tar; prints their
# sizes. WEBHOOK_TLS=openssl|wolfssl (default openssl), OFFLOADER_TLS (default openssl).
images:
	VERSION=$(VERSION) MAKE="$(MAKE)" tools/build-images.sh

clean:
	rm -rf build webhook/offload-webhook offloader/batch-offloader

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
