# Hostile clients, churn, start-up faults and durability (docs/reliability.md),
# included from tests/integration/local.mk. Together about a minute and a half
# on 2 cores:
#   make check TESTS='tests/integration/test_hostile_handshake.py tests/integration/test_hostile_frames.py
#     tests/integration/test_hostile_json.py tests/integration/test_hostile_abuse.py
#     tests/integration/test_churn.py tests/integration/test_faults.py tests/integration/test_durability.py'
# test_durability.py (30 SIGKILLs, disk faults: ~30 s) mounts tmpfs, ext4 on a
# loop device and sets chattr +i as root; without root it skips those tests.
# test_hostile_util.py holds their shared helpers (and the crowd process); it is no test.
HOSTILE_TESTS = \
	tests/integration/test_hostile_handshake.py \
	tests/integration/test_hostile_frames.py \
	tests/integration/test_hostile_json.py \
	tests/integration/test_hostile_abuse.py \
	tests/integration/test_churn.py \
	tests/integration/test_faults.py \
	tests/integration/test_durability.py

TESTS += $(HOSTILE_TESTS)

TEST_HELPERS += tests/integration/test_hostile_util.py
