# plugins/ratelimit: see plugins/ratelimit/ratelimit.c
