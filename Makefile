# «With Sense» — every target sets up what it needs, idempotently.
#   make report    the main job: data, models, every notebook executed into results/
#   make test      the whole suite: Go tests, then every notebook executed with cell checks
#   make notebook  Jupyter on notebooks/ with the GoNB kernel
#   make bench     Go benchmarks (encoders, training, search) with ratios to ONNX Runtime
SHELL := /bin/bash
export GOTOOLCHAIN := go1.27.3
export GOEXPERIMENT := simd
# The Go backend is the default; set GOMLX_BACKEND=xla:cpu (or xla:cuda) where XLA is installed.
export GOMLX_BACKEND ?= go
# Never download an XLA plugin: build without it unless the caller asks for it.
export GOTAGS ?= noxla
ROOT := $(CURDIR)
BIN := $(ROOT)/bin
export PATH := $(BIN):$(PATH)
# The GoNB kernel is registered for this checkout only (two clones never share one).
export JUPYTER_DATA_DIR := $(BIN)/jupyter
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Seconds a notebook cell may run before nbconvert gives up.
CELL_TIMEOUT ?= 1800

.PHONY: test-fuzz repro chromium all setup apt kernel data models models-onnx testgraphs nsfwjs-node test test-go test-notebooks test-browser report notebook bench clean

all: test

setup: apt kernel data models

# Debian packages: Jupyter and nbconvert run the notebooks headless.
apt:
	@if ! command -v jupyter-nbconvert >/dev/null || ! command -v jupyter-notebook >/dev/null || ! /usr/bin/python3 -c 'import PIL' 2>/dev/null; then \
		echo "installing Jupyter from Debian packages..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			jupyter-notebook jupyter-nbconvert python3-ipykernel python3-pil >/dev/null; \
	fi

# The command-line tool, GoNB and the tools GoNB calls, all at the versions pinned in go.mod.
$(BIN)/withsense: go.mod go.sum $(shell find cmd lib -name '*.go' -not -name '*_test.go')
	go build -tags $(GOTAGS) -o $(BIN)/withsense ./cmd/withsense

$(BIN)/gonb $(BIN)/goimports $(BIN)/gopls &: go.mod go.sum
	go build -o $(BIN)/ github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports golang.org/x/tools/gopls

# The GoNB Jupyter kernel, with this project's toolchain settings in its environment.
kernel: apt $(BIN)/gonb $(BIN)/goimports $(BIN)/gopls $(BIN)/withsense
	@$(BIN)/withsense kernel --check >/dev/null 2>&1 || { \
		$(BIN)/gonb --install --logtostderr=false >/dev/null && $(BIN)/withsense kernel; }

data: $(BIN)/withsense
	$(BIN)/withsense data

models: $(BIN)/withsense
	$(BIN)/withsense models

# The real ResNet50 and all-MiniLM-L6-v2 ONNX files: needs a machine with internet.
models-onnx: $(BIN)/withsense
	$(BIN)/withsense models -onnx

# Random-weight ResNet50, BERT (MiniLM's shape) and InceptionV3 graphs exported to ONNX with
# Debian's PyTorch: the parity tests run them with onnx-gomlx and with ONNX Runtime.
TESTGRAPHS := models/testgraphs/.exported
testgraphs: $(TESTGRAPHS)
$(TESTGRAPHS): lib/ortref/export_graphs.py
	@if ! /usr/bin/python3 -c 'import torch, torchvision, onnx' 2>/dev/null; then \
		echo "installing PyTorch and ONNX from Debian packages (for the test graphs)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			python3-torch python3-torchvision python3-onnx >/dev/null; \
	fi
	/usr/bin/python3 lib/ortref/export_graphs.py
	touch $@

# nsfwjs itself (TF.js, wasm backend) in Node: the reference the InceptionV3 port is tested against.
NSFWJS_NODE := models/nsfwjs-node/node_modules/.installed
nsfwjs-node: $(NSFWJS_NODE)
$(NSFWJS_NODE): | models
	mkdir -p models/nsfwjs-node && cd models/nsfwjs-node && echo '{"private": true}' > package.json && \
		npm install --silent --no-audit --no-fund --ignore-scripts @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 ../npm/nsfwjs-4.4.0.tgz
	touch $@

test: setup testgraphs nsfwjs-node chromium test-go test-fuzz test-notebooks test-browser repro

