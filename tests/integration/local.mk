# Integration tests: a real chatd on a free port, driven over raw sockets
# (tests/integration/*.py, /usr/bin/python3, standard library only). How to register
# one: see the top of tests/local.mk (TESTS += FILE is all; it ships by itself).
# One file:  make check TESTS='tests/integration/test_protocol.py'
# Alone:     /usr/bin/python3 tests/integration/test_protocol.py
TESTS += \
	tests/integration/test_protocol.py \
	tests/integration/test_errors.py \
	tests/integration/test_seed_client.py \
	tests/integration/test_seed_page.py \
	tests/integration/test_many.py \
	tests/integration/test_slow_consumer.py \
	tests/integration/test_signals.py \
	tests/integration/test_cli.py \
	tests/integration/test_fd_limit.py \
	tests/integration/test_sdk.py \
	tests/integration/test_install.py \
	tests/integration/test_build.py \
	tests/integration/test_refusals.py \
	tests/integration/test_refusals_node.py \
	tests/integration/test_rooms.py \
	tests/integration/test_proxy.py \
	tests/integration/test_sdk_request.py \
	tests/integration/test_sdk_services.py \
	tests/integration/test_examples.py \
	tests/integration/test_startup.py \
	tests/integration/test_people.py \
	tests/integration/test_personal.py

# The plugins' integration tests are registered in plugins/<name>/local.mk.

TEST_HELPERS += tests/integration/wsclient.py tests/integration/chatdtest.py \
	tests/clients/package.json tests/clients/package-lock.json tests/clients/refusal.mjs

include tests/integration/hostile.mk
