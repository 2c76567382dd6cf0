# Two commands matter (README.md): `make run` and `make test`. The rest are their steps.
SHELL := /bin/bash
VENV := .venv
LAWLINE := $(VENV)/bin/lawline
STAMP := $(VENV)/.bootstrapped
RASA_STAMP := .venv-rasa/.bootstrapped
MP_STAMP := miniprogram/node_modules/.installed

.PHONY: run test setup packages miniprogram-packages corpus index danger lint typecheck postgres clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $(STAMP)

$(RASA_STAMP): scripts/bootstrap-rasa.sh
	scripts/bootstrap-rasa.sh
	touch $(RASA_STAMP)

setup: $(STAMP) $(RASA_STAMP)

# The Debian packages the tests need (Chromium, iproute2, PostgreSQL, Redis), with one apt-get update.
packages:
	@scripts/debian-packages.sh

# The mini-program client's test tools (miniprogram/package-lock.json: miniprogram-simulate, jsdom), from the registry.
$(MP_STAMP): miniprogram/package.json miniprogram/package-lock.json
	@mkdir -p var && cd miniprogram && npm ci --no-audit --no-fund --loglevel=error > ../var/npm-ci.log 2>&1 \
		|| { cat ../var/npm-ci.log; exit 1; }
	@touch $(MP_STAMP)

miniprogram-packages: $(MP_STAMP)

corpus: setup
	$(LAWLINE) corpus import

index: corpus
	$(LAWLINE) index build

# The danger classifier (handoff/data/danger): trained when its examples or the encoder changed.
danger: setup
	$(LAWLINE) danger train

## make run: on a fresh machine, build both virtualenvs, import the corpus, build the index, train the danger
## model and Rasa when their data changed, and serve (web chat at http://127.0.0.1:8000/chat; /wechat when
## LAWLINE_WECHAT_* is set).
run: index danger
	$(LAWLINE) serve

## make test: everything make run sets up, a PostgreSQL server on loopback, then every test.
# The two virtualenvs, the Debian packages and the mini-program's npm packages install side by side; the tests'
# models (tests/model_cache.py) start training in the background as soon as their virtualenv is there; the
# mini-program's tests (node --test, seconds) run before pytest; the type check runs beside pytest (whose later
# tests mostly wait on servers), and either failing fails the target.
# Two workers, a module each at a time (module fixtures start one app per module): most tests wait on servers.
PYTEST_WORKERS ?= -n 2 --dist loadfile
test:
	@$(MAKE) --no-print-directory -j4 setup packages test-models miniprogram-packages
	$(VENV)/bin/ruff check bot corpus retrieval nlu handoff channels tests
	cd miniprogram && node --test --test-reporter=spec test/*.test.js
	@scripts/chromium.sh >/dev/null
	@scripts/netns.sh install
	@pg_url=$$(scripts/postgres.sh start) && redis_url=$$(scripts/redis.sh start) && \
	{ $(VENV)/bin/mypy > var/mypy.log 2>&1 & checks=$$!; } && \
	LAWLINE_TEST_POSTGRES_URL=$$pg_url LAWLINE_TEST_REDIS_URL=$$redis_url $(VENV)/bin/python -m pytest $(PYTEST_WORKERS); tests=$$?; \
	wait $$checks; typed=$$?; echo "mypy:"; cat var/mypy.log; [ $$tests -eq 0 ] && [ $$typed -eq 0 ]

# Background training of the tests' models, each as soon as its virtualenv is there (make test).
.PHONY: test-models test-model-danger test-model-rasa
test-models: test-model-danger test-model-rasa
test-model-danger: $(STAMP)
	@mkdir -p var && ($(VENV)/bin/python -m tests.model_cache danger index > var/test-model-danger.log 2>&1 &)
test-model-rasa: $(STAMP) $(RASA_STAMP)
	@mkdir -p var && ($(VENV)/bin/python -m tests.model_cache rasa > var/test-model-rasa.log 2>&1 &)

lint: setup
	$(VENV)/bin/ruff check bot corpus retrieval nlu handoff channels tests

typecheck: setup
	$(VENV)/bin/mypy

postgres:
	scripts/postgres.sh start

clean:
	scripts/postgres.sh stop
	scripts/redis.sh stop
	rm -rf var
