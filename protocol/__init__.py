# podctl protocol: the bytes on the USB link and on flash, defined once.
# Runs unchanged on MicroPython (board and unix port) and CPython; imports
# nothing of ours. See SPEC.md beside this file.
