# The reference board (Raspberry Pi Pico, RP2040, docs/reference-board.md)
# at register level, for the MicroPython unix port: a `machine` module whose
# Pin, ADC, PWM, I2C and WDT behave as the rp2 port's do, the chips behind
# them (BME280, LIS3DH, the probes' NTC dividers through a CD74HC4051 mux,
# the battery divider), and a harness that owns the board's clock.
#
#   board.py     the board: clock, watchdog, resets, pins, ADC inputs, PWM
#                outputs, the I2C bus; the harness API (set what the chips
#                sense, read what the firmware drives, advance time)
#   machine.py   the `machine` module the firmware imports (put sim/rp2board/
#                first on MICROPYPATH, or board.install())
#   time.py      a `time` module on the board's clock (MicroPython only; on
#                CPython the built-in time always wins)
#   bme280.py    Bosch BME280 at 0x76: registers, modes, compensation inverse
#   lis3dh.py    ST LIS3DH at 0x18: registers, ranges, the 32-level FIFO,
#                both interrupt generators (IG1, IG2)
#   couple.py    the simulator's plant and environment onto the board
#
# Every module runs on CPython and MicroPython. Inside the package imports
# are absolute (sim.rp2board.x), so the board's state is one module however
# `machine` was found.
