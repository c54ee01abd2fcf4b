# The two commands of the README, and the build they share.
#   make demo   install what is missing, build, run the main job on real text
#   make test   install what is missing, build, run every test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
NCCL_BUILD_DIR ?= build-nccl
# Where the NCCL check looks for nccl.h (the CUDA 13 toolkit ships it).
CUDA_HOME ?= /usr/local/cuda

.PHONY: all bootstrap configure build test demo clean nccl-check format

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: bootstrap
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory nccl-check
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 1200

# The NCCL communicator compiles only with -DHMT_WITH_NCCL=ON. CI has the CUDA
# toolkit with NCCL but a CPU LibTorch and no GPU, so this compiles just the
# NCCL translation units (no link, no tests) in a second build directory
# (without unity batches: the objects are named per source file).
NCCL_OBJECTS = CMakeFiles/hmtlib.dir/trainer/dist/nccl_communicator.cpp.o \
               CMakeFiles/hmtlib.dir/trainer/dist/communicator.cpp.o
nccl-check:
	@if [ ! -f "$(CUDA_HOME)/include/nccl.h" ] || [ ! -f "$(CUDA_HOME)/include/cuda_runtime_api.h" ]; then \
	  echo "nccl-check: SKIPPED: no CUDA toolkit with NCCL at CUDA_HOME=$(CUDA_HOME) (nccl.h, cuda_runtime_api.h)"; \
	else \
	  echo "nccl-check: compiling the NCCL communicator against $(CUDA_HOME)/include/nccl.h"; \
	  mkdir -p $(NCCL_BUILD_DIR); \
	  cmake -S . -B $(NCCL_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DHMT_BUILD_TESTS=OFF -DHMT_UNITY_BUILD=OFF \
	    -DHMT_WITH_NCCL=ON -DCUDAToolkit_ROOT=$(CUDA_HOME) $(CMAKE_FLAGS) > $(NCCL_BUILD_DIR)/configure.log 2>&1 \
	    || { cat $(NCCL_BUILD_DIR)/configure.log; echo "nccl-check: FAILED to configure"; exit 1; }; \
	  cmake --build $(NCCL_BUILD_DIR) -j $(JOBS) --target $(NCCL_OBJECTS) \
	    && echo "nccl-check: OK" || { echo "nccl-check: FAILED to compile"; exit 1; }; \
	fi

# The demo needs only the executable (not the test binary): a shorter first build.
demo: bootstrap
	@$(MAKE) --no-print-directory configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target hmt
	bash scripts/demo.sh

clean:
	rm -rf $(BUILD_DIR) $(NCCL_BUILD_DIR)

# The style of .clang-format over every C++ file git knows.
format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i
