# The README's two commands: `make demo` and `make test`. Each installs what it needs first.
.PHONY: setup build demo test unit integration bench clean

setup:
	@scripts/setup.sh

build:
	@npm run --silent build

demo: setup
	@scripts/demo.sh

test: setup
	@npx mocha --exit 'dist/test/unit/**/*.test.js' 'dist/test/integration/**/*.test.js'

unit: setup
	@npx mocha --exit 'dist/test/unit/**/*.test.js'

integration: setup
	@npx mocha --exit 'dist/test/integration/**/*.test.js'

bench: setup
	@for b in bench/*.sh; do "$$b"; done

clean:
	rm -rf dist
