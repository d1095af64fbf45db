# The README's two commands: `make demo` and `make test`. Each installs what it needs first.
.PHONY: setup build demo test unit integration bench clean

setup:
	@scripts/setup.sh

build:
	@npm run --silent build

demo: setup
	@scripts/demo.sh

# Two test files at a time, each in its own process: most of a test's time is waiting on a real mount, nbdkit or a
# timer, so two make the suite take ~9 minutes instead of 13 on 2 cores. Tests use their own directories, devices,
# ports and processes, so files never meet.
MOCHA := npx mocha --exit --parallel --jobs 2

test: setup
	@$(MOCHA) 'dist/test/unit/**/*.test.js' 'dist/test/integration/**/*.test.js'

unit: setup
	@$(MOCHA) 'dist/test/unit/**/*.test.js'

integration: setup
	@$(MOCHA) 'dist/test/integration/**/*.test.js'

bench: setup
	@for b in bench/*.sh; do "$$b"; done

clean:
	rm -rf dist
