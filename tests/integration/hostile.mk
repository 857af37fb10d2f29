# Hostile clients, churn and start-up faults (docs/reliability.md), included
# from tests/integration/local.mk. Together about a minute on 2 cores:
#   make check TESTS='tests/integration/test_hostile_handshake.py tests/integration/test_hostile_frames.py
#     tests/integration/test_hostile_json.py tests/integration/test_hostile_abuse.py
#     tests/integration/test_churn.py tests/integration/test_faults.py'
# test_hostile_util.py holds their shared helpers (and the crowd process); it is no test.
HOSTILE_TESTS = \
	tests/integration/test_hostile_handshake.py \
	tests/integration/test_hostile_frames.py \
	tests/integration/test_hostile_json.py \
	tests/integration/test_hostile_abuse.py \
	tests/integration/test_churn.py \
	tests/integration/test_faults.py

TESTS += $(HOSTILE_TESTS)

EXTRA_DIST += $(HOSTILE_TESTS) tests/integration/test_hostile_util.py
