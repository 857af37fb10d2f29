# plugins/origin: see plugins/origin/origin.c
