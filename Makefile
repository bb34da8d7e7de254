# RaftKV -- the two commands of the README, and their parts.
#
#   make run    install what is missing, build, start a local 3-node cluster in the foreground
#   make run-single   the same for one node on port 6379
#   make test   install what is missing, build with ASan+UBSan, run every test
#   make package      build the Debian package (build/release/raftkv-server_*.deb)
#
# Installing needs root (or sudo) and Debian's package archive.

DEPS := cmake make pkg-config gcc clang libclang-rt-14-dev clang-format cppcheck \
        libevent-dev liblmdb-dev libhiredis-dev libcmocka-dev libssl-dev \
        redis-server redis-tools python3-pytest python3-redis iptables faketime \
        libfuse3-dev fuse3 prometheus-redis-exporter liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
JOBS ?= 2
BUILD_RELEASE := build/release
BUILD_TEST := build/asan
# Arguments for `make run`, e.g. make run ARGS="--port 7000"
ARGS ?=
PORT ?= 6379

.PHONY: all deps build build-test run run-single test package clean

all: build

deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_RELEASE) -DCMAKE_BUILD_TYPE=Release -DRAFTKV_TESTS=OFF >/dev/null
	cmake --build $(BUILD_RELEASE) -j$(JOBS) --target raftkv-server raftkv-rdb

build-test: deps
	cmake -S . -B $(BUILD_TEST) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DRAFTKV_SANITIZE=ON -DRAFTKV_FUZZ=ON -DRAFTKV_WERROR=ON >/dev/null
	cmake --build $(BUILD_TEST) -j$(JOBS)

run: build
	exec server/run-cluster $(BUILD_RELEASE)/server/raftkv-server $(ARGS)

run-single: build
	@mkdir -p data
	@echo "RaftKV on port $(PORT), data in ./data. Connect with: redis-cli -p $(PORT)   (Ctrl-C stops it)"
	exec $(BUILD_RELEASE)/server/raftkv-server --port $(PORT) --dir ./data $(ARGS)

package: build
	cd $(BUILD_RELEASE) && cpack -G DEB
	@echo "Install it with: sudo apt install ./$$(ls -t $(BUILD_RELEASE)/raftkv-server_*.deb | head -1)"

test: build-test
	cd $(BUILD_TEST) && ctest -j$(JOBS) --output-on-failure --timeout 900

clean:
	rm -rf build
