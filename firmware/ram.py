# The board's big buffers, made before the rest of the firmware is imported.
#
# Importing leaves the heap in small pieces (dictionaries that grew and were
# copied, the loader's scratch). A KiB-sized buffer made after that must
# find a free run that long, and in a 64 KiB heap there was none: made
# first, the four sit together at the bottom of the heap. On the board,
# /main.py (written by podctl flash) calls reserve() before it imports
# firmware.main; Pod.boot() takes them from here. Without reserve() (the
# simulator, the tests, the host's own use of the classes) every object
# makes its own buffer, as before. One Pod at a time uses them.
from firmware.recorder import EVENT_BLOCK
from protocol import block, frame

RX = None  # the link's incoming frame (frame.Deframer)
TX = None  # the link's reply frame (frame.Encoder)
BLOCK = None  # the open sample block (block.BlockWriter)
EVENTS = None  # the event block (block.BlockWriter)


def reserve():
    global RX, TX, BLOCK, EVENTS
    if RX is None:
        RX = bytearray(frame.MAX_WIRE)
        TX = bytearray(frame.ENCODER_BYTES)
        BLOCK = bytearray(block.BLOCK_MAX)
        EVENTS = bytearray(EVENT_BLOCK)
