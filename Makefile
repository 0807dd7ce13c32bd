# mlhep - build, test, benchmark and run.
#
#   make deps    install the Debian packages the project needs (idempotent; root)
#   make all     libmlhep (common/) and the programs into bin/
#   make test    deps + build (normal and -fsanitize=address,undefined) + every test
#   make bench   deps + build + benchmarks (ratios against baselines measured in the same run)
#   make run     deps + build + a sample workflow end to end
#   make fuzz    libFuzzer targets in fuzz/, each run FUZZ_SECONDS (default 60)
#   make clean
#
# Layout: common/LAYER/*.c is the library every program links, one folder per layer
# (base, root, data, model, service, train, infer; tests/cli/layers.sh checks which folder
# may include which). Programs: submit/mlhep_*.c and worker/mlhep_*.c each hold one
# program's main (file mlhep_root.c -> bin/mlhep-root); any other submit/*.c or
# worker/*.c is program-side code that is not a main (a command's options, usage text,
# printing and exit codes: submit/predict_cmd.c, submit/gen_cmd.c, ...) and goes into
# build/libmlhep-cli.a, which every program links before libmlhep.a (its headers sit
# beside it: #include "predict_cmd.h"). Tests are tests/unit/test_*.c (one binary each,
# built with sanitizers) and tests/cli/*.sh. New files are picked up by wildcard:
# adding a module needs no Makefile edit. Every compile writes a .d file (-MMD -MP),
# so an object is rebuilt when a header it includes changes, and only then.

CC      := gcc
CXX     := g++
CLANG   := clang
# Debian 12's HDF5 (libhdf5-dev, serial flavour: `pkg-config --cflags --libs hdf5-serial`),
# used by base/h5table.c only (mlhep-prep --format hdf5). --as-needed: programs that do not
# call it (every one but mlhep-prep) do not depend on libhdf5 at run time.
HDF5_CFLAGS := -isystem /usr/include/hdf5/serial
HDF5_LIBS   := -Wl,--as-needed -lhdf5_serial -Wl,--no-as-needed
BASEFLAGS := -std=c17 -g -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread -Icommon $(HDF5_CFLAGS)
CFLAGS  ?= -O2
SANFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# C++ is only the thin XrdCl shims (common/root/*.cc, extern "C" APIs); everything else is C.
CXXFLAGS_BASE := -std=c++17 -g -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread -Icommon \
           -isystem /usr/include/xrootd
LDLIBS  := -lz -llz4 -lzstd -llzma -lxxhash -ljansson -lcrypto -lssl -lcurl -lhiredis -lrabbitmq \
           -lopenblas -lmicrohttpd -lXrdCl $(HDF5_LIBS) -lstdc++ -lm -lpthread

LIB_SRC   := $(wildcard common/*/*.c)
LIB_CXX   := $(wildcard common/*/*.cc)
PROG_SRC  := $(wildcard submit/mlhep_*.c worker/mlhep_*.c)
CLI_SRC   := $(filter-out $(PROG_SRC),$(wildcard submit/*.c worker/*.c))
TEST_SRC  := $(wildcard tests/unit/test_*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard bench/*.c)
# one .d file per output in build/dep/ (make reads them all below)
DEPFLAGS   = -MMD -MP -MF build/dep/$(subst /,_,$@).d
HDRS      := $(wildcard common/*/*.h)
$(shell mkdir -p build/dep)

LIB_OBJ      := $(LIB_SRC:common/%.c=build/obj/%.o) $(LIB_CXX:common/%.cc=build/obj/%.o)
LIB_ASAN_OBJ := $(LIB_SRC:common/%.c=build/asan/obj/%.o) $(LIB_CXX:common/%.cc=build/asan/obj/%.o)
CLI_OBJ      := $(CLI_SRC:%.c=build/cli/%.o)
CLI_ASAN_OBJ := $(CLI_SRC:%.c=build/asan/cli/%.o)
progname      = $(subst _,-,$(basename $(notdir $(1))))
PROGS        := $(foreach p,$(PROG_SRC),bin/$(call progname,$(p)))
PROGS_ASAN   := $(foreach p,$(PROG_SRC),build/asan/bin/$(call progname,$(p)))
TESTS        := $(TEST_SRC:tests/unit/%.c=build/asan/tests/%)
REPLAYS      := $(FUZZ_SRC:fuzz/fuzz_%.c=build/asan/fuzz/replay_%)
FUZZERS      := $(FUZZ_SRC:fuzz/fuzz_%.c=build/fuzz/fuzz_%)
BENCHES      := $(BENCH_SRC:bench/%.c=build/bench/%) build/bench/make_models

.PHONY: all deps test bench run fuzz clean check-build benches

benches: $(BENCHES)
.DEFAULT_GOAL := all

all: $(PROGS)

deps:
	@sh deploy/deps.sh

# An object whose .d file is missing (built by an older Makefile, or the file deleted)
# does not know its headers: the .d file is a prerequisite, and a missing one is
# "remade" by the empty rule below, so that object is compiled again.
.SECONDEXPANSION:
DEPFILE = build/dep/$$(subst /,_,$$@).d
OBJ_DEPFILES := $(foreach o,$(LIB_OBJ) $(LIB_ASAN_OBJ) $(CLI_OBJ) $(CLI_ASAN_OBJ),build/dep/$(subst /,_,$(o)).d)
$(OBJ_DEPFILES):

build/obj/%.o: common/%.c $(DEPFILE)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

build/asan/obj/%.o: common/%.c $(DEPFILE)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(DEPFLAGS) -c $< -o $@

build/obj/%.o: common/%.cc $(DEPFILE)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_BASE) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

