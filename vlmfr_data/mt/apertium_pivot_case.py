"""Streaming filter between two Apertium stages: lower-case the initial letter of the lines a mask marks.

Apertium capitalises the start of every sentence it writes. In a pivot chain the next stage then reads
"red" -> "Rojo" as a proper noun and leaves it untranslated ("Rojo" instead of "Rouge"). The caller
writes a mask file (one "1"/"0" per line of the stage's output: "1" where the English source starts
lower case) and puts `python -I apertium_pivot_case.py MASK` between the stages, so the pipe keeps
streaming (both stages still run at once). Standalone on purpose: `-I` start-up imports nothing else.
"""

import re
import sys

_INITIAL = re.compile(r"^([¿¡\"'«(\[]*)(\w)")


def _lower_initial(line: str) -> str:
    return _INITIAL.sub(lambda m: m.group(1) + m.group(2).lower(), line, count=1)


def main(mask_path: str) -> None:
    with open(mask_path, encoding="utf-8") as mask_file:
        mask = mask_file.read().split()
    out = sys.stdout
    for index, line in enumerate(sys.stdin):
        out.write(_lower_initial(line) if index < len(mask) and mask[index] == "1" else line)
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
