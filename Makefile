# One-word commands. `make test` and `make demo` work on a fresh machine: they build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
# checkov pins an old boto3, so it lives in a venv of its own.
CHECKOV_VERSION := 3.3.30
# mutmut 2 mutates class bodies too (the policy's pydantic bounds); 3.x mutates function bodies only.
MUTATION_VENV := .venv-mutation
MUTMUT_VERSION := 2.5.1

.PHONY: install demo test lint typecheck unit cfn-lint checkov docs browser sdk-compat live-test mutation lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The versions the Lambda package carries (its lock, org_bootstrap/deploy/lambda-requirements.txt), as
# constraints on every venv that runs the remediator's tests, so that what is tested is what is packaged.
# The AWS SDK is left out: the command line runs with the operator's, and `make sdk-compat` tests the
# Lambda's (lambda-sdk.txt).
LAMBDA_LOCK := org_bootstrap/deploy/lambda-requirements.txt
SDK_PINS := org_bootstrap/deploy/lambda-sdk.txt
LAMBDA_CONSTRAINTS := build/lambda-constraints.txt

$(LAMBDA_CONSTRAINTS): $(LAMBDA_LOCK) $(SDK_PINS)
	mkdir -p build
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' $(LAMBDA_LOCK) \
		| grep -v -i -E "^($$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' $(SDK_PINS) | paste -sd'|' -))==" > $@

# The full toolchain (tests, linters, type checker); it includes the demo's extra.
$(VENV)/.installed: pyproject.toml $(LAMBDA_CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LAMBDA_CONSTRAINTS) -e '.[dev]'
	touch $@ $(VENV)/.installed-demo

# The demo alone: the command line, moto and freezegun (benchmarks/demo_fresh_clone.py times it).
$(VENV)/.installed-demo: pyproject.toml $(LAMBDA_CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LAMBDA_CONSTRAINTS) -e '.[demo]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	$(BIN)/akr demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layers of org_bootstrap and the pure core: [tool.importlinter] in pyproject.toml

typecheck: install
	$(BIN)/mypy

cfn-lint: install
	$(BIN)/cfn-lint stacksets/*.yaml

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d stacksets
	@# checkov evaluates Conditions with parameter defaults only: scan copies with every option switched on.
	rm -rf build/checkov-variants
	$(CHECKOV_VENV)/bin/python tests/stacksets/variants.py stacksets build/checkov-variants
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d build/checkov-variants

# parliament on every policy document of the templates (also part of `make unit`).
iam-lint: install
	$(BIN)/pytest -q tests/stacksets/test_policy_lint.py

# docs/cli.md is generated from the commands' help; tests/unit/test_cli_docs.py fails when it drifts.
docs: install
	$(BIN)/typer org_bootstrap.commands.app utils docs --name akr --output docs/cli.md

# Debian's chromium for the render test of `akr report --html` (tests/browser); without it that test skips.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 \
			&& apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then :; \
		else echo "make browser: chromium could not be installed with apt-get: the report render test will skip"; fi; \
	fi

unit: install browser
	$(BIN)/pytest -n auto tests

# The remediator's tests with the AWS SDK the Lambda package carries (org_bootstrap/deploy/lambda-sdk.txt,
# the one place it is pinned), in a venv of its own, on the runtime's Python 3.12 when this machine has
# it: a call or a field that SDK lacks fails here, not in an organization. Left out: the command line's
# own tests (it runs with the operator's SDK), the package build, and the pure property tests. cfn-lint
# is there for the tests that read the templates through its YAML loader.
SDK_VENV := .venv-sdk
LAMBDA_PYTHON ?= $(shell python3.12 -c '' >/dev/null 2>&1 && echo python3.12 || echo $(PYTHON))
SDK_TESTS := tests/unit tests/functional tests/integration \
	--ignore=tests/unit/test_decision_properties.py --ignore=tests/integration/test_lambda_zip.py \
	--ignore=tests/integration/test_stackset_calls.py --ignore=tests/integration/test_scan_sessions.py \
	--ignore=tests/integration/test_standins.py --ignore=tests/integration/test_organization_reads.py \
	--ignore=tests/unit/test_bucket_policy.py

$(SDK_VENV)/.installed: pyproject.toml $(SDK_PINS) $(LAMBDA_CONSTRAINTS)
	rm -rf $(SDK_VENV)
	$(LAMBDA_PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet --upgrade pip
	$(SDK_VENV)/bin/pip install --quiet -c $(SDK_PINS) -c $(LAMBDA_CONSTRAINTS) -e '.[demo]' pytest pytest-xdist \
		hypothesis 'cfn-lint>=1.20'
	touch $@

sdk-compat: $(SDK_VENV)/.installed
	$(SDK_VENV)/bin/python -c 'import boto3, botocore, sys; print("sdk-compat: Python", sys.version.split()[0], "boto3", boto3.__version__, "botocore", botocore.__version__)'
	$(SDK_VENV)/bin/pytest -n auto -q -p no:cacheprovider $(SDK_TESTS)

# The Lambda package's dependencies, hash-locked: org_bootstrap/deploy/lambda-requirements.txt names every
# file's SHA-256 (all platforms) for the pins lambda_zip.runtime_requirements computes (lambda-sdk.txt and
# the versions installed here), and the package is installed from it with pip --require-hashes. Run it after
# a dependency or lambda-sdk.txt changes (the package build says when). uv, from PyPI, in a venv of its own.
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.10

$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet 'uv==$(UV_VERSION)'
	touch $@

lock: install $(LOCK_VENV)/.installed
	mkdir -p build
	$(BIN)/python -c 'from org_bootstrap.deploy.lambda_zip import runtime_requirements as r; print(*r(), sep="\n")' \
		> build/lambda-requirements.in
	$(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --no-deps --no-annotate \
		--custom-compile-command 'make lock' --python-version 3.12 --python-platform aarch64-manylinux2014 \
		build/lambda-requirements.in -o $(LAMBDA_LOCK)

test: lint typecheck cfn-lint checkov unit sdk-compat

# Against a real sandbox organization, opt-in: deploys, forces a Config evaluation, reads the audit log,
# scans, checks status, destroys. Needs AKR_LIVE_* and credentials (docs/live-testing.md); skips without.
live-test: install
	$(BIN)/pytest -m live -v -rs tests/live

$(MUTATION_VENV)/.installed:
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	touch $@

# Mutation testing of the six pure modules (tests/mutation.py, docs/reliability.md); not part of `make test`.
# MUTATION_JOBS modules run side by side; name some with MUTATION_MODULES=remediator/policy.py.
MUTATION_JOBS ?= 2
mutation: install $(MUTATION_VENV)/.installed
	$(BIN)/python tests/mutation.py --mutmut $(MUTATION_VENV)/bin/mutmut --jobs $(MUTATION_JOBS) $(MUTATION_MODULES)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(SDK_VENV) $(MUTATION_VENV) $(LOCK_VENV) .mypy_cache .pytest_cache .ruff_cache
