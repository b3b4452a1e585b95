# podctl firmware: runs unchanged on the board (MicroPython, rp2), the
# MicroPython unix port and CPython. Imports protocol/, never host/ or sim/.
# Nothing here touches hardware at import time.

# Reported by IDENTIFY as major << 16 | minor << 8 | patch.
VERSION = (0, 1, 0)