build/asan/obj/%.o: common/%.cc $(DEPFILE)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_BASE) $(SANFLAGS) $(DEPFLAGS) -c $< -o $@

build/cli/%.o: %.c $(DEPFILE)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

build/asan/cli/%.o: %.c $(DEPFILE)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(DEPFLAGS) -c $< -o $@

build/libmlhep.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

build/asan/libmlhep.a: $(LIB_ASAN_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# program-side modules that are not a main (see the top of this file)
build/libmlhep-cli.a: $(CLI_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

build/asan/libmlhep-cli.a: $(CLI_ASAN_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

define prog_rules
bin/$(call progname,$(1)): $(1) build/libmlhep-cli.a build/libmlhep.a
	@mkdir -p bin
	$(CC) $(BASEFLAGS) $(CFLAGS) $$(DEPFLAGS) $(1) build/libmlhep-cli.a build/libmlhep.a $(LDLIBS) -o $$@
build/asan/bin/$(call progname,$(1)): $(1) build/asan/libmlhep-cli.a build/asan/libmlhep.a
	@mkdir -p build/asan/bin
	$(CC) $(BASEFLAGS) $(SANFLAGS) $$(DEPFLAGS) $(1) build/asan/libmlhep-cli.a build/asan/libmlhep.a $(LDLIBS) -o $$@
endef
$(foreach p,$(PROG_SRC),$(eval $(call prog_rules,$(p))))

build/asan/tests/%: tests/unit/%.c build/asan/libmlhep.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(DEPFLAGS) $< build/asan/libmlhep.a $(LDLIBS) -o $@

# Benchmark programs (bench/NAME.c -> build/bench/NAME), compiled and linked like the
# programs so that no bench script carries its own link line; built by check-build so
# they keep compiling. make_models is the unit test of predictions run as a program that
# writes the models the inference benchmarks load.
build/bench/%: bench/%.c build/libmlhep.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(DEPFLAGS) $< build/libmlhep.a $(LDLIBS) -o $@
build/bench/make_models: tests/unit/test_predict.c build/libmlhep.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(DEPFLAGS) $< build/libmlhep.a $(LDLIBS) -o $@

# A fuzz target is fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput. The replay build
# (gcc + sanitizers + fuzz/replay.c main) runs saved inputs in `make test`.
build/asan/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c build/asan/libmlhep.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(DEPFLAGS) -c $< -o $@.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) $@.o fuzz/replay.c build/asan/libmlhep.a $(LDLIBS) -o $@

# (the C++ shims are linked uninstrumented: gcc's and clang's sanitizer runtimes differ)
build/fuzz/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC) $(LIB_CXX:common/%.cc=build/obj/%.o) $(HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(filter-out -Werror,$(BASEFLAGS)) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $< $(LIB_SRC) \
	    $(LIB_CXX:common/%.cc=build/obj/%.o) $(LDLIBS) -o $@

check-build: $(PROGS) $(PROGS_ASAN) $(TESTS) $(REPLAYS) $(BENCHES)

test: deps
	$(MAKE) -j$$(nproc) check-build
	bash tests/run.sh

bench: deps
	@sh deploy/deps.sh deploy/packages.txt deploy/packages-bench.txt
	$(MAKE) -j$$(nproc) all
	bash bench/run.sh

run: deps
	$(MAKE) -j$$(nproc) all
	bash deploy/run-sample.sh

FUZZ_SECONDS ?= 60
fuzz: deps $(FUZZERS)
	bash fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build bin

# header dependencies written by the compiler (see DEPFLAGS)
-include $(wildcard build/dep/*.d)
