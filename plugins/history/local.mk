# plugins/history: see plugins/history/history.c
