# hostile/churn/fault tests: written in tests/integration/hostile.mk
