# plugins/typing: see plugins/typing/typing.c