# Short runs of the fuzz tests (Go's native fuzzing): the query path, photo decoding, the search API.
FUZZTIME ?= 10s
test-fuzz:
	go test -tags $(GOTAGS) -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime $(FUZZTIME) ./lib/search
	go test -tags $(GOTAGS) -run '^$$' -fuzz '^FuzzPhoto$$' -fuzztime $(FUZZTIME) ./lib/search
	go test -tags $(GOTAGS) -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME) ./lib/web

# The study trained twice on a small configuration from empty caches: metrics.json and the CSV
# files must come out byte for byte the same.
repro: data models
	WITH_SENSE_REPRO=1 go test -tags $(GOTAGS) -count=1 -timeout 30m -run '^TestReproducible$$' ./lib/study

# Debian's Chromium, for the tests that drive the search page (lib/web) and the notebooks headless.
chromium:
	@if ! command -v chromium >/dev/null; then \
		echo "installing Chromium from Debian packages (for the browser tests)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

# The parity tests fail (instead of skipping) when the test graphs are missing.
test-go: testgraphs
	go vet -tags $(GOTAGS) ./...
	WITH_SENSE_REQUIRE_TESTGRAPHS=1 WITH_SENSE_REQUIRE_BROWSER=1 go test -tags $(GOTAGS) -timeout 45m ./...

# The notebooks under test run a smaller configuration than the report (fewer encoder pairs,
# seeds and epochs: lib/settings) and train into their own folder, so `make test` stays short and
# never replaces the models `make report` trained for the search.
TEST_SET ?= study.seeds=2; study.two_tower_seeds=2; mlp.max_epochs=40; twotower.epochs=10; study.texts=["glove-mean","use"]; study.images=["inception-mixed5","centernet-pool"]; study.two_tower_images=["inception-mixed5","inception-mixed5+centernet-pool"]
TEST_ENV = WITH_SENSE_SET='$(TEST_SET)' WITH_SENSE_TRAINED=$(ROOT)/data/cache/test-models WITH_SENSE_ROOT=$(ROOT)

# Executes every notebook headless into a scratch folder; a failed cell fails the target.
test-notebooks: kernel
	$(TEST_ENV) $(BIN)/withsense notebook -check -timeout $(CELL_TIMEOUT) $(NOTEBOOKS)

# Live Jupyter (started as `make notebook` starts it) and the exported reports in headless Chromium:
# every photo loads, flagged photos are blurred, the interactive search answers a typed query, no
# report names a machine path. After test-notebooks, so the caches are warm.
test-browser: kernel chromium
	WITH_SENSE_BROWSER=1 $(TEST_ENV) go test -tags $(GOTAGS) -count=1 -timeout 60m -v -run '^TestBrowser' ./cmd/withsense

# Settings for one run (lib/settings), e.g. make report SET="study.seeds=3;mlp.max_epochs=50".
# A notebook whose report is up to date is not executed again unless FORCE=1.
SET ?=
FORCE ?=
report: setup
	WITH_SENSE_SET="$(SET)" WITH_SENSE_ROOT=$(ROOT) $(BIN)/withsense notebook $(if $(FORCE),-force) -timeout $(CELL_TIMEOUT) -out $(ROOT)/results $(NOTEBOOKS)

# Extra arguments for Jupyter, e.g. JUPYTER_ARGS="--ip=0.0.0.0 --no-browser" in a container.
JUPYTER_ARGS ?=
# Jupyter is served from the project root (so the galleries' ../data/... photos load) and opens notebooks/.
notebook: setup
	$(BIN)/withsense jupyter $(JUPYTER_ARGS)

# Speeds are reported with their reference measured in the same run (gomlx/ort ratios);
# training benchmarks run once each. BenchmarkSearch needs the models `make report` trains.
bench: setup testgraphs nsfwjs-node
	go test -tags $(GOTAGS) -run '^$$' -benchtime 3x \
		-bench 'Inception|ResNet50|MiniLM|USE|CenterNet|Depthwise|ORT|Glove|Tokenizer|Kendall|Search|Hubness|ServeLoad' ./lib/...
	go test -tags $(GOTAGS) -run '^$$' -benchtime 1x \
		-bench 'MLPFit|MLPEnsembleFit|RidgeFit|TwoTowerTrain|OutOfFold' ./lib/regress ./lib/retrieval

clean:
	rm -rf $(BIN) data/cache
